"""The edge client against a small real HTTP server on loopback (stdlib, scripted answers)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kiosk.edge_client import EdgeClient, new_idempotency_key
from kiosk.edge_errors import EdgeProblem, EdgeUnreachable
from simulators.stack.ports import free_port
from tests.kiosk.fakes import sample_card

TOKEN = "dev1.kiosk-001.c2lnbmF0dXJl"

OPENED = {
    "session_id": "ses_abc", "expires_at": "2026-11-22T10:15:00Z",
    "citizen": {"display_name": "张*", "gender": "1", "age": 76, "card_status": "normal"},
    "as_of": "2026-11-22T10:00:00Z", "stale": False, "new_field": "ignored",
}
BENEFITS = {
    "as_of": "2026-11-22T10:00:00Z", "stale": True,
    "participation": [{"scheme": "employee-pension", "scheme_name": "城镇职工基本养老保险",
                       "status": "receiving", "since": "2009-01"}],
    "pension_payments": [{"period": "2026-10", "amount": "3456.78", "paid_on": "2026-10-15",
                          "status": "paid", "bank": "中国工商银行",
                          "account_masked": "6222****1234"}],
}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    hang: bool = False  # never answer (until the test ends)


def problem(status: int, code: str, **extra: Any) -> Answer:
    body = {"type": f"https://hrss-kiosk.example/problems/{code}", "title": "Operator text",
            "status": status, "code": code, **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
        body.pop("retry_after")
    return Answer(status, body, "application/problem+json", headers)


class FakeEdge:
    """Answers each request with the next scripted Answer and records what it saw."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.seen: list[Seen] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake.seen.append(Seen(self.command, self.path, dict(self.headers),
                                      json.loads(raw) if raw else None))
                answer = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
                if answer.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                if answer.hang:
                    fake.release.wait(10)
                    return
                data = b"" if answer.body is None else (
                    answer.body.encode() if isinstance(answer.body, str)
                    else json.dumps(answer.body).encode()
                )
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    server = FakeEdge()
    yield server
    server.close()


@pytest.fixture
def client_for() -> Iterator[Callable[..., EdgeClient]]:
    made: list[EdgeClient] = []

    def make(url: str, **kwargs: Any) -> EdgeClient:
        kwargs.setdefault("sleep", lambda _s: None)  # the client's backoff: no real waiting
        client = EdgeClient(url, "kiosk-001", TOKEN, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_open_session_sends_credential_key_and_card_in_the_body(edge, client_for) -> None:
    edge.script = [Answer(201, OPENED)]
    key = new_idempotency_key()
    opened = client_for(edge.url).open_session(sample_card(), idempotency_key=key)

    assert opened.session_id == "ses_abc" and opened.citizen.display_name == "张*"
    assert opened.as_of is not None and not opened.stale
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("POST", "/api/v1/sessions")
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Idempotency-Key"] == key
    assert seen.body == {"method": "card", "card": {
        "citizen_id": "11010519491231002X", "name": "张三", "card_number": "A12345678",
        "card_id_code": "110105D156000005000000000000A1B2", "spec_version": "2.00"}}


def test_a_dropped_connection_is_retried_with_the_same_key(edge, client_for) -> None:
    edge.script = [Answer(0, drop=True), Answer(201, OPENED)]
    pauses: list[float] = []
    client = client_for(edge.url, attempts=3, sleep=pauses.append)
    key = new_idempotency_key()

    opened = client.open_session(sample_card(), idempotency_key=key)

    assert opened.session_id == "ses_abc"
    assert [s.headers["Idempotency-Key"] for s in edge.seen] == [key, key]
    assert len(pauses) == 1


def test_in_flight_is_retried_with_the_same_key(edge, client_for) -> None:
    edge.script = [problem(409, "idempotency-key-in-flight"), Answer(201, OPENED)]
    key = new_idempotency_key()
    client_for(edge.url, attempts=2).open_session(sample_card(), idempotency_key=key)
    assert [s.headers["Idempotency-Key"] for s in edge.seen] == [key, key]


def test_out_of_attempts_the_unreachable_edge_is_reported(edge, client_for) -> None:
    edge.script = [Answer(0, drop=True)]
    with pytest.raises(EdgeUnreachable):
        client_for(edge.url, attempts=2).open_session(sample_card(), idempotency_key="k-1")
    assert len(edge.seen) == 2


def test_a_closed_port_is_unreachable(client_for) -> None:
    client = client_for(f"http://127.0.0.1:{free_port()}", attempts=1)
    with pytest.raises(EdgeUnreachable):
        client.get_benefits("ses_abc")


def test_a_hanging_edge_times_out_as_unreachable(edge, client_for) -> None:
    edge.script = [Answer(0, hang=True)]
    client = client_for(edge.url, attempts=1, timeout_s=0.3)
    with pytest.raises(EdgeUnreachable):
        client.get_benefits("ses_abc")


def test_problems_are_parsed_into_codes(edge, client_for) -> None:
    edge.script = [problem(503, "central-unavailable", retry_after=7)]
    client = client_for(edge.url, attempts=3)
    with pytest.raises(EdgeProblem) as caught:
        client.open_session(sample_card(), idempotency_key="k-2")
    exc = caught.value
    assert (exc.code, exc.status, exc.retry_after_s) == ("central-unavailable", 503, 7.0)
    assert exc.transient
    assert len(edge.seen) == 1  # the flow decides about these retries, not the client


def test_card_not_valid_carries_the_card_status(edge, client_for) -> None:
    edge.script = [problem(403, "card-not-valid", card_status="reported-lost")]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(sample_card(), idempotency_key="k-3")
    assert caught.value.code == "card-not-valid"
    assert caught.value.card_status == "reported-lost"
    assert not caught.value.transient


def test_validation_errors_keep_their_details(edge, client_for) -> None:
    edge.script = [problem(422, "validation-error",
                           errors=[{"loc": ["body", "card"], "msg": "missing", "type": "x"}])]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(sample_card(), idempotency_key="k-4")
    assert caught.value.code == "validation-error"
    assert caught.value.extra["errors"][0]["loc"] == ["body", "card"]


def test_a_gateway_error_page_means_unreachable(edge, client_for) -> None:
    edge.script = [Answer(502, "<html>Bad Gateway</html>", "text/html")]
    with pytest.raises(EdgeUnreachable):
        client_for(edge.url, attempts=1).get_benefits("ses_abc")


def test_a_non_problem_error_is_an_invalid_response(edge, client_for) -> None:
    edge.script = [Answer(404, "<html>Not Found</html>", "text/html")]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).get_benefits("ses_abc")
    assert (caught.value.code, caught.value.status) == ("invalid-response", 404)


