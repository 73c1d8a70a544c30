"""A field day, through real processes: a field terminal's own edge (SQLite, field mode) and
the central simulator (the province), a village trip prepared online, then a day offline with
two power cuts, then the link returns and everything syncs.

    python -m benchmarks.field_day [--certifications 300] [--seed N]

1. Set-up (online): the central simulator (data directory: it survives kill -9) with the
   field terminal's device key registered; `--certifications` pensioners of one county get the
   enrolment template of photo A and are made due. The staff member is provisioned on the
   terminal (kioskctl's staff file) and logs in offline (kiosk/field). The trip is prepared:
   `POST /api/v1/field/trips {"village": <county>}` (roster + templates, sealed on the edge).
2. The link goes down (central in an outage). The evidence is made once per run, for real: the
   live persona (simulators/camera/personas) answers the liveness challenges of a LivenessCheck
   against the template the edge hands out offline (GET .../certification), as the kiosk does.
3. The day (shortened intervals: the 8 hours' villagers one after another, the kiosk's staff
   clock moved 8 h / N per villager): each villager identifies by card, or every third by ID
   number typed by staff (`POST /api/v1/field/sessions`), then `POST .../certifications` with
   the evidence and a record signed with the device key (common/signing.py), one
   Idempotency-Key each. Two power cuts at random villagers, at a random moment of their
   requests (mostly mid-judgement): kill -9 of the edge and the central simulator, both started
   again (central still in its outage), the staff member logs in again; a request whose answer
   was lost is sent again with the same key.
4. The link returns; the benchmark waits until the field edge's queue (`GET /api/v1/field/queue`)
   is empty, then checks central's records: one per certification (`duplicates`, `lost`), in the
   order the edge queued them, each signature valid against the device's public key.

Baseline, measured in the same run: `judge_ms` (one second judgement of the evidence in this
process, what bounds the edge's rate) beside `ms_per_certification` (the whole request).
Prints one JSON line: certified, synced, duplicates, lost, seconds, and the details.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common import signing
from common.clock import iso_utc, utc_now
from common.device_token import device_token
from simulators.stack import services
from simulators.stack.supervisor import ManagedProcess, Supervisor

HALL_SECRET = secrets.token_urlsafe(24)
DEVICE = "field-01"
STAFF_ID = "S-0001"
STAFF_PIN = "24681357"
COUNTY = "110105"  # the simulator's first region; a 6-digit prefix takes all its villages
LOCATION = "北京市朝阳区 村委会"
DAY_S = 8 * 3600.0
RELAY_ENV = {"EDGE_OUTBOX_BACKOFF_INITIAL_S": "0.2", "EDGE_OUTBOX_BACKOFF_MAX_S": "2",
             "EDGE_OUTBOX_LEASE_S": "15", "EDGE_OUTBOX_POLL_INTERVAL_S": "0.2",
             "EDGE_OUTBOX_SYNC_WAIT_S": "0"}
GENEROUS = {"EDGE_IDENTIFY_DEVICE_BURST": "100000", "EDGE_IDENTIFY_DEVICE_PER_S": "10000",
            "EDGE_IDENTIFY_HALL_BURST": "100000", "EDGE_IDENTIFY_HALL_PER_S": "10000"}
CALL_TIMEOUT_S = 60.0
ANSWER_DEADLINE_S = 180.0


@dataclass
class Villager:
    index: int
    citizen_id: str = field(repr=False)
    card: dict[str, Any] = field(repr=False)
    method: str  # card | id-number
    session_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    certify_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    session_id: str | None = None
    record: dict[str, Any] | None = field(default=None, repr=False)
    receipt_no: str | None = None
    status: int | None = None
    answer: dict[str, Any] | None = None
    lost_answers: int = 0  # requests of this villager cut by a power cut


def _wait(predicate: Any, what: str, timeout: float, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)  # pacing a poll (a benchmark's driver, not a test)


class Terminal:
    """The field kiosk's HTTP calls to its own edge; None when the answer was lost."""

    def __init__(self, url: str) -> None:
        token = device_token(HALL_SECRET, DEVICE, utc_now() + dt.timedelta(days=1))
        self._http = httpx.Client(base_url=url.rstrip("/") + "/api/v1", timeout=CALL_TIMEOUT_S,
                                  headers={"Authorization": f"Bearer {token}"})
        self.broken: BaseException | None = None  # a power cut's restart failed

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, json_body: Any = None,
             key: str | None = None) -> httpx.Response | None:
        headers = {"Idempotency-Key": key} if key else {}
        try:
            return self._http.request(method, path, json=json_body, headers=headers)
        except httpx.TransportError:
            return None

    def until_answered(self, method: str, path: str, *, json_body: Any = None,
                       key: str | None = None, on_lost: Any = None) -> httpx.Response:
        """The same request (same key) until the edge answers it for good."""
        deadline = time.monotonic() + ANSWER_DEADLINE_S
        pause = 0.05
        last = "no answer"
        while True:
            if self.broken is not None:
                raise RuntimeError(f"a power cut failed: {self.broken!r}")
            r = self.call(method, path, json_body=json_body, key=key)
            if r is not None:
                last = f"{r.status_code} {r.text[:200]}"
            if r is None and on_lost is not None:
                on_lost()
            elif r is not None and not (r.status_code >= 500 or (
                    r.status_code == 409 and _code(r) == "idempotency-key-in-flight")):
                return r
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer to {method} {path} in {ANSWER_DEADLINE_S:g}s: "
                                   f"{last}")
            time.sleep(pause)  # a killed edge restarts; a key held by a dead request frees
            pause = min(pause * 2, 1.0)


