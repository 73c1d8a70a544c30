"""`SCREENS` (kiosk/ui/screens/__init__.py) registers one screen per `ScreenName`.

Run in a child process: importing Kivy reads the environment and must not touch pytest's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kiosk.flow.screens import ScreenName
from kiosk.i18n import catalog

ROOT = Path(__file__).resolve().parents[4]
PROBE = """
import json
from kiosk.ui import boot
boot.prepare_environment()
from kiosk.ui.screens import SCREENS
print(json.dumps([{"name": str(s.screen_name), "prompts": list(s.prompts),
                   "citizen": s.holds_citizen_data} for s in SCREENS]))
"""


def _registry() -> list[dict[str, object]]:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_screens_covers_every_screen_name_once_with_prompts_in_the_catalogue() -> None:
    screens = _registry()
    names = [s["name"] for s in screens]
    assert sorted(names) == sorted(str(n) for n in ScreenName)  # all, and none twice
    keys = set(catalog("zh_CN"))
    for screen in screens:
        assert all(key in keys for key in screen["prompts"]), screen  # type: ignore[union-attr]
        # The message screen speaks its notice; every other screen declares what it says.
        assert screen["prompts"] or screen["name"] == ScreenName.MESSAGE
    assert {s["name"] for s in screens if s["citizen"]} == {
        "home", "benefits", "contributions", "pension-account", "subsidies", "keypad", "precheck",
        "confirm", "receipt",
        "applications", "application", "certify", "capture", "pin", "certificate"}
