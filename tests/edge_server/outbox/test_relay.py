"""The outbox core against a fake central (fake_central.py), on SQLite and PostgreSQL: enqueue
in the caller's transaction, order, resends with the same key, dead letters and their retry,
the bound, leases of a killed sender, concurrent claims, await_delivery, PIN wiping."""

import re
import threading

import pytest

from edge_server import outbox
from edge_server.db import session_scope
from edge_server.outbox import relay
from edge_server.outbox.runtime import runtime
from tests.edge_server.outbox.fake_central import FakeCentral, plug
from tests.edge_server.support import Hall, hall, new_key
from tests.harness.concurrent import run_at_once

RECEIPT = re.compile(r"^R[0-9]{8}[0-9A-HJKMNP-TV-Z]{10}$")


def ctx(h: Hall):
    return h.edge.app.state.edge


def application(cid: str, phone: str = "13800000000", subsidy: str = "skill-upgrade") -> dict:
    return {"citizen_id": cid, "subsidy": subsidy, "period": "2026",
            "identity": {"method": "card", "card_number": "A12345678"},
            "form": {"phone": phone, "certificate_number": "1234"}}


def put(h: Hall, cid: str, *, key: str | None = None, device: str = "kiosk-01",
        payload: dict | None = None, kind: str = "subsidy-application",
        claim: tuple[str, str] | None = None) -> outbox.OutboxItemView:
    with session_scope(ctx(h).engine) as db:
        return outbox.enqueue(ctx(h), db, device_id=device, idempotency_key=key or new_key(),
                              citizen_id=cid, kind=kind,
                              payload=payload if payload is not None else application(cid),
                              claim=claim)


def drain(h: Hall, steps: int = 50) -> None:
    """Run relay steps until nothing is unsent (bounded: a test that never drains fails)."""
    for _ in range(steps):
        if outbox.stats(ctx(h)).depth == 0:
            return
        relay.step(ctx(h))
    assert outbox.stats(ctx(h)).depth == 0, "the outbox did not drain"


def keys_in_seq_order(h: Hall) -> list[str]:
    return [r[0] for r in h.sql("SELECT submission_key FROM outbox_item ORDER BY seq")]


@pytest.fixture
def fake(h: Hall) -> FakeCentral:
    return plug(h)


def cids(h: Hall, n: int) -> list[str]:
    return [h.citizen(i)["citizen_id"] for i in range(n)]


def test_enqueue_answers_a_queued_receipt_and_the_same_key_finds_the_same_item(h, fake):
    cid = h.citizen(0)["citizen_id"]
    first = put(h, cid, key="k-1")
    again = put(h, cid, key="k-1")
    other_device = put(h, cid, key="k-1", device="kiosk-02")
    assert RECEIPT.match(first.receipt_no)
    assert (first.state, first.sent_at, first.record) == ("queued", None, None)
    assert again.receipt_no == first.receipt_no and other_device.receipt_no != first.receipt_no
    assert h.count("outbox_item") == 2
    # Sealed: the citizen ID is not in the row, only its keyed hash.
    payload = h.sql("SELECT payload FROM outbox_item")[0][0]
    assert cid.encode() not in bytes(payload)
    assert [r[0] for r in h.sql("SELECT action FROM audit_log ORDER BY seq")] == [
        "outbox.enqueued", "outbox.enqueued"]
    assert cid not in str(h.sql("SELECT masked_id FROM audit_log"))


def test_the_relay_sends_in_order_in_batches_and_records_the_answer(h, fake):
    people = cids(h, 3)
    for i in range(250):
        put(h, people[i % 3], device=f"kiosk-0{i % 2 + 1}")
    drain(h)
    assert fake.order == keys_in_seq_order(h)
    assert fake.calls == 3  # 100 + 100 + 50
    states = h.sql("SELECT state, outcome, COUNT(*) FROM outbox_item GROUP BY state, outcome")
    assert states == [("sent", "recorded", 250)]
    receipt = h.sql("SELECT receipt_no FROM outbox_item ORDER BY seq LIMIT 1")[0][0]
    view = outbox.item_view(ctx(h), receipt)
    assert view.state == "sent" and view.record["application_no"] == "SQ2026112200000001"
    assert runtime(ctx(h)).sent_total.value == 250
    assert outbox.pending_for_citizen(ctx(h), people[0]) == []


def test_a_lost_response_is_resent_with_the_same_keys_and_recorded_once(h, fake):
    people = cids(h, 2)
    for i in range(5):
        put(h, people[i % 2])
    fake.lose_next_responses = 1
    delay = relay.step(ctx(h))
    # Central committed, the answer was lost: nothing is known, all stay queued, backing off.
    assert delay > 0 and len(fake.records) == 5
    assert outbox.stats(ctx(h)).depth == 5
    assert relay.step(ctx(h)) > 0 and fake.calls == 1  # not due yet: no call at all
    h.clock.advance(delay + 0.01)
    relay.step(ctx(h))
    assert fake.calls == 2 and len(fake.records) == 5 and fake.order == keys_in_seq_order(h)
    assert h.sql("SELECT DISTINCT state, outcome FROM outbox_item") == [("sent", "duplicate")]