def _code(r: httpx.Response) -> str | None:
    try:
        return str(r.json().get("code"))
    except ValueError:
        return None


# -- set-up ----------------------------------------------------------------------------------
def pick_villagers(central_url: str, count: int) -> list[Villager]:
    """`count` living pensioners of COUNTY with a normal card, bound to photo A and due."""
    found: list[Villager] = []
    with httpx.Client(base_url=central_url, timeout=60) as http:
        offset: int | None = 0
        while offset is not None and len(found) < count:
            page = http.get("/sim/v1/citizens", params={
                "offset": offset, "limit": 500, "receiving_pension": "true",
                "deceased": "false", "card_status": "normal"}).json()
            for c in page["items"]:
                if c["region"] == COUNTY and len(found) < count:
                    method = "id-number" if len(found) % 3 == 2 else "card"
                    card = {"citizen_id": c["citizen_id"], "name": c["name"],
                            "card_number": c["card"]["card_number"],
                            "card_id_code": c["card"]["card_id_code"],
                            "spec_version": c["spec_version"]}
                    found.append(Villager(int(c["index"]), c["citizen_id"], card, method))
            offset = page["next_offset"]
        if len(found) < count:
            raise RuntimeError(f"only {len(found)} pensioners in {COUNTY}; raise --population")
        ids = [v.citizen_id for v in found]
        for start in range(0, len(ids), 2000):
            r = http.post("/sim/v1/faces", json={"identity": "a", "make_due": True,
                                                 "citizen_ids": ids[start:start + 2000]})
            r.raise_for_status()
    return found


def make_evidence(template: list[float], seed: int) -> dict[str, Any]:
    """Real evidence, once: the live persona of photo A through a LivenessCheck against the
    template the edge handed out, kept only when the edge's second judgement (run here the
    same way) accepts it too, as a villager tries again until both do."""
    from drivers.camera.interface import Frame
    from drivers.face import (
        DlibFaceEngine,
        LivenessCheck,
        draw_challenges,
        evidence_from_json,
        evidence_to_json,
        judge_evidence,
    )
    from drivers.face.interface import FaceTemplate
    from simulators.camera.personas import make_persona

    engine = DlibFaceEngine()
    rng = random.Random(seed)
    reasons: list[str | None] = []
    for attempt in range(6):
        check = LivenessCheck(engine, FaceTemplate(tuple(template)), draw_challenges(rng, 3))
        persona = make_persona("live", identity="a", seed=seed + attempt)
        asked = None
        for n in range(15 * 60):  # at most a minute of 15 fps frames
            t = n / 15
            progress = check.feed(Frame(persona.frame(t, asked), n, t))
            asked = progress.current
            if check.done:
                break
        result = check.result()
        if not result.passed:
            reasons.append(result.reason)
            continue
        evidence = evidence_to_json(result.evidence)
        verdict = judge_evidence(engine, FaceTemplate(tuple(template)),
                                 evidence_from_json(evidence))
        if verdict.passed:
            return evidence
        reasons.append(f"judge:{verdict.reason}")
    raise RuntimeError(f"the live persona did not pass liveness and the judge: {reasons}")


