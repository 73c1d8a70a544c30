"""The gallery's walk through a citizen's presentation choices (`python -m tests.kiosk.gallery
OUT --walk modes`): English and back on the attract screen, then in a session the home
screen's elder/normal switch, the header's language and mute buttons, and the device's
defaults again once the card is pulled. Each step's manifest entry also records the header's
controls (`chrome`) and the choices in effect (`prefs`: theme, language, muted, volume).
The step names are those of the default device (elder, zh_CN); with `--theme normal` or
`--language en` each switch goes the other way."""

from __future__ import annotations

from typing import Any

from tests.kiosk.fakes import sample_card
from tests.kiosk.gallery import Journey


class ModesWalk(Journey):
    def snap(self, step: str, screen: str, theme: str) -> None:
        """A gallery shot, checked against `theme`'s touch-target minimum, plus the header's
        controls and the choices in effect as the kiosk reports them."""
        self.theme = theme
        self.shot(step, screen)
        texts: dict[str, Any] = self.http.get("/automation/texts").json()
        self.manifest[step].update(prefs=texts["prefs"], chrome=texts["chrome"],
                                   targets=texts["targets"])

    def run(self) -> None:
        r = self.reader
        # The device's theme (the gallery's --theme) and the other one a citizen switches to.
        home = self.theme
        other = "normal" if home == "elder" else "elder"
        self.snap("01-attract", "attract", home)
        self.tap("chrome.language")
        self.snap("02-attract-en", "attract", home)
        self.tap("chrome.language")
        self.snap("03-attract-zh", "attract", home)

        r.insert(sample_card())
        self.snap("04-home-elder", "home", home)
        self.tap("home.mode")
        self.snap("05-home-normal", "home", other)
        self.tap("chrome.language")
        self.snap("06-home-normal-en", "home", other)
        self.tap("home.mode")
        self.snap("07-home-elder-en", "home", home)
        self.tap("chrome.mute")
        self.snap("08-home-muted", "home", home)
        self.tap("chrome.volume-up")
        self.snap("09-home-louder", "home", home)

        r.remove()
        self.snap("10-attract-defaults", "attract", home)


__all__ = ["ModesWalk"]