def test_an_unreadable_answer_body_is_an_invalid_response(edge, client_for) -> None:
    edge.script = [Answer(201, {"session_id": "ses_abc"})]  # no citizen
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(sample_card(), idempotency_key="k-5")
    assert caught.value.code == "invalid-response"


def test_benefits_keep_money_exact(edge, client_for) -> None:
    edge.script = [Answer(200, BENEFITS)]
    benefits = client_for(edge.url).get_benefits("ses_abc")
    assert edge.seen[0].path == "/api/v1/sessions/ses_abc/benefits"
    assert "Idempotency-Key" not in edge.seen[0].headers  # GET changes nothing
    assert benefits.stale and benefits.pension_payments[0].amount == Decimal("3456.78")
    assert benefits.participation[0].status == "receiving"


def test_end_session_deletes_with_its_key(edge, client_for) -> None:
    edge.script = [Answer(204)]
    assert client_for(edge.url).end_session("ses_abc", idempotency_key="end-1") is None
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("DELETE", "/api/v1/sessions/ses_abc")
    assert seen.headers["Idempotency-Key"] == "end-1"


def test_health_needs_no_session(edge, client_for) -> None:
    edge.script = [Answer(200, {"status": "ok", "version": "0.1.0", "central": "reachable"})]
    assert client_for(edge.url).health().central == "reachable"


def test_nothing_about_the_citizen_is_logged(edge, client_for, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    edge.script = [Answer(0, drop=True), Answer(201, OPENED), Answer(200, BENEFITS),
                   problem(404, "session-not-found")]
    client = client_for(edge.url, attempts=2)
    client.open_session(sample_card(), idempotency_key="k-6")
    client.get_benefits("ses_abc")
    with pytest.raises(EdgeProblem):
        client.get_benefits("ses_abc")
    text = "\n".join(r.getMessage() for r in caplog.records)  # httpx's own loggers too
    assert "POST /sessions" in text  # it does log, as templates
    for secret in ("11010519491231002X", "张三", "A12345678", "ses_abc", "3456", TOKEN):
        assert secret not in text


def test_an_unreadable_answer_names_fields_but_never_values(edge, client_for) -> None:
    body = {**OPENED, "citizen": {"display_name": ["张*"], "age": "seventy-six"}}
    edge.script = [Answer(201, body)]
    with pytest.raises(EdgeProblem) as caught:
        client_for(edge.url).open_session(sample_card(), idempotency_key="k-7")
    exc = caught.value
    assert "citizen.display_name" in str(exc)
    # pydantic's message quotes the values: it must not ride along as the cause either.
    assert exc.__cause__ is None and exc.__suppress_context__
    assert "张" not in str(exc) and "seventy-six" not in str(exc)


def test_answers_print_no_citizen_data() -> None:
    from kiosk.edge_models import Benefits, SessionOpened

    opened = SessionOpened.model_validate(OPENED)
    benefits = Benefits.model_validate(BENEFITS)
    as_logged = "%s" % (benefits,)  # noqa: UP031 (what log.info("%s", x) does)
    shown = [repr(opened), str(opened), f"{opened.citizen}", as_logged,
             str(benefits.pension_payments[0]), repr(benefits.participation[0])]
    text = " ".join(shown)
    for secret in ("ses_abc", "张", "3456", "6222", "工商", "receiving"):
        assert secret not in text
