"""The scripted journey the demo plays when there is no display.

It drives only what a tester could: the virtual card (insert, pull), the central simulator's
faults, and the kiosk's automation hooks (wait for a screen, tap, screenshot).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from simulators.demo.kiosk_steps import (
    confirm_to_receipt,
    fill_application,
    follow_challenges,
    type_on_keypad,
)
from simulators.stack.clients import CentralSimClient, ControlError, EdgeClient, KioskClient
from simulators.stack.services import CENTRAL_API_KEY
from simulators.stack.stack import Stack

Say = Callable[[str], None]


@dataclass(frozen=True)
class Cast:
    """Citizens of the synthetic population chosen for their cards."""

    pensioner: int  # receives a pension, generation-2 card in good standing
    gen3_holder: int  # generation-3 card: holder data behind PSAM authentication
    applicant: int  # eligible for a subsidy, and its pre-check passes


def _first(citizens: list[dict[str, Any]], generation: int) -> int:
    for c in citizens:
        if c["card"]["generation"] == generation:
            return int(c["index"])
    raise LookupError(f"no citizen with a generation-{generation} card in the first page")


def _form(item: dict[str, Any]) -> dict[str, str]:
    """What the citizen types into the subsidy's form fields (contract 1.1)."""
    return {f["name"]: "13800138000" if f["kind"] == "phone" else "2026"[: f.get("max_length", 4)]
            for f in item.get("form_fields") or []}


def application_for(central: CentralSimClient, citizen: dict[str, Any]) -> dict[str, Any] | None:
    """An application body (edge API) for the first subsidy the citizen is eligible for and
    whose pre-check passes; None if there is none."""
    card = citizen["card"]
    if card["generation"] == 3:
        return None  # the demo's terminal has no PSAM: this card cannot open a session
    for item in central.subsidies(citizen["citizen_id"], CENTRAL_API_KEY):
        if not item["eligible"]:
            continue
        body = {"subsidy": item["code"], "period": item["period"], "form": _form(item)}
        payload = {"citizen_id": citizen["citizen_id"], **body, "identity": {
            "method": "card", "card_number": card["card_number"],
            "card_id_code": card["card_id_code"], "name": citizen["name"]}}
        if central.precheck(payload, CENTRAL_API_KEY)["ok"]:
            return body
    return None


def choose_cast(central: CentralSimClient) -> Cast:
    pensioners = central.citizens(limit=200, card_status="normal", receiving_pension="true")
    holders = central.citizens(limit=200, card_status="normal")
    pensioner = _first(pensioners, 2)
    applicant = next((int(c["index"]) for c in holders if int(c["index"]) != pensioner
                      and application_for(central, c) is not None), None)
    if applicant is None:
        raise LookupError("nobody in the first page can apply for a subsidy")
    return Cast(pensioner=pensioner, gen3_holder=_first(holders, 3), applicant=applicant)


