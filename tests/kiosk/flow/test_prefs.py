"""A citizen's mode, language and sound choices (kiosk.flow.prefs) in the flow: one tap each,
slower idle timing in elder mode, and the device's defaults back once the kiosk is at rest."""

from __future__ import annotations

import pytest

from common.backoff import Backoff
from kiosk.flow import Action, FlowConfig, RetryPolicy, ScreenName
from kiosk.flow.prefs import VOLUME_LEVELS, Preferences, device_defaults
from tests.kiosk.flow.test_core import Kiosk as CoreKiosk

DEFAULTS = Preferences(mode="elder", language="zh_CN", muted=False)
CONFIG = FlowConfig(
    idle_timeout_s=90, idle_warning_s=30, message_hold_s=20, page_size=6,
    retry=RetryPolicy(backoff=Backoff(initial_s=2, max_s=30, jitter=0)),
    defaults=DEFAULTS, elder_idle_factor=1.5, normal_muted=True,
    page_sizes={"elder": 6, "normal": 9},
)


class Kiosk(CoreKiosk):
    def __init__(self, config: FlowConfig = CONFIG) -> None:
        super().__init__(config=config)


@pytest.fixture
def kiosk() -> Kiosk:
    return Kiosk()


def test_each_toggle_is_one_tap_and_is_published(kiosk: Kiosk) -> None:
    kiosk.at_home()
    published = len(kiosk.views)
    kiosk.tap(Action.TOGGLE_LANGUAGE)
    assert kiosk.prefs.language == "en" and len(kiosk.views) == published + 1
    assert kiosk.view.screen is ScreenName.HOME and kiosk.view.session_active
    kiosk.tap(Action.TOGGLE_MODE)
    assert kiosk.prefs.mode == "normal"
    assert kiosk.prefs.muted  # normal mode starts without voice here (normal_muted)
    kiosk.tap(Action.TOGGLE_MUTE)
    assert not kiosk.prefs.muted
    kiosk.tap(Action.TOGGLE_MODE)
    assert (kiosk.prefs.mode, kiosk.prefs.muted) == ("elder", False)  # elder mode speaks
    kiosk.tap(Action.TOGGLE_LANGUAGE)
    assert kiosk.prefs.language == "zh_CN"


def test_volume_steps_stay_in_range_and_louder_unmutes(kiosk: Kiosk) -> None:
    for _ in range(VOLUME_LEVELS + 2):
        kiosk.tap(Action.VOLUME_DOWN)
    assert kiosk.prefs.volume == 1
    kiosk.tap(Action.TOGGLE_MUTE)
    assert kiosk.prefs.muted
    kiosk.tap(Action.VOLUME_UP)
    assert kiosk.prefs.volume == 2 and not kiosk.prefs.muted
    for _ in range(VOLUME_LEVELS + 2):
        kiosk.tap(Action.VOLUME_UP)
    assert kiosk.prefs.volume == VOLUME_LEVELS


def test_pulling_the_card_brings_back_the_device_defaults(kiosk: Kiosk) -> None:
    kiosk.at_home()
    for action in (Action.TOGGLE_MODE, Action.TOGGLE_LANGUAGE, Action.VOLUME_UP):
        kiosk.tap(action)
    assert kiosk.prefs != DEFAULTS
    kiosk.reader.remove()
    assert kiosk.view.screen is ScreenName.ATTRACT and kiosk.prefs == DEFAULTS
    assert kiosk.flow.idle_timing == (135, 45)  # elder timing again


def test_an_attract_screen_choice_carries_into_the_next_session(kiosk: Kiosk) -> None:
    kiosk.tap(Action.TOGGLE_LANGUAGE)
    assert kiosk.view.screen is ScreenName.ATTRACT and kiosk.prefs.language == "en"
    kiosk.at_home()
    assert kiosk.prefs.language == "en"
    kiosk.tap(Action.END)
    assert kiosk.view.screen is ScreenName.ENDING
    # "Please take your card" is still in the citizen's language; at rest it is not.
    assert kiosk.prefs.language == "en"
    kiosk.reader.remove()
    assert kiosk.prefs == DEFAULTS


