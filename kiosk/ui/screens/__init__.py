"""The screens, one module each. `SCREENS` is the registry `KioskApp.build()` iterates.

Adding a screen: its module here, its catalogue strings (kiosk/i18n) and one line below;
tests/kiosk/ui/screens/test_registry.py checks that every `ScreenName` has exactly one.
"""

from __future__ import annotations

from kiosk.ui.screens.applications import ApplicationScreen, ApplicationsScreen
from kiosk.ui.screens.attract import AttractScreen
from kiosk.ui.screens.base import KioskScreen, UiContext
from kiosk.ui.screens.benefits import BenefitsScreen
from kiosk.ui.screens.capture import CaptureScreen
from kiosk.ui.screens.certificate import CertificateScreen, PrintingScreen
from kiosk.ui.screens.certify_due import CertifyScreen
from kiosk.ui.screens.confirm import ConfirmScreen
from kiosk.ui.screens.contributions import ContributionsScreen
from kiosk.ui.screens.ending import EndingScreen
from kiosk.ui.screens.home import HomeScreen
from kiosk.ui.screens.keypad import KeypadScreen
from kiosk.ui.screens.message import MessageScreen
from kiosk.ui.screens.pension_account import PensionAccountScreen
from kiosk.ui.screens.pin import PinScreen
from kiosk.ui.screens.precheck import PrecheckScreen
from kiosk.ui.screens.progress import (
    IdentifyingScreen,
    LoadingScreen,
    ReadingScreen,
    SubmittingScreen,
)
from kiosk.ui.screens.receipt import ReceiptScreen
from kiosk.ui.screens.subsidies import SubsidiesScreen

SCREENS: tuple[type[KioskScreen], ...] = (
    AttractScreen,
    ReadingScreen,
    IdentifyingScreen,
    HomeScreen,
    LoadingScreen,
    BenefitsScreen,
    ContributionsScreen,
    PensionAccountScreen,
    SubsidiesScreen,
    KeypadScreen,
    PrecheckScreen,
    ConfirmScreen,
    SubmittingScreen,
    ReceiptScreen,
    ApplicationsScreen,
    ApplicationScreen,
    MessageScreen,
    EndingScreen,
    CertifyScreen,
    CaptureScreen,
    PinScreen,
    PrintingScreen,
    CertificateScreen,
)

__all__ = ["SCREENS", "KioskScreen", "UiContext"]
