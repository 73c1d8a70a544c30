"""The scripted journey the demo plays when there is no display.

It drives only what a tester could: the virtual card (insert, pull), the central simulator's
faults, and the kiosk's automation hooks (wait for a screen, tap, screenshot).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from simulators.demo.kiosk_steps import (
    CARD_PIN,
    STAFF_CODE,
    change_pin,
    confirm_to_receipt,
    fill_application,
    follow_challenges,
    report_loss,
    reverse_loss,
    screen_text,
    shows,
    staff_unlock,
    type_on_keypad,
    until,
)
from simulators.stack.clients import CentralSimClient, ControlError, EdgeClient, KioskClient
from simulators.stack.services import CENTRAL_API_KEY
from simulators.stack.stack import Stack

Say = Callable[[str], None]

CODE = re.compile(r"[2-9A-HJ-NP-Y]{4}(?:-[2-9A-HJ-NP-Y]{4}){3}")  # a certificate's code
PAGES = re.compile(r"第 (\d+) 页，共 (\d+) 页")  # the pager's words (benefits.page)
NEW_PIN, UNLOCKED_PIN, WRONG_PIN = "802461", "913572", "000000"


@dataclass(frozen=True)
class Cast:
    """Citizens of the synthetic population chosen for their cards."""

    pensioner: int  # receives a pension, generation-2 card in good standing
    gen3_holder: int  # generation-3 card: holder data behind PSAM authentication
    applicant: int  # eligible for a subsidy, and its pre-check passes
    pin_holder: int  # generation-2 card: changes its PIN, locks it, has it unlocked by staff
    loser: int  # generation-2 card: reported lost from the attract screen, then found again


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
    # Not pensioners: the field trip certifies one of those, and nobody else's card changes.
    taken = {pensioner, applicant} | {int(c["index"]) for c in pensioners}
    others = [int(c["index"]) for c in holders
              if c["card"]["generation"] == 2 and int(c["index"]) not in taken]
    if len(others) < 2:
        raise LookupError("too few generation-2 card holders in the first page")
    return Cast(pensioner=pensioner, gen3_holder=_first(holders, 3), applicant=applicant,
                pin_holder=others[0], loser=others[1])


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
        kiosk.tap("benefits.back")
        kiosk.wait_screen("home")
        self.records(kiosk)

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

        self.card_troubles(cast)
        self.pin_change_and_unlock(cast)
        self.loss_and_reversal(cast)
        self.apply_while_central_is_down(cast)
        if self.stack.options.with_camera:
            self.certify_in_the_hall(cast)
            self.field_trip(cast)
        if self.stack.options.with_qr and self.stack.options.with_printers:
            self.qr_and_a_certificate(cast)
        return self.shots

    def card_troubles(self, cast: Cast) -> None:
        """A card this terminal cannot read, and one pulled out mid-read: each said plainly."""
        kiosk, card = self.stack.kiosk_client(), self.stack.card()
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
        kiosk.tap("message.ok")  # rather than wait for the notice to time out (20 s)
        kiosk.wait_screen("attract", timeout=30)

    def records(self, kiosk: KioskClient) -> None:
        """From the home screen: contributions by year, a page at a time, and the pension
        personal account; back on the home screen."""
        self._step("they look up their contributions, year by year")
        kiosk.tap("home.contributions")
        kiosk.wait_screen("contributions", timeout=30)
        self._shot("03a-contributions")
        pager = PAGES.search(screen_text(kiosk))
        if pager is None or int(pager.group(2)) < 2:
            raise ControlError(f"the contributions come in one page: {kiosk.texts()}")
        self._step(f"a working life takes {pager.group(2)} pages: they turn to the next one")
        kiosk.tap("contributions.next-page")
        shows(kiosk, f"第 2 页，共 {pager.group(2)} 页")
        self._shot("03b-contributions-page-2")
        kiosk.tap("contributions.back")
        kiosk.wait_screen("home")
        self._step("then their pension personal account: the balance and each year's entries")
        kiosk.tap("home.pension-account")
        kiosk.wait_screen("pension-account", timeout=30)
        shows(kiosk, "账户余额")
        self._shot("03c-pension-account")
        kiosk.tap("pension-account.back")
        kiosk.wait_screen("home")

    def pin_change_and_unlock(self, cast: Cast) -> None:
        """A card PIN changed at the kiosk; then forgotten: a wrong try with the last one left
        locks it, and a staff member unlocks it on the spot (central's key centre signs the
        card's PIN reload) while the holder types a new one."""
        kiosk, card = self.stack.kiosk_client(), self.stack.card()
        self._step(f"citizen #{cast.pin_holder} changes their card's PIN")
        card.insert(citizen_index=cast.pin_holder)
        kiosk.wait_screen("home", timeout=30)
        kiosk.tap("home.pin-change")
        kiosk.wait_screen("pin", timeout=30)
        change_pin(kiosk, CARD_PIN, NEW_PIN)
        shows(kiosk, "密码已修改")
        self._shot("08a-pin-changed")
        kiosk.tap("pin.done")
        kiosk.wait_screen("home", timeout=30)

        self._step("they forget the new one: two wrong tries elsewhere left one (the card "
                   "simulator sets its counter), and a third wrong PIN here locks it")
        # Each try is 21 taps: the end-to-end test (tests/e2e/test_pin_unlock.py) taps all
        # three; the demo spares the time.
        httpx.post(f"{card.base_url}/pin", json={"tries": 1}, timeout=10).raise_for_status()
        kiosk.tap("home.pin-change")
        kiosk.wait_screen("pin", timeout=30)
        change_pin(kiosk, WRONG_PIN, UNLOCKED_PIN)
        shows(kiosk, "社保卡密码已被锁定")
        self._shot("08b-pin-locked")
        self._step("a staff member unlocks it at the kiosk; the holder types a new PIN twice")
        staff_unlock(kiosk, STAFF_CODE, UNLOCKED_PIN)
        shows(kiosk, "密码已解锁")
        self._shot("08c-pin-unlocked")
        slot = card.status()["slots"][0]["card"] or {}
        if slot.get("pin_locked") is not False or slot.get("pin_tries") != 3:
            raise ControlError(f"the card's PIN is not unlocked: {slot}")
        self.say("  the card took the key centre's signed PIN reload: 3 tries again")
        kiosk.tap("pin.done")
        kiosk.wait_screen("home", timeout=30)
        card.remove()
        kiosk.wait_screen("attract", timeout=40)

    def loss_and_reversal(self, cast: Cast) -> None:
        """A lost card reported from the attract screen, without it (ID number and service
        PIN); the card then opens no session; found again, the card and the PIN reverse the
        report. Central records both."""
        kiosk, card, central = (self.stack.kiosk_client(), self.stack.card(),
                                self.stack.central_client())
        citizen = central.citizen(cast.loser)
        self._step(f"citizen #{cast.loser} lost their card: they report it with their ID "
                   "number and service PIN")
        receipt = report_loss(kiosk, citizen["citizen_id"], citizen["service_pin"])
        self._shot("08d-card-loss-receipt")
        if "挂失已办理" not in receipt:
            raise ControlError(f"the loss report was not made: {receipt}")
        kiosk.tap("receipt.done")
        kiosk.wait_screen("attract")
        self.say(f"  central: the card is {central.citizen(cast.loser)['card']['status']}, "
                 f"{_submitted(central, 'card-loss-report', cast.loser)} loss report recorded")

        self._step("they find it again and insert it: it opens no session")
        card.insert(citizen_index=cast.loser)
        kiosk.wait_screen("message")
        shows(kiosk, "这张社保卡已挂失")
        self._shot("08e-card-reported-lost")
        self._step("the card in the slot and the service PIN reverse the report")
        receipt = reverse_loss(kiosk, citizen["service_pin"])
        self._shot("08f-card-loss-reversed")
        if "已解除挂失" not in receipt:
            raise ControlError(f"the reversal was not made: {receipt}")
        kiosk.tap("receipt.done")
        kiosk.wait_screen("ending")
        card.remove()
        kiosk.wait_screen("attract")
        self.say(f"  central: the card is {central.citizen(cast.loser)['card']['status']}, "
                 f"{_submitted(central, 'card-loss-reversal', cast.loser)} reversal recorded")

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
        recorded = until(lambda: _certified(central, int(villager["index"])) - before,
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
        recorded = until(lambda: _certified(central, cast.pensioner) - before,
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
        self._verify("certificate")
        kiosk.tap("certificate.done")
        kiosk.wait_screen("home", timeout=30)
        self._step("and their personal rights record (个人权益记录): two years of contributions "
                   "and payments")
        kiosk.tap("home.rights_record")
        kiosk.wait_screen("certificate", timeout=120)
        shows(kiosk, "证明已打印", timeout=60)
        self._shot("19-rights-record-printed")
        self._verify("rights record")
        kiosk.tap("certificate.done")
        kiosk.wait_screen("home", timeout=30)
        kiosk.tap("home.end")
        kiosk.wait_screen("attract", timeout=40)

    def _verify(self, what: str) -> None:
        """Check the code on the certificate screen as a bank would, at the public endpoint."""
        found = CODE.search(screen_text(self.stack.kiosk_client()))
        if found is None:
            raise ControlError(f"the {what} screen shows no verification code")
        verdict = httpx.get(f"{self.stack.edge.url}/verify/{found.group(0)}",
                            headers={"Accept": "application/json"}, timeout=10).json()
        title = (verdict.get("certificate") or {}).get("title", "")
        self.say(f"  verify {what} {found.group(0)}: {verdict['status']} ({title})")

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
        sent = until(lambda: _sent(edge, number), f"receipt {number} to be sent")
        recorded = until(lambda: _recorded(central, cast.applicant),
                          "the simulator to list the application")
        self.say(f"  receipt {number}: {sent['state']}, application {sent['application_no']}")
        if recorded != 1:
            raise ControlError(f"the simulator recorded the application {recorded} times")
        self.say("  the simulator recorded it exactly once")
        kiosk.tap("receipt.done")
        kiosk.wait_screen("home")
        self._step("they open 'my applications': it is there, sent, with its status")
        kiosk.tap("home.applications")
        kiosk.wait_screen("applications", timeout=30)
        listed = screen_text(kiosk)
        if name not in listed or "等待发送到社保中心的申请" in listed:
            raise ControlError(f"the applications list does not show {name} as sent: {listed}")
        self._shot("11a-applications")
        kiosk.tap("applications.item-0")  # newest first: the one just sent
        kiosk.wait_screen("application")
        shows(kiosk, "已提交")
        self._shot("11b-application-status")
        kiosk.tap("application.back")
        kiosk.wait_screen("applications")
        self.stack.card().remove()
        kiosk.wait_screen("attract")


def _sent(edge: EdgeClient, receipt_no: str) -> dict[str, Any] | None:
    receipt = edge.get(f"/submissions/{receipt_no}")
    return dict(receipt) if receipt["state"] == "sent" else None


def _certified(central: CentralSimClient, citizen_index: int) -> int:
    """How many certifications of the citizen the province recorded."""
    return sum(1 for s in central.submissions(kind="pension-certification")
               if s.get("citizen_index") == citizen_index)


def _submitted(central: CentralSimClient, kind: str, citizen_index: int) -> int:
    """How many submissions of `kind` for the citizen central recorded."""
    return sum(1 for s in central.submissions(kind=kind, limit=1000)
               if s.get("citizen_index") == citizen_index and s.get("outcome") == "recorded")


def _recorded(central: CentralSimClient, citizen_index: int) -> int:
    """How many of the citizen's applications the simulator recorded (first page is enough:
    the demo's is the only one)."""
    return sum(1 for s in central.submissions(kind="subsidy-application")
               if s.get("citizen_index") == citizen_index)