def judge_ms(template: list[float], evidence: dict[str, Any], runs: int = 3) -> float:
    """The baseline: one second judgement of the evidence in this process."""
    from drivers.face import DlibFaceEngine, evidence_from_json, judge_evidence
    from drivers.face.interface import FaceTemplate

    engine = DlibFaceEngine()
    parsed = evidence_from_json(evidence)
    judge_evidence(engine, FaceTemplate(tuple(template)), parsed)  # models loaded
    began = time.perf_counter()
    for _ in range(runs):
        verdict = judge_evidence(engine, FaceTemplate(tuple(template)), parsed)
    assert verdict.passed, verdict.reason
    return (time.perf_counter() - began) * 1000 / runs


# -- the day ---------------------------------------------------------------------------------
class FieldDay:
    def __init__(self, workdir: Path, certifications: int, seed: int, population: int) -> None:
        self.workdir = workdir
        self.n = certifications
        self.seed = seed
        self.rng = random.Random(seed)
        self.population = population
        self.cuts: list[int] = []
        self._cut_thread: threading.Thread | None = None
        self.cut_at: list[int] = sorted(self.rng.sample(range(max(2, certifications // 10),
                                                              certifications), 2))
        self.lock = threading.Lock()

    def run(self) -> dict[str, Any]:
        began = time.monotonic()
        with Supervisor(self.workdir / "logs") as sup:
            self.sup = sup
            central = services.central_sim(population=self.population, data_dir=self.workdir
                                           / "central", extra_args=["--outage"],
                                           ready_timeout=120)
            self.central_proc = sup.start(central.spec)
            self.central_url = central.url
            self.sim = httpx.Client(base_url=central.url, timeout=60)
            self._faults(outage=False)  # online while preparing
            key_path = self.workdir / "terminal" / "signing-key.pem"
            key_path.parent.mkdir(parents=True, exist_ok=True)
            public = signing.generate_device_key(key_path)
            self.key = signing.load_device_key(key_path)
            self.public = public
            self.sim.post(f"/sim/v1/devices/{DEVICE}/key",
                          json={"public_key": public}).raise_for_status()
            villagers = pick_villagers(central.url, self.n)
            self.staff = self._staff()
            edge = services.edge(
                self.workdir / "edge", central_url=central.url, hall_secret=HALL_SECRET,
                # A trip's download is a bulk one, over the mobile link before leaving.
                extra_env={"EDGE_FIELD_MODE": "true", "EDGE_LOG_LEVEL": "WARNING",
                           "EDGE_CENTRAL_DEADLINE_S": "60", "EDGE_CENTRAL_TIMEOUT_S": "30",
                           "EDGE_SESSION_TTL_S": "3600", **RELAY_ENV, **GENEROUS})
            self.edge_db = self.workdir / "edge" / "edge.db"
            self.edge_proc = sup.start(edge.spec)
            self.terminal = Terminal(edge.url)
            trip = self.terminal.call("POST", "/field/trips", json_body={"village": COUNTY})
            assert trip is not None and trip.status_code == 201, trip and trip.text
            prepared = trip.json()
            self._faults(outage=True)  # the village: no link from here on
            setup_s = time.monotonic() - began

            template = self._template(villagers[0])
            evidence = make_evidence(template, self.seed)
            baseline_ms = judge_ms(template, evidence)
            evidence_sha = signing.evidence_sha256(evidence)
            liveness_version = str(evidence.get("version", "hrss-liveness-1"))

            day_began = time.monotonic()
            for n, villager in enumerate(villagers):
                self._staff_clock_step()
                if n in self.cut_at:
                    self._power_cut_during(n)
                self._serve(villager, evidence, evidence_sha, liveness_version)
            self._wait_for_cut()
            day_s = time.monotonic() - day_began
            queued = self._queue()

            sync_began = time.monotonic()
            self._faults(outage=False)  # the link returns
            _wait(lambda: self._queue()["waiting"] == 0, "the queue to sync", timeout=300,
                  every=0.2)
            sync_s = time.monotonic() - sync_began
            report = self._check(villagers, queued)
            self.terminal.close()
            self.sim.close()
        certified = [v for v in villagers if v.status == 201]
        return {
            "certified": len(certified),
            **report,
            "seconds": round(time.monotonic() - began, 1),
            "day_seconds": round(day_s, 1),
            "sync_seconds": round(sync_s, 2),
            "setup_seconds": round(setup_s, 1),
            "roster_entries": prepared["entries"],
            "power_cuts": len(self.cuts),
            "cut_requests": sum(v.lost_answers for v in villagers),
            "by_id_number": sum(v.method == "id-number" for v in certified),
            "queued_offline": queued["waiting"],
            "ms_per_certification": round(day_s * 1000 / max(1, len(villagers)), 1),
            "judge_ms": round(baseline_ms, 1),
            "seed": self.seed,
        }

    # -- pieces ------------------------------------------------------------------------------
    def _faults(self, **faults: Any) -> None:
        self.sim.put("/sim/v1/faults", json=faults).raise_for_status()

    def _staff(self) -> Any:
        """The staff file provisioned on the terminal; the staff member logs in offline."""
        from kiosk.field.credentials import StaffCredentials
        from kiosk.field.session import StaffSessions
        from provisioning import staff

        path = self.workdir / "terminal" / "staff.json"
        staff.add(path, STAFF_ID, STAFF_PIN, valid_days=2)
        self.staff_clock = 0.0
        sessions = StaffSessions(StaffCredentials(path, path.with_name("lockout.json")),
                                 monotonic=lambda: self.staff_clock)
        assert sessions.login(STAFF_ID, STAFF_PIN).ok
        return sessions

    def _staff_clock_step(self) -> None:
        # The day's intervals shortened: the staff clock moves 8 h / N per villager.
        self.staff_clock += DAY_S / self.n
        if self.staff.touch() is None:  # a power cut ended the kiosk process and its session
            assert self.staff.login(STAFF_ID, STAFF_PIN).ok

    def _template(self, villager: Villager) -> list[float]:
        """The template as the kiosk gets it: from the field edge, offline."""
        sid = self._open(villager)
        r = self.terminal.until_answered("GET", f"/sessions/{sid}/certification")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "due" and body["template"], body
        return list(body["template"])

    def _open(self, v: Villager) -> str:
        if v.session_id is None:
            body = ({"method": "card", "card": v.card} if v.method == "card"
                    else {"method": "id-number", "citizen_id": v.citizen_id})
            r = self.terminal.until_answered("POST", "/field/sessions", json_body=body,
                                             key=v.session_key, on_lost=lambda: self._lost(v))
            assert r.status_code == 201, r.text
            v.session_id = str(r.json()["session_id"])
        return v.session_id

    def _lost(self, v: Villager) -> None:
        v.lost_answers += 1

    def _serve(self, v: Villager, evidence: dict[str, Any], sha: str, version: str) -> None:
        sid = self._open(v)
        if v.record is None:
            session = self.staff.certified_one()
            if session is None:  # the power went while this villager was being served
                assert self.staff.login(STAFF_ID, STAFF_PIN).ok
                session = self.staff.certified_one()
            assert session is not None
            record: dict[str, Any] = {
                "citizen_id": v.citizen_id, "certified_at": iso_utc(utc_now()),
                "method": "field", "device_id": DEVICE, "location": LOCATION,
                "staff_id": session.staff_id, "evidence_sha256": sha, "result": "passed",
                "liveness_version": version,
            }
            record["signature"] = signing.sign(self.key, record)
            v.record = record
        r = self.terminal.until_answered(
            "POST", f"/sessions/{sid}/certifications",
            json_body={"evidence": evidence, "record": v.record}, key=v.certify_key,
            on_lost=lambda: self._lost(v))
        v.status = r.status_code
        v.answer = r.json()
        if r.status_code == 201:
            v.receipt_no = str(v.answer["receipt_no"])
        else:
            raise RuntimeError(f"certification of villager {v.index} refused: {r.text[:300]}")

    def _power_cut_during(self, n: int) -> None:
        """kill -9 of every process at a random moment of the next villager's requests."""
        delay = self.rng.uniform(0.05, 1.2)

        def cut() -> None:
            time.sleep(delay)  # a random moment into the villager's requests
            try:
                self.edge_proc.kill()
                self.central_proc.kill()
                self.cuts.append(n)
                self.central_proc = self._restart(self.central_proc)  # still in its outage
                self.edge_proc = self._restart(self.edge_proc)
                self.staff.logout()  # the kiosk process went down with the power
            except BaseException as exc:  # surfaced by the driver's next request
                self.terminal.broken = exc

        # One power cut at a time: a villager served before the cut's random moment would
        # otherwise let the next cut restart the same processes as this one.
        self._wait_for_cut()
        self._cut_thread = threading.Thread(target=cut, daemon=True)
        self._cut_thread.start()

    def _wait_for_cut(self) -> None:
        if self._cut_thread is not None:
            self._cut_thread.join(timeout=ANSWER_DEADLINE_S)
            if self._cut_thread.is_alive():
                raise RuntimeError("a power cut's restart did not finish")
            self._cut_thread = None

    def _restart(self, proc: ManagedProcess) -> ManagedProcess:
        return self.sup.restart(proc)

    def _queue(self) -> dict[str, Any]:
        r = self.terminal.until_answered("GET", "/field/queue")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def _check(self, villagers: list[Villager], queued: dict[str, Any]) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        while True:
            page = self.sim.get("/sim/v1/certifications",
                                params={"limit": 1000, "offset": len(rows)}).json()
            rows += page["items"]
            if len(rows) >= page["total"] or not page["items"]:
                break
        ours = {v.index: v for v in villagers if v.status == 201}
        seen = Counter(int(r["citizen_index"]) for r in rows)
        duplicates = sum(n - 1 for n in seen.values() if n > 1)
        lost = sum(1 for index in ours if seen[index] == 0)
        # The edge's queue order (outbox seq) of our receipts, against central's arrival order.
        with sqlite3.connect(self.edge_db) as db:
            queue_order = [r[0] for r in db.execute(
                "SELECT receipt_no FROM outbox_item WHERE kind = 'pension-certification' "
                "ORDER BY seq")]
        by_receipt = {v.receipt_no: v.index for v in ours.values()}
        edge_order = [by_receipt[no] for no in queue_order if no in by_receipt]
        central_order = [int(r["citizen_index"]) for r in rows]
        valid = 0
        for r in rows:
            v = ours.get(int(r["citizen_index"]))
            if v is None or v.record is None:
                continue
            # Central keeps the time as a datetime; the terminal signed its ISO UTC "Z" form.
            at = iso_utc(dt.datetime.fromisoformat(r["certified_at"].replace("Z", "+00:00")))
            payload = {**v.record, "certified_at": at, "method": r["method"],
                       "device_id": r["device_id"], "location": r["location"],
                       "staff_id": r["staff_id"], "evidence_sha256": r["evidence_sha256"]}
            payload.pop("signature", None)
            valid += signing.verify(self.public, payload, r["signature"])
        return {
            "synced": len(rows),
            "duplicates": duplicates,
            "lost": lost,
            "in_order": central_order == edge_order,
            "signatures_valid": valid,
            "unknown_records": sum(1 for index in seen if index not in ours),
        }


def field_day(certifications: int = 300, *, seed: int | None = None,
              population: int = 60_000, workdir: Path | None = None) -> dict[str, Any]:
    seed = random.randrange(1 << 30) if seed is None else seed
    if workdir is not None:
        return FieldDay(workdir, certifications, seed, population).run()
    tmp = Path(tempfile.mkdtemp(prefix="field-day-"))
    try:
        result = FieldDay(tmp, certifications, seed, population).run()
    except BaseException:
        print(f"field day failed (seed {seed}); logs kept in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certifications", type=int, default=300)
    parser.add_argument("--population", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    result = field_day(args.certifications, seed=args.seed, population=args.population)
    print(json.dumps(result, ensure_ascii=False))
    ok = (result["certified"] == result["synced"] >= args.certifications
          and result["duplicates"] == result["lost"] == 0 and result["in_order"]
          and result["signatures_valid"] == result["synced"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
