"""The thin journey through every real seam: card → pcscd → kiosk → edge → central → screen."""

from __future__ import annotations

import json

import pytest

from common.device_token import read_token
from common.masking import mask_name
from kiosk.settings import KioskSettings
from simulators.demo.journey import choose_cast
from simulators.stack.services import CENTRAL_API_KEY
from simulators.stack.stack import Stack
from tests.e2e.conftest import edge_sessions
from tests.harness.ocr import read_chinese, reads

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pensioner(stack: Stack) -> dict:
    cast = choose_cast(stack.central_client())
    return stack.central_client().citizen(cast.pensioner)


@pytest.fixture(scope="module")
def gen3_holder(stack: Stack) -> dict:
    return stack.central_client().citizen(choose_cast(stack.central_client()).gen3_holder)


def test_card_to_benefits_then_removal_ends_and_wipes_the_session(at_rest, pensioner):
    stack = at_rest
    kiosk, card = stack.kiosk_client(), stack.card()
    sessions_before = len(edge_sessions(stack))

    card.insert(citizen_index=pensioner["index"])
    kiosk.wait_screen("home")
    home = "".join(kiosk.texts())
    assert mask_name(pensioner["name"]) in home
    assert pensioner["name"] not in home  # only the masked name is ever shown
    assert kiosk.status()["session_active"] is True

    kiosk.tap("home.benefits")
    kiosk.wait_screen("benefits")
    texts = "".join(kiosk.texts())
    assert "养老金发放记录" in texts
    # The newest payment the central platform holds is on screen, amount and all.
    payments = stack.central_client().pension_payments(pensioner["citizen_id"], CENTRAL_API_KEY)
    newest = max(payments, key=lambda p: p["period"])
    assert newest["amount"] in texts.replace(",", "")
    shot = kiosk.screenshot("e2e-benefits")
    ocr = read_chinese(shot)
    # Rendered Chinese, not tofu boxes: OCR reads the title and the column heads back.
    assert reads("养老金发放记录", ocr), ocr
    assert "金额" in ocr

    card.remove()
    kiosk.wait_screen("attract")
    status = kiosk.status()
    assert status["session_active"] is False
    assert pensioner["name"] not in "".join(kiosk.texts())
    sessions = edge_sessions(stack)
    assert len(sessions) == sessions_before + 1  # one session: no duplicate from retries
    assert all(ended is not None for _, ended in sessions)  # removal ended it at the edge


def test_nothing_about_the_citizen_is_on_the_terminals_disk_or_in_any_log(at_rest, pensioner):
    stack = at_rest
    card, kiosk = stack.card(), stack.kiosk_client()
    card.insert(citizen_index=pensioner["index"])
    kiosk.wait_screen("home")
    card.remove()
    kiosk.wait_screen("attract")

    needles = [pensioner["citizen_id"].encode(), pensioner["name"].encode("utf-8"),
               pensioner["name"].encode("gbk")]
    kiosk_dir = stack.kiosk.spec.cwd
    assert kiosk_dir is not None
    shots = stack.options.screenshots
    scanned = 0
    for path in [*kiosk_dir.rglob("*"), *stack.logs().values()]:
        if not path.is_file() or (shots is not None and shots in path.parents):
            continue  # screenshots exist only in demo/test mode and show masked data
        data = path.read_bytes()
        scanned += 1
        for needle in needles:
            assert needle not in data, f"citizen data found in {path}"
    assert scanned >= len(stack.logs())


def test_edge_down_is_said_plainly_and_the_kiosk_recovers_when_it_returns(at_rest, pensioner):
    stack = at_rest
    kiosk, card = stack.kiosk_client(), stack.card()
    edge = stack.procs["edge"]
    edge.stop()
    try:
        card.insert(citizen_index=pensioner["index"])
        kiosk.wait_screen("message")
        assert "服务暂时不可用" in "".join(kiosk.texts())
    finally:
        stack.procs["edge"] = stack.sup.restart(edge)
    # Same card still in: the kiosk's retry reaches the edge once it is back.
    kiosk.wait_screen("home", timeout=60)
    assert kiosk.status()["session_active"] is True


def test_central_down_answers_from_the_edge_cache_with_its_as_of_time(at_rest, pensioner):
    stack = at_rest
    kiosk, card, central = stack.kiosk_client(), stack.card(), stack.central_client()
    card.insert(citizen_index=pensioner["index"])  # fills the edge's cache
    kiosk.wait_screen("home")
    card.remove()
    kiosk.wait_screen("attract")

    central.set_faults(outage=True)
    card.insert(citizen_index=pensioner["index"])
    kiosk.wait_screen("home")
    assert "显示的数据更新于" in "".join(kiosk.texts())


def test_central_down_with_nothing_cached_is_a_clear_unavailable(at_rest):
    stack = at_rest
    kiosk, card, central = stack.kiosk_client(), stack.card(), stack.central_client()
    never_seen = central.citizens(offset=4000, limit=50, card_status="normal")
    index = next(c["index"] for c in never_seen if c["card"]["generation"] == 2)
    central.set_faults(outage=True)
    card.insert(citizen_index=index)
    kiosk.wait_screen("message")
    assert "社保中心暂时连不上" in "".join(kiosk.texts())


def test_card_pulled_mid_read_ends_with_a_message_and_no_session(at_rest, pensioner):
    stack = at_rest
    kiosk, card = stack.kiosk_client(), stack.card()
    before = len(edge_sessions(stack))
    card.insert(citizen_index=pensioner["index"], pull_after_apdus=3)
    kiosk.wait_screen("message")
    assert "读卡未完成" in "".join(kiosk.texts())
    assert kiosk.status()["session_active"] is False
    assert len(edge_sessions(stack)) == before


def test_generation_3_card_without_psam_asks_for_staff(at_rest, gen3_holder):
    stack = at_rest
    kiosk = stack.kiosk_client()
    stack.card().insert(citizen_index=gen3_holder["index"])
    kiosk.wait_screen("message")
    assert "本机暂时读不了这张卡" in "".join(kiosk.texts())
    assert kiosk.status()["session_active"] is False


def test_status_reports_the_edge_credential_and_never_the_token(at_rest):
    stack = at_rest
    status = stack.kiosk_client().status()
    token = KioskSettings.load(stack.device_file).device_token.get_secret_value()
    expires_at = read_token(token).expires_at
    assert expires_at is not None  # provisioning issues dev2 tokens, 90 days by default
    # Not due for renewal (a third of its lifetime is left long after this test).
    assert status["credential"] == {"state": "valid", "out_of_service": False,
                                    "expires_at": expires_at.timestamp()}
    assert token not in json.dumps(status)