def _until(probe: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `probe` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    pace = threading.Event()  # never set: paces the poll
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        pace.wait(0.2)
    raise ControlError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Journey:
    stack: Stack
    say: Say
    shots: list[Path] = field(default_factory=list)

    def _shot(self, name: str, kiosk: KioskClient | None = None) -> None:
        path = (kiosk or self.stack.kiosk_client()).screenshot(name)
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

        self.apply_while_central_is_down(cast)
        if self.stack.options.with_camera:
            self.certify_in_the_hall(cast)
            self.field_trip(cast)
        if self.stack.options.with_qr and self.stack.options.with_printers:
            self.qr_and_a_certificate(cast)
        return self.shots

    def _prepare_trip(self, kiosk: KioskClient, county: str) -> None:
        staff_id, pin = self.stack.FIELD_STAFF
        self._step(f"staff member {staff_id} logs in with their PIN, checked offline")
        kiosk.tap("attract.field-login")
        kiosk.wait_screen("keypad")
        type_on_keypad(kiosk, staff_id)
        kiosk.tap("keypad.next")
        type_on_keypad(kiosk, pin)
        kiosk.tap("keypad.next")
        kiosk.wait_screen("attract")
        self._step(f"they download the roster of county {county} before leaving")
        kiosk.tap("attract.field-trip")
        kiosk.wait_screen("keypad")
        type_on_keypad(kiosk, county)
        kiosk.tap("keypad.next")
        kiosk.wait_screen("confirm", timeout=60)
        self._shot("15-field-trip-roster", kiosk)
        kiosk.tap("confirm.confirm")
        kiosk.wait_screen("attract")

    def field_trip(self, cast: Cast) -> None:
        """A short field trip: a staff member logs in on a field terminal (offline-valid
        credentials), downloads a village's roster while online, certifies a villager by ID
        number and face with no network, and the record syncs, signed, once the link is back."""
        central, camera = self.stack.central_client(), self.stack.camera_client()
        self._step("a field terminal (its own edge on the device) goes to a village")
        self.stack.start_field()
        kiosk = self.stack.field_kiosk_client()
        kiosk.wait_screen("attract", timeout=60)
        villager = next(c for c in central.citizens(limit=50, card_status="normal",
                                                    receiving_pension="true")
                        if int(c["index"]) != cast.pensioner)
        central.bind_faces("a", [villager["citizen_id"]], make_due=True)
        self._prepare_trip(kiosk, villager["region"])
        before = _certified(central, int(villager["index"]))
        self._step("in the village there is no network; a villager left their card at home")
        central.set_faults(outage=True)
        try:
            camera.scene("empty")
            kiosk.tap("attract.field-certify")
            kiosk.wait_screen("keypad")
            type_on_keypad(kiosk, villager["citizen_id"])
            kiosk.tap("keypad.next")
            kiosk.wait_screen("certify", timeout=30)
            camera.scene("live", identity="a", seed=11)
            kiosk.tap("certify.start")
            kiosk.wait_screen("capture", timeout=60)
            ended = follow_challenges(kiosk, camera, until=("receipt", "certify", "message"))
            self._shot("16-field-receipt-queued", kiosk)
            if ended != "receipt":
                raise ControlError(f"the field certification ended on {ended!r}: "
                                   f"{kiosk.texts()}")
        finally:
            central.set_faults(outage=False)
        self._step("back in range: the terminal syncs its queue")
        recorded = _until(lambda: _certified(central, int(villager["index"])) - before,
                          "the province to record the field certification", timeout=90)
        if recorded != 1:
            raise ControlError(f"the province recorded the field certification {recorded} "
                               "times")
        self.say("  the province recorded the field certification once, signed by the "
                 "field terminal")
        camera.scene("empty")
        kiosk.tap("receipt.done")

    def certify_in_the_hall(self, cast: Cast) -> None:
        """The pensioner's yearly qualification certification: face and action liveness on
        the kiosk, the record signed by the terminal, judged again by the edge and recorded
        once by the province."""
        central, kiosk, camera = (self.stack.central_client(), self.stack.kiosk_client(),
                                  self.stack.camera_client())
        citizen = central.citizen(cast.pensioner)
        central.bind_faces("a", [citizen["citizen_id"]], make_due=True)
        before = _certified(central, cast.pensioner)
        self._step(f"the pensioner (citizen #{cast.pensioner}) comes back for the yearly "
                   "certification")
        camera.scene("empty")
        self.stack.card().insert(citizen_index=cast.pensioner)
        kiosk.wait_screen("home")
        kiosk.tap("home.certify")
        kiosk.wait_screen("certify", timeout=30)
        self._shot("12-certification-due")
        self._step("they step in front of the camera and do what the screen and the voice ask")
        camera.scene("live", identity="a", seed=7)
        kiosk.tap("certify.start")
        kiosk.wait_screen("capture", timeout=60)
        self._shot("13-guided-capture")
        ended = follow_challenges(kiosk, camera, until=("receipt", "certify", "message"))
        self._shot("14-certification-receipt")
        if ended != "receipt":
            raise ControlError(f"the certification ended on {ended!r}: {kiosk.texts()}")
        recorded = _until(lambda: _certified(central, cast.pensioner) - before,
                          "the province to record the certification", timeout=60)
        if recorded != 1:
            raise ControlError(f"the province recorded the certification {recorded} times")
        self.say("  the province recorded the certification once, its signature checked")
        camera.scene("empty")
        self.stack.card().remove()
        kiosk.wait_screen("attract", timeout=40)

    def qr_and_a_certificate(self, cast: Cast) -> None:
        """The phone's e-SSC code at the scanner, then a signed participation certificate
        printed on A4 (the private cupsd's cups-pdf queue), its code checked as a bank would."""
        kiosk, central = self.stack.kiosk_client(), self.stack.central_client()
        citizen = central.citizen(cast.pensioner)
        self._step("a citizen without their card shows the e-SSC QR code on their phone")
        token = central.ecard_token(citizen["citizen_id"], device_id=self.stack.options.device_id)
        self.stack.qr_client().scan(token)
        kiosk.wait_screen("home", timeout=30)
        self._shot("17-home-by-qr")
        self._step("they print their participation certificate (参保证明) on the A4 printer")
        kiosk.tap("home.certificate")
        kiosk.wait_screen("certificate", timeout=120)
        self._shot("18-certificate-printed")
        found = re.search(r"[2-9A-HJ-NP-Y]{4}(?:-[2-9A-HJ-NP-Y]{4}){3}", "".join(kiosk.texts()))
        if found is None:
            raise RuntimeError("the certificate screen shows no verification code")
        verdict = httpx.get(f"{self.stack.edge.url}/verify/{found.group(0)}",
                            headers={"Accept": "application/json"}, timeout=10).json()
        self.say(f"  verify {found.group(0)}: {verdict['status']}")
        kiosk.tap("certificate.done")
        kiosk.wait_screen("home", timeout=30)
        kiosk.tap("home.end")
        kiosk.wait_screen("attract", timeout=40)

    def apply_while_central_is_down(self, cast: Cast) -> None:
        """An application made on the kiosk's screens during an outage gets a receipt that
        says "queued"; the edge's outbox sends it when central is back, exactly once."""
        central, edge, kiosk = (self.stack.central_client(), self.stack.edge_client(),
                                self.stack.kiosk_client())
        citizen = central.citizen(cast.applicant)
        body = application_for(central, citizen)
        if body is None:
            raise ControlError(f"citizen #{cast.applicant} can no longer apply")
        self._step(f"citizen #{cast.applicant} inserts their card and fills in an application "
                   f"for {body['subsidy']}")
        name = fill_application(self.stack, citizen, body)
        self._shot("09-application-form")
        self._step(f"central goes down before they confirm {name}")
        central.set_faults(outage=True)
        try:
            kiosk.tap("keypad.next")
            kiosk.wait_screen("precheck", timeout=30)
            self._shot("10-precheck-not-possible")
            number = confirm_to_receipt(kiosk)
            self._shot("11-receipt-queued")
            receipt = edge.get(f"/submissions/{number}")
        finally:
            central.set_faults(outage=False)
        self.say(f"  receipt {number}: {receipt['state']}")
        if receipt["state"] != "queued":
            raise ControlError(f"the receipt during the outage says {receipt['state']!r}")

        self._step("central is back: the outbox sends the application")
        sent = _until(lambda: _sent(edge, number), f"receipt {number} to be sent")
        recorded = _until(lambda: _recorded(central, cast.applicant),
                          "the simulator to list the application")
        self.say(f"  receipt {number}: {sent['state']}, application {sent['application_no']}")
        if recorded != 1:
            raise ControlError(f"the simulator recorded the application {recorded} times")
        self.say("  the simulator recorded it exactly once")
        kiosk.tap("receipt.done")
        kiosk.wait_screen("home")
        self.stack.card().remove()
        kiosk.wait_screen("attract")


def _sent(edge: EdgeClient, receipt_no: str) -> dict[str, Any] | None:
    receipt = edge.get(f"/submissions/{receipt_no}")
    return dict(receipt) if receipt["state"] == "sent" else None


def _certified(central: CentralSimClient, citizen_index: int) -> int:
    """How many certifications of the citizen the province recorded."""
    return sum(1 for s in central.submissions(kind="pension-certification")
               if s.get("citizen_index") == citizen_index)


def _recorded(central: CentralSimClient, citizen_index: int) -> int:
    """How many of the citizen's applications the simulator recorded (first page is enough:
    the demo's is the only one)."""
    return sum(1 for s in central.submissions(kind="subsidy-application")
               if s.get("citizen_index") == citizen_index)
