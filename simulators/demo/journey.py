"""The scripted journey the demo plays when there is no display.

It drives only what a tester could: the virtual card (insert, pull), the central simulator's
faults, and the kiosk's automation hooks (wait for a screen, tap, screenshot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.stack.clients import CentralSimClient
from simulators.stack.stack import Stack

Say = Callable[[str], None]


@dataclass(frozen=True)
class Cast:
    """Citizens of the synthetic population chosen for their cards."""

    pensioner: int  # receives a pension, generation-2 card in good standing
    gen3_holder: int  # generation-3 card: holder data behind PSAM authentication


def _first(citizens: list[dict[str, Any]], generation: int) -> int:
    for c in citizens:
        if c["card"]["generation"] == generation:
            return int(c["index"])
    raise LookupError(f"no citizen with a generation-{generation} card in the first page")


def choose_cast(central: CentralSimClient) -> Cast:
    pensioners = central.citizens(limit=200, card_status="normal", receiving_pension="true")
    holders = central.citizens(limit=200, card_status="normal")
    return Cast(pensioner=_first(pensioners, 2), gen3_holder=_first(holders, 3))


@dataclass
class Journey:
    stack: Stack
    say: Say
    shots: list[Path] = field(default_factory=list)

    def _shot(self, name: str) -> None:
        path = self.stack.kiosk_client().screenshot(name)
        self.shots.append(path)
        self.say(f"  screenshot {path}")

    def _step(self, text: str) -> None:
        self.say(f"- {text}")

    def run(self) -> list[Path]:
        kiosk, card, central = (self.stack.kiosk_client(), self.stack.card(),
                                self.stack.central_client())
        cast = choose_cast(central)

        self._step("the kiosk waits for a card")
        kiosk.wait_screen("attract")
        self._shot("01-attract")

        self._step(f"a pensioner inserts a generation-2 card (citizen #{cast.pensioner})")
        card.insert(citizen_index=cast.pensioner)
        kiosk.wait_screen("home")
        self._shot("02-home")

        self._step("they tap the pension payments button")
        kiosk.tap("home.benefits")
        kiosk.wait_screen("benefits")
        self._shot("03-benefits")

        self._step("they take their card: the session ends and is wiped")
        card.remove()
        kiosk.wait_screen("attract")
        self._shot("04-card-removed")

        self._step("the central platform goes down; the edge answers from its cache, "
                   "saying how old the data is")
        central.set_faults(outage=True)
        try:
            card.insert(citizen_index=cast.pensioner)
            kiosk.wait_screen("home")
            self._shot("05-home-from-cache")
            kiosk.tap("home.benefits")
            kiosk.wait_screen("benefits")
            self._shot("06-benefits-from-cache")
            card.remove()
            kiosk.wait_screen("attract")
        finally:
            central.set_faults(outage=False)

        self._step(f"a generation-3 card needs the terminal's PSAM (citizen #{cast.gen3_holder})")
        card.insert(citizen_index=cast.gen3_holder)
        kiosk.wait_screen("message")
        self._shot("07-gen3-needs-psam")
        card.remove()
        kiosk.wait_screen("attract")

        self._step("a card is pulled out halfway through the read")
        card.insert(citizen_index=cast.pensioner, pull_after_apdus=3)
        kiosk.wait_screen("message")
        self._shot("08-pulled-mid-read")
        kiosk.wait_screen("attract", timeout=30)
        return self.shots
