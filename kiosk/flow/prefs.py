"""A citizen's presentation choices: elder or normal mode, language, mute and volume.

The device file sets the defaults (`KioskSettings.theme`, `language`, `voice_muted`); a citizen
changes them with one tap (the home screen's mode button, the header's language and sound
buttons). They last while someone is served: when the kiosk is back at rest on the attract
screen, the flow puts the defaults back, so the next person starts clean (kiosk.flow.core).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kiosk.flow.screens import Action

Mode = Literal["elder", "normal"]
VOLUME_LEVELS = 5  # steps of the on-screen volume; kiosk.voice maps each to an amplitude
DEFAULT_VOLUME = 3

# The taps that change a preference; allowed on every screen a citizen can tap.
PREFERENCE_ACTIONS = frozenset({Action.TOGGLE_MODE, Action.TOGGLE_LANGUAGE, Action.TOGGLE_MUTE,
                                Action.VOLUME_UP, Action.VOLUME_DOWN})


@dataclass(frozen=True)
class Preferences:
    mode: Mode = "elder"
    language: str = "zh_CN"
    muted: bool = False
    volume: int = DEFAULT_VOLUME  # 1..VOLUME_LEVELS

    def after(self, action: Action, *, normal_muted: bool = False) -> Preferences:
        """These preferences once `action` is tapped. Switching the mode also takes that
        mode's sound default: elder mode speaks, normal mode is muted when `normal_muted`."""
        match action:
            case Action.TOGGLE_MODE:
                mode: Mode = "normal" if self.mode == "elder" else "elder"
                return replace(self, mode=mode, muted=mode == "normal" and normal_muted)
            case Action.TOGGLE_LANGUAGE:
                return replace(self, language="en" if self.language == "zh_CN" else "zh_CN")
            case Action.TOGGLE_MUTE:
                return replace(self, muted=not self.muted)
            case Action.VOLUME_UP:  # louder also unmutes: the citizen plainly wants to hear
                return replace(self, volume=min(self.volume + 1, VOLUME_LEVELS), muted=False)
            case Action.VOLUME_DOWN:
                return replace(self, volume=max(self.volume - 1, 1))
        return self


def device_defaults(mode: Mode, language: str, *, muted: bool = False,
                    normal_muted: bool = False, volume: int = DEFAULT_VOLUME) -> Preferences:
    """The device file's choices: what every citizen starts with."""
    return Preferences(mode=mode, language=language,
                       muted=muted or (mode == "normal" and normal_muted),
                       volume=min(max(volume, 1), VOLUME_LEVELS))
