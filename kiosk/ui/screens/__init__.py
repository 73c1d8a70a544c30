"""The screens, one module each. `SCREENS` is the registry `KioskApp.build()` iterates.

Adding a screen: its module here, its catalogue strings (kiosk/i18n) and one line below;
tests/kiosk/ui/screens/test_registry.py checks that every `ScreenName` has exactly one.
"""

from __future__ import annotations

from kiosk.ui.screens.attract import AttractScreen
from kiosk.ui.screens.base import KioskScreen, UiContext
from kiosk.ui.screens.benefits import BenefitsScreen
from kiosk.ui.screens.ending import EndingScreen
from kiosk.ui.screens.home import HomeScreen
from kiosk.ui.screens.message import MessageScreen
from kiosk.ui.screens.progress import IdentifyingScreen, LoadingScreen, ReadingScreen

SCREENS: tuple[type[KioskScreen], ...] = (
    AttractScreen,
    ReadingScreen,
    IdentifyingScreen,
    HomeScreen,
    LoadingScreen,
    BenefitsScreen,
    MessageScreen,
    EndingScreen,
)

__all__ = ["SCREENS", "KioskScreen", "UiContext"]
