"""A hall for the outbox's survival tests and benchmark: the central simulator (its records in a
data directory, so it survives a kill -9) and an edge server, both real processes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from simulators.stack import services
from simulators.stack.supervisor import ManagedProcess, Supervisor
from tests.edge_server.support import HALL_SECRET, card_body
from tests.harness.submitting import CentralLedger, EdgeKiosk, Job, new_key
from tests.harness.waiting import wait_for

# Limits that would turn a burst of one test process into 429s: a hall of many kiosks.
GENEROUS_LIMITS = {
    "EDGE_IDENTIFY_DEVICE_BURST": "100000", "EDGE_IDENTIFY_DEVICE_PER_S": "10000",
    "EDGE_IDENTIFY_HALL_BURST": "100000", "EDGE_IDENTIFY_HALL_PER_S": "10000",
    "EDGE_PIN_DEVICE_BURST": "100000", "EDGE_PIN_DEVICE_PER_S": "10000",
    "EDGE_PIN_CITIZEN_BURST": "100", "EDGE_PIN_CITIZEN_PER_S": "100",
}
OPERATOR_KEY = "test-operator-key"


@dataclass
class Hall:
    sup: Supervisor
    workdir: Path
    central: services.HttpService
    central_proc: ManagedProcess
    edge: services.HttpService
    edge_proc: ManagedProcess
    ledger: CentralLedger
    _kiosks: dict[str, EdgeKiosk] = field(default_factory=dict)

    # -- processes -------------------------------------------------------------------------
    def kill_edge(self) -> None:
        """kill -9 of the edge, then the same edge (same database) started again."""
        self.edge_proc.kill()
        self.edge_proc = self.sup.restart(self.edge_proc)

    def kill_central(self, restart: bool = True) -> None:
        """kill -9 of the central simulator; restarted on the same data directory."""
        self.central_proc.kill()
        if restart:
            self.central_proc = self.sup.restart(self.central_proc)

    # -- the edge, as kiosks and as an operator would see it -------------------------------
    def kiosk(self, device: str = "kiosk-01") -> EdgeKiosk:
        if device not in self._kiosks:
            self._kiosks[device] = EdgeKiosk(self.edge.url, device)
        return self._kiosks[device]

    @property
    def kiosks(self) -> dict[str, EdgeKiosk]:
        return self._kiosks

    def health(self) -> dict[str, Any]:
        r = httpx.get(f"{self.edge.url}/api/v1/health", timeout=10)
        return dict(r.json())

    def outbox(self) -> dict[str, Any]:
        """The operators' view, counted when asked (/health answers the relay's last count)."""
        r = httpx.get(f"{self.edge.url}/api/v1/operator/outbox", timeout=10,
                      headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def outbox_depth(self) -> int:
        return int(self.outbox()["depth"])

    def wait_drained(self, timeout: float = 60.0) -> None:
        """Until the edge's outbox holds nothing still to send."""
        wait_for(lambda: self.outbox_depth() == 0, "the outbox to drain", timeout=timeout,
                 interval=0.1, diagnostics=lambda: repr(self.outbox()))

    def receipt(self, receipt_no: str, device: str = "kiosk-01") -> dict[str, Any]:
        r = self.kiosk(device).get(f"/submissions/{receipt_no}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def close(self) -> None:
        for kiosk in self._kiosks.values():
            kiosk.close()
        self.ledger.close()


@contextmanager
def hall(
    workdir: Path,
    *,
    population: int = 3000,
    edge_env: dict[str, str] | None = None,
    central_args: Sequence[str] = (),
    database_url: str | None = None,
    today: str | None = "2026-11-22",
) -> Iterator[Hall]:
    with Supervisor(workdir / "logs") as sup:
        central = services.central_sim(
            population=population, today=today, data_dir=workdir / "central",
            extra_args=central_args,
        )
        central_proc = sup.start(central.spec)
        edge = services.edge(
            workdir / "edge", central_url=central.url, hall_secret=HALL_SECRET,
            database_url=database_url,
            extra_env={**GENEROUS_LIMITS, "EDGE_LOG_LEVEL": "WARNING",
                       "EDGE_OPERATOR_API_KEY": OPERATOR_KEY, **(edge_env or {})},
        )
        edge_proc = sup.start(edge.spec)
        made = Hall(sup, workdir, central, central_proc, edge, edge_proc,
                    CentralLedger(central.url))
        try:
            yield made
        finally:
            made.close()


# -- who submits what ------------------------------------------------------------------------
SUBSIDIES = ("skill-upgrade", "job-seeking", "startup-once", "unemployment")


def living_citizens(ledger: CentralLedger, count: int, *, exclude: Set[int] = frozenset(),
                    **filters: str) -> list[dict[str, Any]]:
    """The first `count` living citizens with a normal card (and `filters`), by index."""
    out = []
    for citizen in ledger.citizens(card_status="normal", deceased="false", **filters):
        if int(citizen["index"]) not in exclude:
            out.append(citizen)
            if len(out) == count:
                return out
    raise AssertionError(f"fewer than {count} such citizens ({filters}); raise the population")


def applicants(ledger: CentralLedger, count: int) -> list[dict[str, Any]]:
    """Citizens the simulator says may claim some subsidy now, a share of each, by index."""
    found: dict[int, dict[str, Any]] = {}
    for code in SUBSIDIES:
        for citizen in ledger.citizens(card_status="normal", deceased="false", eligible_for=code):
            found.setdefault(int(citizen["index"]), citizen)
            if len(found) >= count * (SUBSIDIES.index(code) + 1) // len(SUBSIDIES):
                break
    return [found[i] for i in sorted(found)][:count]


def loss_report_jobs(ledger: CentralLedger, citizens: list[dict[str, Any]], devices: list[str]
                     ) -> list[Job]:
    """A loss report (ID number + service PIN) per citizen, spread over the devices."""
    with ThreadPoolExecutor(8) as pool:  # the PIN is in each citizen's detail, one per call
        pins = list(pool.map(lambda c: ledger.detail(int(c["index"]))["service_pin"], citizens))
    jobs = []
    for n, (citizen, pin) in enumerate(zip(citizens, pins, strict=True)):
        jobs.append(Job(
            label=("card-loss-report", str(citizen["index"])), device=devices[n % len(devices)],
            method="POST", path="/card-loss/reports",
            body={"citizen_id": citizen["citizen_id"], "pin": pin},
        ))
    return jobs


def form_for(item: dict[str, Any]) -> dict[str, str]:
    """Plausible answers to a subsidy's form fields (contracts.md 1.1)."""
    form = {}
    for f in item.get("form_fields") or []:
        form[f["name"]] = "13800138000" if f["kind"] == "phone" else "1" * min(
            4, int(f.get("max_length") or 4))
    return form


def application_job(kiosk: EdgeKiosk, citizen: dict[str, Any], *, subsidy: dict[str, Any] | None
                    = None) -> Job | None:
    """Opens the citizen's session on `kiosk` and prepares an application for a subsidy they
    are eligible for (the first, or `subsidy`) that passes the pre-check; None when there is
    none."""
    opened = kiosk.open_session(card_body(citizen))
    assert opened.status_code == 201, opened.text
    sid = opened.json()["session_id"]
    if subsidy is None:
        listed = kiosk.get(f"/sessions/{sid}/subsidies")
        assert listed.status_code == 200, listed.text
        subsidy = next((i for i in listed.json()["items"] if i["eligible"]), None)
        if subsidy is None:
            return None
    body = {"subsidy": subsidy["code"], "period": subsidy["period"], "form": form_for(subsidy)}
    checked = kiosk.request("POST", f"/sessions/{sid}/applications/precheck", json=body)
    assert checked.status_code == 200, checked.text
    if not checked.json()["ok"]:
        return None
    return Job(label=("subsidy-application", str(citizen["index"])),
               device=kiosk.device_id, method="POST", path=f"/sessions/{sid}/applications",
               body=body, key=new_key())
