"""Elder/normal mode, the language and the sound, switched on screen in a real (offscreen)
window: tests.kiosk.modes_gallery's walk, run as a subprocess like the other galleries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kiosk.test_window import GALLERY_TIMEOUT_S, run_gallery

DEFAULTS = {"theme": "elder", "language": "zh_CN", "muted": False, "volume": 3}
SOUND = ["chrome.language", "chrome.mute", "chrome.volume-down", "chrome.volume-up"]


def _height_of(shot: dict[str, Any], text: str) -> float:
    """The drawn height (px) of the text `text` on that step's screen."""
    found = [w for w in shot["layout"]["widgets"] if w.get("text") == text]
    assert found, f"{text!r} not laid out"
    return float(found[0]["texture"][1])


@pytest.mark.timeout(GALLERY_TIMEOUT_S + 60)
def test_modes_languages_and_sound_switch_on_screen_and_reset(tmp_path: Path) -> None:
    shots = run_gallery(tmp_path, "--walk", "modes")
    assert list(shots) == ["01-attract", "02-attract-en", "03-attract-zh", "04-home-elder",
                           "05-home-normal", "06-home-normal-en", "07-home-elder-en",
                           "08-home-muted", "09-home-louder", "10-attract-defaults"]
    texts = {step: " ".join(shot["texts"]) for step, shot in shots.items()}
    prefs = {step: shot["prefs"] for step, shot in shots.items()}
    header = {step: prefs[step].pop("header") for step in shots}
    for step, shot in shots.items():
        assert shot["failures"] == [], step  # fits, contrast, targets of the theme in effect
        assert shot["chrome"] == SOUND, step  # language and sound, on every screen
        assert Path(shot["path"]).stat().st_size > 10_000

    # On the attract screen: English at once, and back.
    assert prefs["01-attract"] == DEFAULTS and header["01-attract"][0] == "English"
    assert prefs["02-attract-en"] == {**DEFAULTS, "language": "en"}
    assert "Please insert your social security card" in texts["02-attract-en"]
    assert "请插入" not in texts["02-attract-en"] and header["02-attract-en"][0] == "中文"
    assert "请插入社会保障卡" in texts["03-attract-zh"] and prefs["03-attract-zh"] == DEFAULTS

    # In a session: the home screen's one-tap switch, labelled by what it does.
    assert "home.mode" in shots["04-home-elder"]["targets"]
    assert "切换到标准模式" in texts["04-home-elder"] and "您好，张*" in texts["04-home-elder"]
    assert prefs["05-home-normal"] == {**DEFAULTS, "theme": "normal"}
    assert "切换到大字模式" in texts["05-home-normal"] and "您好，张*" in texts["05-home-normal"]
    # The theme in effect is the one drawn: the greeting is smaller in normal mode.
    elder, normal = (_height_of(shots[s], "您好，张*") for s in ("04-home-elder",
                                                             "05-home-normal"))
    assert normal < elder * 0.9, (elder, normal)

    # The header's language button re-renders the session's screen in English at once.
    assert prefs["06-home-normal-en"] == {**DEFAULTS, "theme": "normal", "language": "en"}
    assert "Hello, 张*" in texts["06-home-normal-en"]
    assert "Use large text" in texts["06-home-normal-en"] and "您好" not in texts[
        "06-home-normal-en"]
    assert header["06-home-normal-en"] == ["中文", "Mute", "Volume 3/5"]
    # Back to elder mode, still in English: its switch says what it does in English.
    assert prefs["07-home-elder-en"] == {**DEFAULTS, "language": "en"}
    assert "Use standard text" in texts["07-home-elder-en"]
    assert _height_of(shots["07-home-elder-en"], "Hello, 张*") > _height_of(
        shots["06-home-normal-en"], "Hello, 张*") * 1.1
    assert prefs["08-home-muted"]["muted"] and header["08-home-muted"][1] == "Sound on"
    assert prefs["09-home-louder"] == {**DEFAULTS, "language": "en",
                                       "volume": 4}  # louder also unmutes
    assert header["09-home-louder"] == ["中文", "Mute", "Volume 4/5"]

    # The card is pulled: the next person starts with the device's defaults.
    assert shots["10-attract-defaults"]["screen"] == "attract"
    assert prefs["10-attract-defaults"] == DEFAULTS
    assert header["10-attract-defaults"] == ["English", "静音", "音量 3/5"]
    assert "请插入社会保障卡" in texts["10-attract-defaults"]
    assert "张*" not in texts["10-attract-defaults"]
    assert _height_of(shots["10-attract-defaults"], "请插入社会保障卡") == _height_of(
        shots["01-attract"], "请插入社会保障卡")  # elder-sized again
