"""Contract answers to build tests from (written from docs/contracts/central-api.md), and a
client over an httpx MockTransport."""

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

from common import citizen_id
from edge_server.central import CentralClient, CentralLimits

NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
CITIZEN = citizen_id.make("110105", dt.date(1949, 12, 31), 1)
OTHER = citizen_id.make("110105", dt.date(1951, 3, 2), 3)
PROBLEM = "application/problem+json"

_PERSON = {
    "as_of": "2026-11-22T02:00:00Z",
    "person": {
        "citizen_id": CITIZEN, "name": "张三", "gender": "1", "birth_date": "1949-12-31",
        "ethnicity": "01", "region": "110105",
        "cards": [{"card_number": "A12345678", "card_id_code": "110105D15600000500FF0A9E",
                   "generation": 2, "status": "normal", "issued_on": "2016-03-01",
                   "expires_on": "2026-03-01"}],
        "participation": [{"scheme": "employee-pension", "scheme_name": "城镇职工基本养老保险",
                           "status": "receiving", "since": "2009-01"}],
    },
}
_PAYMENTS = {
    "as_of": "2026-11-22T02:00:00Z",
    "items": [{"period": "2026-11", "amount": "3456.78", "paid_on": "2026-11-15",
               "status": "pending", "bank": "中国工商银行", "account": "6222020200001234"},
              {"period": "2026-10", "amount": "3456.78", "paid_on": "2026-10-15",
               "status": "paid", "bank": "中国工商银行", "account": "6222020200001234"}],
}


def person_answer() -> dict[str, Any]:
    return copy.deepcopy(_PERSON)


def payments_answer() -> dict[str, Any]:
    return copy.deepcopy(_PAYMENTS)


def json_response(status: int, body: Any, media_type: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx.Response(status, content=content, headers={"content-type": media_type})


def problem(status: int, code: str) -> httpx.Response:
    return json_response(status, {"type": f"x/{code}", "title": code, "status": status,
                                  "code": code}, PROBLEM)


def client(
    answer: Callable[[httpx.Request], httpx.Response], **limits: Any
) -> CentralClient:
    http = httpx.Client(base_url="http://central", transport=httpx.MockTransport(answer))
    return CentralClient("http://central", "k", CentralLimits(**limits), http=http,
                         clock=lambda: NOW)