def test_a_choice_on_the_attract_screen_lapses_when_nobody_starts(kiosk: Kiosk) -> None:
    kiosk.tap(Action.TOGGLE_LANGUAGE)
    kiosk.clock.advance(60)
    kiosk.tap(Action.TOGGLE_MODE)  # a second choice: the lapse counts from it
    kiosk.clock.advance(80)
    assert (kiosk.prefs.language, kiosk.prefs.mode) == ("en", "normal")
    kiosk.clock.advance(10)
    assert kiosk.prefs == DEFAULTS and kiosk.view.screen is ScreenName.ATTRACT
    assert kiosk.clock.pending() == []  # nothing left running at rest


def test_the_lapse_does_not_cut_into_a_session(kiosk: Kiosk) -> None:
    kiosk.tap(Action.TOGGLE_LANGUAGE)
    kiosk.at_home()
    kiosk.clock.advance(89)  # past the lapse of the attract choice, before the idle warning
    assert kiosk.prefs.language == "en" and kiosk.view.session_active


def test_elder_mode_waits_longer_and_the_warning_stays_long(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.clock.advance(89)  # elder: 135 s in all, the last 45 s the warning
    assert kiosk.view.idle_seconds_left is None
    kiosk.clock.advance(1)
    assert kiosk.view.idle_seconds_left == 45
    kiosk.tap(Action.EXTEND)
    kiosk.tap(Action.TOGGLE_MODE)  # normal: 90 s, the last 30 s the warning
    assert kiosk.flow.idle_timing == (90, 30)
    kiosk.clock.advance(59)
    assert kiosk.view.idle_seconds_left is None
    kiosk.clock.advance(1)
    assert kiosk.view.idle_seconds_left == 30
    kiosk.clock.advance(30)
    assert kiosk.view.screen is ScreenName.ENDING and not kiosk.view.session_active


def test_an_idle_wipe_without_a_card_resets_at_once() -> None:
    kiosk = Kiosk()
    kiosk.tap(Action.TOGGLE_LANGUAGE)
    kiosk.tap(Action.START_JOURNEY, "card-loss")  # a walk-up journey: no card in the slot
    assert kiosk.view.screen is ScreenName.KEYPAD and kiosk.prefs.language == "en"
    kiosk.clock.advance(CONFIG.idle_timeout_s * 1.5)
    assert kiosk.view.screen is ScreenName.ATTRACT and kiosk.prefs == DEFAULTS


def test_a_toggle_inside_a_journey_never_reaches_the_journey(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.tap(Action.START_JOURNEY, "benefits")
    kiosk.tasks.run_all()
    before = kiosk.view
    assert before.screen is ScreenName.BENEFITS and before.content is not None
    kiosk.tap(Action.TOGGLE_LANGUAGE)
    after = kiosk.view
    assert after.screen is ScreenName.BENEFITS and after.content == before.content
    assert after.prefs.language == "en" and kiosk.tasks.queue == []


def test_the_page_size_follows_the_mode(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.tap(Action.TOGGLE_MODE)
    kiosk.tap(Action.START_JOURNEY, "benefits")
    kiosk.tasks.run_all()
    content = kiosk.view.content
    assert content is not None and content.page_count == 2  # 14 months, 9 a page


def test_the_device_defaults_from_the_settings() -> None:
    assert device_defaults("normal", "en", normal_muted=True) == Preferences(
        mode="normal", language="en", muted=True)
    assert not device_defaults("elder", "zh_CN", normal_muted=True).muted
    assert device_defaults("elder", "zh_CN", muted=True).muted
    normal = Kiosk(FlowConfig(defaults=device_defaults("normal", "en"), elder_idle_factor=2))
    assert normal.prefs.mode == "normal" and normal.flow.idle_timing == (90, 30)
    normal.tap(Action.TOGGLE_MODE)
    assert normal.flow.idle_timing == (180, 60)
