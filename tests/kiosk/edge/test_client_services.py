"""The citizen-service calls of the edge client (subsidies to card loss) against a stub edge:
what goes on the wire, and answers checked as data before anyone sees them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kiosk.edge import errors as codes
from kiosk.edge.client import EdgeClient
from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.edge.models import ApplicationDraft, ApplicationStatus, ReceiptState
from tests.kiosk.edge.fake_edge import Answer, FakeEdge, problem
from tests.kiosk.fakes import sample_applications, sample_receipt, sample_subsidies

TOKEN = "dev1.kiosk-001.c2lnbmF0dXJl"
DRAFT = ApplicationDraft("skill-upgrade", "2026", {"phone": "13800000000"})


def _json(model: Any) -> Any:
    return model.model_dump(mode="json")


@pytest.fixture
def client(edge: FakeEdge) -> Iterator[EdgeClient]:
    made = EdgeClient(edge.url, "kiosk-001", TOKEN, deadline_s=2.0)
    yield made
    made.close()


def test_subsidies_are_read_and_a_bad_item_is_left_out_alone(edge, client) -> None:
    body = _json(sample_subsidies())
    body["items"].append({"code": "new-kind", "name": "x", "period": "2026", "eligible": True,
                          "form_fields": [{"name": "iris", "kind": "retina-scan"}]})
    edge.script = [Answer(200, body)]
    subsidies = client.get_subsidies("ses_abc")
    assert [s.code for s in subsidies.items] == ["skill-upgrade", "unemployment", "job-seeking"]
    assert edge.seen[0].path == "/api/v1/sessions/ses_abc/subsidies"


@pytest.mark.parametrize("change", [
    {"amount": "-1.00"}, {"amount": "1.001"}, {"period": "2026-13"}, {"name": "补" * 129},
])
def test_an_out_of_range_subsidy_is_not_shown(edge, client, change: dict[str, str]) -> None:
    body = _json(sample_subsidies())
    body["items"] = [{**body["items"][0], **change}]
    edge.script = [Answer(200, body)]
    assert client.get_subsidies("ses_abc").items == ()


def test_more_subsidies_than_the_contract_allows_is_not_an_answer(edge, client) -> None:
    body = _json(sample_subsidies())
    body["items"] = body["items"][:1] * 9
    edge.script = [Answer(200, body)]
    with pytest.raises(EdgeProblem) as caught:
        client.get_subsidies("ses_abc")
    assert caught.value.code == codes.INVALID_RESPONSE


def test_precheck_posts_the_draft_without_a_key(edge, client) -> None:
    edge.script = [Answer(200, {"ok": False, "findings": [], "checked": False})]
    result = client.precheck("ses_abc", DRAFT)
    assert not result.ok and not result.checked
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("POST", "/api/v1/sessions/ses_abc/applications/precheck")
    assert seen.body == DRAFT.body() and "Idempotency-Key" not in seen.headers


def test_apply_carries_the_key_and_reads_the_receipt(edge, client) -> None:
    edge.script = [Answer(201, _json(sample_receipt("queued")))]
    receipt = client.apply("ses_abc", DRAFT, idempotency_key="key-1")
    assert receipt.state is ReceiptState.QUEUED and receipt.sent_at is None
    assert edge.seen[0].headers["Idempotency-Key"] == "key-1"
    assert edge.seen[0].body == {"subsidy": "skill-upgrade", "period": "2026",
                                 "form": {"phone": "13800000000"}}


@pytest.mark.parametrize("change", [
    {"qr": "hrss:receipt:R20261122ZZZZZZZZZZ"},  # another receipt's QR
    {"receipt_no": "R20261122OBCDEFGH12"},  # O is not Crockford base32
    {"state": "lost"},
    {"kind": "card-loss-report"},  # a receipt, but not for what was submitted
    {"sent_at": None, "state": "sent"},
])
def test_a_receipt_that_does_not_add_up_is_refused(edge, client, change) -> None:
    edge.script = [Answer(201, {**_json(sample_receipt()), **change})]
    with pytest.raises(EdgeProblem) as caught:
        client.apply("ses_abc", DRAFT, idempotency_key="key-1")
    assert caught.value.code == codes.INVALID_RESPONSE


@pytest.mark.parametrize(("answer", "code"), [
    (problem(409, "duplicate-application"), codes.DUPLICATE_APPLICATION),
    (problem(503, "outbox-full", retry_after=60), codes.OUTBOX_FULL),
    (problem(422, "validation-error"), codes.VALIDATION_ERROR),
])
def test_refusals_come_out_typed(edge, client, answer: Answer, code: str) -> None:
    edge.script = [answer]
    with pytest.raises(EdgeProblem) as caught:
        client.apply("ses_abc", DRAFT, idempotency_key="key-1")
    assert caught.value.code == code
    assert not caught.value.transient  # none of these is retried while the citizen waits


def test_applications_keep_their_history_and_drop_one_unknown_status_alone(edge,
                                                                           client) -> None:
    body = _json(sample_applications(queued=1))
    body["items"].append({**body["items"][0], "status": "teleported"})
    edge.script = [Answer(200, body)]
    applications = client.get_applications("ses_abc")
    assert len(applications.items) == 2 and len(applications.queued) == 1
    assert applications.items[0].history[-1].status is ApplicationStatus.BANK_RETURNED


def test_card_loss_report_is_not_session_bound(edge, client) -> None:
    edge.script = [Answer(201, _json(sample_receipt(kind="card-loss-report")))]
    client.report_card_loss("11010519491231002X", "135790", idempotency_key="key-9")
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("POST", "/api/v1/card-loss/reports")
    assert seen.body == {"citizen_id": "11010519491231002X", "pin": "135790"}
    assert seen.headers["Idempotency-Key"] == "key-9"


def test_a_submission_is_asked_by_its_number_and_must_be_that_one(edge, client) -> None:
    receipt = _json(sample_receipt())
    edge.script = [Answer(200, receipt)]
    assert client.get_submission(receipt["receipt_no"]).receipt_no == receipt["receipt_no"]
    with pytest.raises(EdgeProblem):
        client.get_submission("R20261122ZZZZZZZZZZ")


def test_a_dropped_submission_is_one_attempt_then_unreachable(edge, client) -> None:
    edge.script = [Answer(0, drop=True)]
    with pytest.raises(EdgeUnreachable):
        client.report_card_loss("11010519491231002X", "135790", idempotency_key="key-9")
    assert len(edge.seen) == 1


def test_no_answer_model_prints_what_it_holds() -> None:
    shown: list[Callable[[], str]] = [
        lambda: repr(sample_applications().items[0]), lambda: str(sample_subsidies()),
        lambda: repr(DRAFT),
    ]
    text = "".join(f() for f in shown)
    for secret in ("6222", "13800000000", "1500"):
        assert secret not in text


def test_a_reversal_sends_the_card_identity_and_pin(edge, client) -> None:
    from kiosk.edge.models import Credential

    edge.script = [Answer(201, _json(sample_receipt(kind="card-loss-reversal")))]
    card = Credential("card", {"citizen_id": "11010519491231002X", "card_number": "A12345678",
                               "card_id_code": "110105D156000005000000000000A1B2"})
    client.reverse_card_loss(card, "135790", idempotency_key="key-3")
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("POST", "/api/v1/card-loss/reversals")
    assert seen.body == {"card": dict(card.fields), "pin": "135790"}
    edge.script = [Answer(201, _json(sample_receipt(kind="card-loss-report")))]
    with pytest.raises(EdgeProblem):  # a receipt for something else is not this one's
        client.reverse_card_loss(card, "135790", idempotency_key="key-4")
