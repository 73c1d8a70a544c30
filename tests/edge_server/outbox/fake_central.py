"""A small fake of central's submissions endpoint (contracts.md 1.3), plugged into the hall's
link in place of the simulator for that one path: it records by key in order, and can refuse,
lose a response after recording, answer with wrong keys, or be down."""

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.edge_server.support import Hall

SUBMISSIONS = "/central/v1/submissions"


@dataclass
class FakeCentral:
    clock: Callable[[], dt.datetime]
    records: dict[str, dict] = field(default_factory=dict)  # key -> first result
    order: list[str] = field(default_factory=list)  # keys in the order recorded
    calls: int = 0
    down: bool = False
    lose_next_responses: int = 0
    wrong_keys: bool = False
    refuse: Callable[[dict], bool] = lambda _item: False
    mangle: Callable[[int, dict], dict] | None = None  # (index, result) -> result sent

    def result(self, item: dict) -> dict:
        key = item["submission_key"]
        if key in self.records:
            first = self.records[key]
            return {**first, "outcome": "duplicate" if first["outcome"] == "recorded"
                    else first["outcome"]}
        if self.refuse(item):
            res = {"submission_key": key, "outcome": "refused", "record": None, "refusal": {
                "code": "risk-refused", "message": "不符合申领条件",
                "findings": [{"code": "not-eligible", "message": "不符合条件"}]}}
        else:
            res = {"submission_key": key, "outcome": "recorded", "record": self.record(item),
                   "refusal": None}
        self.records[key] = res
        self.order.append(key)
        return res

    def record(self, item: dict) -> dict:
        at = self.clock().isoformat()
        if item["kind"] == "subsidy-application":
            n = len(self.order) + 1
            return {"application_no": f"SQ20261122{n:08d}", "subsidy": item["payload"]["subsidy"],
                    "period": item["payload"]["period"], "status": "submitted",
                    "submitted_at": at}
        if item["kind"] == "card-loss-report":
            return {"card_status": "reported-lost", "card_number_masked": "A1****678",
                    "reported_at": at}
        return {"card_status": "normal", "card_number_masked": "A1****678", "reversed_at": at}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        items = json.loads(request.content)["items"]
        results = [self.result(item) for item in items]
        if self.lose_next_responses:
            self.lose_next_responses -= 1
            raise httpx.ReadError("connection cut after commit", request=request)
        if self.wrong_keys:
            results = [{**r, "submission_key": "sub_" + "0" * 32} for r in results]
        if self.mangle is not None:
            results = [self.mangle(i, r) for i, r in enumerate(results)]
        body = {"as_of": self.clock().isoformat(), "results": results}
        return httpx.Response(200, json=body)


def plug(h: Hall) -> FakeCentral:
    """Route the hall's submissions calls to a FakeCentral; the rest still to the simulator."""
    fake = FakeCentral(clock=h.clock)
    forward = h.link.handle_request

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == SUBMISSIONS:
            h.link.calls.append(request.url.path)
            return fake.handle(request)
        return forward(request)

    h.link.handle_request = handle  # type: ignore[method-assign]
    return fake