def test_central_down_queues_then_drains_in_order_with_growing_backoff(h, fake):
    cid = h.citizen(0)["citizen_id"]
    for _ in range(3):
        put(h, cid)
    fake.down = True
    delays = []
    for _ in range(4):
        delays.append(relay.step(ctx(h)))
        h.clock.advance(delays[-1] + 0.01)
    assert all(d > 0 for d in delays) and delays[-1] > delays[0]
    assert outbox.stats(ctx(h)).oldest_pending_age_s >= sum(delays)
    fake.down = False
    drain(h)
    assert fake.order == keys_in_seq_order(h)


def test_when_central_answers_again_the_relay_stops_backing_off(h, fake):
    cid = h.citizen(0)["citizen_id"]
    put(h, cid)
    fake.down = True
    for _ in range(6):  # backing off further each time
        delay = relay.step(ctx(h))
        h.clock.advance(delay + 0.01)
    delay = relay.step(ctx(h))
    assert delay > 5
    fake.down = False
    assert relay.step(ctx(h)) > 0 and fake.order == [], "still waiting out the backoff"
    # Any call that reaches central again (the probe, an identify) ends the wait.
    reachability = ctx(h).central.reachability
    reachability.mark(False)
    reachability.mark(True)
    assert runtime(ctx(h)).recovered.is_set()
    relay.step(ctx(h))
    assert len(fake.order) == 1 and outbox.stats(ctx(h)).depth == 0


def test_a_refusal_is_a_dead_letter_and_a_corrected_retry_is_sent(h, fake):
    cid = h.citizen(0)["citizen_id"]
    fake.refuse = lambda item: item["payload"]["form"]["phone"] == "13900000000"
    bad = put(h, cid, payload=application(cid, phone="13900000000"),
              claim=("skill-upgrade", "2026"))
    drain(h)
    view = outbox.item_view(ctx(h), bad.receipt_no)
    assert (view.state, view.refusal_code) == ("refused", "risk-refused")
    assert view.findings == [{"code": "not-eligible", "message": "不符合条件"}]
    letters = outbox.dead_letters(ctx(h))
    assert [d.receipt_no for d in letters] == [bad.receipt_no] and letters[0].retryable
    assert outbox.stats(ctx(h)).dead_letters == 1
    # The refusal released the claim: the retry (or the citizen) can claim it again.
    assert h.count("claim_guard") == 0

    copy = outbox.retry(ctx(h), bad.receipt_no, operator_key="op-1",
                        form={"phone": "13800000000"})
    assert outbox.retry(ctx(h), bad.receipt_no, operator_key="op-1").receipt_no == (
        copy.receipt_no)
    with pytest.raises(outbox.NotRetryable) as again:
        outbox.retry(ctx(h), bad.receipt_no, operator_key="op-2")
    assert again.value.code == "already-retried"
    drain(h)
    assert outbox.item_view(ctx(h), copy.receipt_no).state == "sent"
    assert outbox.dead_letters(ctx(h)) == [] and outbox.stats(ctx(h)).dead_letters == 0
    rows = h.sql("SELECT receipt_no, retry_of, submission_key FROM outbox_item ORDER BY seq")
    assert rows[1][:2] == (copy.receipt_no, bad.receipt_no) and rows[0][2] != rows[1][2]
    assert h.sql("SELECT receipt_no FROM claim_guard") == [(copy.receipt_no,)]
    actions = [r[0] for r in h.sql("SELECT action FROM audit_log ORDER BY seq")]
    assert actions == ["outbox.enqueued", "outbox.dead", "outbox.enqueued", "outbox.retried",
                       "outbox.sent"]


def test_a_claim_taken_twice_is_a_duplicate_claim_naming_the_first_receipt(h, fake):
    cid = h.citizen(0)["citizen_id"]
    first = put(h, cid, claim=("skill-upgrade", "2026"))
    with pytest.raises(outbox.DuplicateClaim) as dup:
        put(h, cid, device="kiosk-02", claim=("skill-upgrade", "2026"))
    assert dup.value.receipt_no == first.receipt_no
    put(h, cid, claim=("skill-upgrade", "2027"))  # another period is another claim
    assert h.count("outbox_item") == 2


def test_concurrent_applications_for_one_claim_give_one_item(h, fake):
    cid = h.citizen(0)["citizen_id"]
    outcomes: list[str] = []

    def apply(device: str) -> None:
        try:
            outcomes.append(put(h, cid, device=device, claim=("job-seeking", "2026")).receipt_no)
        except outbox.DuplicateClaim as exc:
            outcomes.append("duplicate:" + exc.receipt_no)

    assert run_at_once(apply, [f"kiosk-0{i}" for i in range(1, 5)]) == []
    winners = [o for o in outcomes if not o.startswith("duplicate:")]
    assert len(winners) == 1 and h.count("outbox_item") == 1
    assert sorted(outcomes) == sorted([winners[0]] + ["duplicate:" + winners[0]] * 3)


