"""Submitting through a real edge as kiosks do, and reading back what central recorded.

A kiosk sends each submission with one Idempotency-Key and, when it gets no answer (the edge was
killed, the connection was cut, the edge says "busy"), sends the same request with the same key
again until it gets one: the way to exactly-once that the edge contract promises.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from queue import Empty, Queue
from typing import Any

import httpx

from common.clock import Deadline
from tests.edge_server.support import HALL_SECRET, contract_token

# Answers after which the same request, sent again with the same key, may succeed: the key is
# still held by a request that died with its edge, or the edge is busy. A 429 is an answer.
RETRYABLE_STATUS = frozenset({409, 502, 503, 504})
RETRYABLE_CODES = frozenset({"idempotency-key-in-flight", "outbox-full", "central-unavailable",
                             "service-unavailable"})


def new_key() -> str:
    return str(uuid.uuid4())


@dataclass
class Job:
    """One submission a kiosk makes: what it sent, under which key, and what it got back."""

    # What identifies it among central's records: (kind, citizen's population index); each
    # citizen makes at most one submission of a kind in these tests.
    label: tuple[str, str]
    device: str
    method: str
    path: str
    body: dict[str, Any]
    key: str = field(default_factory=new_key)
    give_up_on_failure: bool = False  # a kiosk that loses its answer and walks away
    status: int | None = None
    answer: dict[str, Any] | None = None
    attempts: int = 0
    failures: int = 0  # attempts that got no answer (connection refused/reset, timeout)

    @property
    def receipt(self) -> dict[str, Any] | None:
        return self.answer if self.status == 201 else None

    @property
    def receipt_no(self) -> str | None:
        return None if self.receipt is None else str(self.receipt["receipt_no"])


def _retryable(response: httpx.Response) -> bool:
    if response.status_code >= 500:
        return True  # a 5xx is never stored by the edge: the retry runs again
    if response.status_code not in RETRYABLE_STATUS:
        return False
    try:
        code = response.json().get("code")
    except ValueError:
        return True
    return code in RETRYABLE_CODES


class EdgeKiosk:
    """HTTP as one terminal (its own device token) to one edge."""

    def __init__(self, base_url: str, device_id: str, hall_secret: str = HALL_SECRET,
                 timeout: float = 10.0) -> None:
        self.device_id = device_id
        self._auth = {"Authorization": f"Bearer {contract_token(device_id, hall_secret)}"}
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None, key: str | None = None,
                content: bytes | None = None, headers: dict[str, str] | None = None
                ) -> httpx.Response:
        sent = dict(self._auth)
        if key is not None:
            sent["Idempotency-Key"] = key
        sent.update(headers or {})
        return self._http.request(method, path, json=json, content=content, headers=sent)

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def open_session(self, card_body: dict[str, Any], key: str | None = None) -> httpx.Response:
        return self.request("POST", "/sessions", json=card_body, key=key or new_key())

    def run(self, job: Job, stop: threading.Event, *, deadline_s: float = 90.0,
            pause_s: float = 0.05, defer_in_flight: bool = False) -> bool:
        """Send `job` until the edge answers it for good (or, for a kiosk that gives up, until
        its first failure); True when done. With `defer_in_flight`, a key still held by a
        request that died with its edge (409 idempotency-key-in-flight, until the edge deems it
        abandoned) returns False at once, so the caller can run other kiosks' jobs meanwhile.
        `stop` ends the retries early."""
        deadline = Deadline(deadline_s)
        pause = pause_s
        while not stop.is_set():
            job.attempts += 1
            try:
                response = self.request(job.method, job.path, json=job.body, key=job.key)
            except httpx.TransportError:
                job.failures += 1
                if job.give_up_on_failure:
                    return True
            else:
                if not _retryable(response):
                    job.status = response.status_code
                    job.answer = response.json() if response.content else None
                    return True
                if defer_in_flight and _code(response) == "idempotency-key-in-flight":
                    return False
            if deadline.expired:
                raise AssertionError(f"no answer for {job.label} after {deadline_s:g}s")
            stop.wait(pause)  # a pause between retries; set only to end them
            pause = min(pause * 2, 1.0)
        return True


def _code(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("code"))
    except ValueError:
        return None


def run_jobs(kiosks: dict[str, EdgeKiosk], jobs: list[Job], threads: int,
             stop: threading.Event, *, deadline_s: float = 150.0) -> list[BaseException]:
    """Run the jobs on `threads` worker threads (a hall of kiosks), each job on its device's
    kiosk; returns the errors raised (none is the goal). A job whose key is held by a request
    that died with the edge goes to the back of the queue, as another kiosk would go on
    serving its own citizens."""
    queue: Queue[Job] = Queue()
    for job in jobs:
        queue.put(job)
    lock = threading.Lock()
    done = [0]
    errors: list[BaseException] = []
    deadline = Deadline(deadline_s)

    def worker() -> None:
        while not stop.is_set() and not deadline.expired:
            with lock:
                if done[0] == len(jobs):
                    return
            try:
                job = queue.get(timeout=0.1)
            except Empty:
                continue  # the rest are being served or deferred by other workers
            try:
                finished = kiosks[job.device].run(job, stop, defer_in_flight=True)
            except BaseException as exc:  # surfaced to the test
                with lock:
                    errors.append(exc)
                    done[0] += 1
                continue
            if finished:
                with lock:
                    done[0] += 1
            else:
                queue.put(job)
                stop.wait(0.05)  # the key stays held for a while: do not spin on it

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(deadline_s + 10)
    if done[0] != len(jobs):
        errors.append(AssertionError(f"{len(jobs) - done[0]} jobs unanswered in {deadline_s}s"))
    return errors


class CentralLedger:
    """What the central simulator recorded (`/sim/v1`): its submissions and ingest counters."""

    def __init__(self, base_url: str, api_key: str = "central-dev-key") -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=30)
        self.api_key = api_key

    def close(self) -> None:
        self._http.close()

    def ingest(self) -> dict[str, int]:
        r = self._http.get("/sim/v1/ingest")
        r.raise_for_status()
        return dict(r.json())

    def submissions(self, kind: str | None = None, page: int = 500) -> list[dict[str, Any]]:
        """Every submission central recorded, in the order it recorded them."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": page, "offset": offset}
            if kind:
                params["kind"] = kind
            r = self._http.get("/sim/v1/submissions", params=params)
            r.raise_for_status()
            items = list(r.json()["items"])
            out.extend(items)
            if len(items) < page:
                return out
            offset += len(items)

    def citizens(self, *, start: int = 0, **filters: Any) -> Iterator[dict[str, Any]]:
        offset: int | None = start
        while offset is not None:
            r = self._http.get("/sim/v1/citizens",
                               params={"offset": offset, "limit": 500, **filters})
            r.raise_for_status()
            page = r.json()
            yield from page["items"]
            offset = page["next_offset"]

    def detail(self, index: int) -> dict[str, Any]:
        r = self._http.get(f"/sim/v1/citizens/{index}")
        r.raise_for_status()
        return dict(r.json())

    def subsidies(self, citizen_id: str) -> list[dict[str, Any]]:
        """The citizen's catalogue with eligibility, through the contract (as the edge asks)."""
        r = self._http.post("/central/v1/subsidies/query", json={"citizen_id": citizen_id},
                            headers={"Authorization": f"Bearer {self.api_key}"})
        r.raise_for_status()
        return list(r.json()["items"])

    def faults(self, **faults: Any) -> None:
        r = self._http.put("/sim/v1/faults", json=faults)
        assert r.status_code == 200, r.text


def label_of(recorded: dict[str, Any]) -> tuple[str, str]:
    """The Job label of a submission central recorded (see Job.label)."""
    return (str(recorded["kind"]), str(recorded["citizen_index"]))