def test_at_the_bound_enqueue_refuses_with_an_alarm_and_keeps_the_old_items(
        tmp_path, edge_database_url, caplog):
    with hall(tmp_path, database_url=edge_database_url, outbox_max_pending=3) as h:
        fake = plug(h)
        cid = h.citizen(0)["citizen_id"]
        kept = [put(h, cid).receipt_no for _ in range(3)]
        with pytest.raises(outbox.OutboxFull):
            put(h, cid)
        assert "ALARM outbox full" in caplog.text
        assert runtime(ctx(h)).full_total.value == 1 and outbox.stats(ctx(h)).full
        assert [r[0] for r in h.sql("SELECT receipt_no FROM outbox_item ORDER BY seq")] == kept
        drain(h)
        assert len(fake.records) == 3
        put(h, cid)  # drained: room again


def test_a_killed_senders_batch_is_resent_after_its_lease_and_holds_newer_items(h, fake):
    people = cids(h, 2)
    for i in range(3):
        put(h, people[i % 2])
    claimed, _ = relay.claim(ctx(h))  # a sender claims its batch, then is killed -9
    assert len(claimed) == 3
    newer = put(h, people[0])
    relay.step(ctx(h))
    # The lease is live: nothing goes, not even the newer item (it must not overtake).
    assert fake.calls == 0 and outbox.item_view(ctx(h), newer.receipt_no).state == "queued"
    h.clock.advance(ctx(h).settings.outbox_lease_s + 1)
    drain(h)
    assert fake.order == keys_in_seq_order(h) and len(fake.order) == 4


def test_one_bad_result_leaves_only_its_item_pending(h, fake):
    cid = h.citizen(0)["citizen_id"]
    items = [put(h, cid) for _ in range(3)]
    fake.mangle = lambda i, r: {**r, "outcome": "maybe"} if i == 1 else r
    bad_before = ctx(h).central.bad_answers.total
    delay = relay.step(ctx(h))
    states = [outbox.item_view(ctx(h), i.receipt_no).state for i in items]
    assert states == ["sent", "queued", "sent"] and delay > 0
    assert ctx(h).central.bad_answers.total == bad_before + 1
    assert runtime(ctx(h)).bad_results_total.value == 1
    fake.mangle = None
    h.clock.advance(delay + 0.01)
    drain(h)
    assert outbox.item_view(ctx(h), items[1].receipt_no).state == "sent"
    assert len(fake.records) == 3


def test_results_naming_keys_we_did_not_send_change_nothing(h, fake):
    cid = h.citizen(0)["citizen_id"]
    items = [put(h, cid) for _ in range(2)]
    fake.wrong_keys = True  # central answering with another batch's results
    relay.step(ctx(h))
    assert [outbox.item_view(ctx(h), i.receipt_no).state for i in items] == ["queued"] * 2
    assert runtime(ctx(h)).bad_results_total.value == 2


def test_a_record_that_is_not_the_application_we_sent_is_refused(h, fake):
    cid = h.citizen(0)["citizen_id"]
    item = put(h, cid)
    fake.mangle = lambda _i, r: {**r, "record": {**r["record"], "subsidy": "unemployment"}}
    relay.step(ctx(h))
    assert outbox.item_view(ctx(h), item.receipt_no).state == "queued"


def test_await_delivery_returns_when_the_relay_has_sent_the_item(h, fake):
    cid = h.citizen(0)["citizen_id"]
    item = put(h, cid)
    waiting = threading.Event()
    got: list[outbox.OutboxItemView] = []
    real_item_view = outbox.store.item_view

    def waiter() -> None:
        got.append(outbox.await_delivery(ctx(h), item.receipt_no, 30.0))

    # Start the wait, make sure it has looked once, then send: it must wake without its timeout.
    def spy(c, r):
        found = real_item_view(c, r)
        waiting.set()
        return found

    outbox.item_view, saved = spy, outbox.item_view  # type: ignore[assignment]
    try:
        thread = threading.Thread(target=waiter)
        thread.start()
        assert waiting.wait(10)
        relay.step(ctx(h))
        thread.join(10)
    finally:
        outbox.item_view = saved  # type: ignore[assignment]
    assert not thread.is_alive() and got[0].state == "sent"
    # With no relay running, it gives up after its timeout and says "queued".
    other = put(h, cid)
    assert outbox.await_delivery(ctx(h), other.receipt_no, 0.05).state == "queued"


def test_a_payload_holding_a_pin_is_wiped_once_final(h, fake):
    cid = h.citizen(0)["citizen_id"]
    report = put(h, cid, kind="card-loss-report", payload={"citizen_id": cid, "pin": "123456"})
    app = put(h, cid)
    drain(h)
    rows = dict(h.sql("SELECT receipt_no, LENGTH(payload) FROM outbox_item"))
    assert rows[report.receipt_no] == 0 and rows[app.receipt_no] > 0
    assert outbox.item_view(ctx(h), report.receipt_no).record["card_status"] == "reported-lost"
