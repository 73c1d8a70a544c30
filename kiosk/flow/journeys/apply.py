"""Apply for a subsidy: pick one, type its short form, see the pre-check, confirm, receipt.

    subsidies ─CHOOSE→ keypad (each form field) ─NEXT→ [precheck call] → precheck
      ─NEXT→ confirm ─CONFIRM→ [apply call, Idempotency-Key] → receipt ─DONE→ home

The key of the submission is made when the confirmation shows and kept while it shows, so a
retry, or the citizen going back from a "please wait" and confirming again, sends the same
key: the edge answers with the same receipt instead of a second application. What was typed
is wiped once it has been submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from common.masking import mask_account
from kiosk.edge.models import ApplicationDraft, Precheck, Receipt, Subsidies, SubsidyItem
from kiosk.flow.events import Tap
from kiosk.flow.journeys.base import (
    LEAVE,
    Call,
    Journey,
    JourneyContext,
    Shown,
    Step,
    always,
    chosen,
    page_count,
    turned,
)
from kiosk.flow.journeys.steps import Confirmation, FieldEntry, KeypadKind, Receipted, Row, Typed
from kiosk.flow.screens import Action, ScreenName

PER_PAGE = 4  # subsidies a page: each is a big button with its amount and eligibility


class Stage(StrEnum):
    LIST = "list"
    FIELD = "field"
    PRECHECK = "precheck"
    CONFIRM = "confirm"
    RECEIPT = "receipt"


@dataclass(frozen=True)
class SubsidyChoice:
    """The subsidies screen's content: the catalogue and the page shown."""

    subsidies: Subsidies
    page: int = 0
    per_page: int = PER_PAGE

    @property
    def rows(self) -> tuple[tuple[int, SubsidyItem], ...]:
        """(index, item) of the rows on this page; CHOOSE carries the index."""
        start = self.page * self.per_page
        items = self.subsidies.items[start:start + self.per_page]
        return tuple(enumerate(items, start))


@dataclass(frozen=True)
class Prechecked:
    """The pre-check screen's content."""

    subsidy: SubsidyItem
    result: Precheck = field(repr=False)

    @property
    def may_continue(self) -> bool:
        """Refused by a check that ran: correct it first. Not checked: the citizen may go on
        (the same checks run when it is sent, and a refusal then shows on the receipt)."""
        return self.result.ok or not self.result.checked


class ApplySteps:
    def __init__(self, ctx: JourneyContext) -> None:
        assert ctx.session_id is not None, "applying needs the citizen's session"
        self._session_id = ctx.session_id
        self._new_key = ctx.new_key
        self._stage = Stage.LIST
        self._subsidies: Subsidies | None = None
        self._page = 0
        self._choice: SubsidyItem | None = None
        self._fields: list[FieldEntry] = []
        self._field = 0
        self._precheck: Precheck | None = None
        self._submit: Call | None = None
        self._receipt: Receipt | None = None

    # Steps -----------------------------------------------------------------------------------

    def begin(self) -> Step:
        session_id = self._session_id
        return Call("subsidies", lambda edge: edge.get_subsidies(session_id))

    def on_answer(self, call: Call, value: object) -> Step:
        if isinstance(value, Subsidies):
            self._subsidies, self._page, self._stage = value, 0, Stage.LIST
        elif isinstance(value, Precheck):
            self._precheck, self._stage = value, Stage.PRECHECK
        elif isinstance(value, Receipt) and call is self._submit:
            self._receipt, self._stage = value, Stage.RECEIPT
            self._submit = None
            for entry in self._fields:  # sent: the edge holds it now, the kiosk need not
                entry.wipe()
        return None

    def on_tap(self, tap: Tap) -> Step:
        match self._stage:
            case Stage.LIST:
                return self._on_list(tap)
            case Stage.FIELD:
                return self._on_field(tap)
            case Stage.PRECHECK:
                return self._on_precheck(tap)
            case Stage.CONFIRM:
                return self._on_confirm(tap)
            case Stage.RECEIPT:
                return LEAVE if tap.action in (Action.DONE, Action.BACK) else None

    def _on_list(self, tap: Tap) -> Step:
        items = self._subsidies.items if self._subsidies is not None else ()
        if tap.action is Action.BACK:
            return LEAVE
        page = turned(self._page, tap, page_count(len(items), PER_PAGE))
        if page is not None:
            self._page = page
            return None
        index = chosen(tap, len(items))
        if index is not None and items[index].eligible:
            self._choice = items[index]
            self._fields = [FieldEntry.for_form(f) for f in self._choice.form_fields]
            self._field = 0
            return self._after_fields() if not self._fields else self._go(Stage.FIELD)
        return None

    def _on_field(self, tap: Tap) -> Step:
        if tap.action is Action.BACK:
            if self._field == 0:
                return self._go(Stage.LIST)
            self._field -= 1
            return None
        if self._fields[self._field].on_tap(tap) is Typed.DONE:
            if self._field + 1 < len(self._fields):
                self._field += 1
                return None
            return self._after_fields()
        return None

    def _after_fields(self) -> Step:
        draft, session_id = self._draft(), self._session_id
        return Call("precheck", lambda edge: edge.precheck(session_id, draft))

    def _on_precheck(self, tap: Tap) -> Step:
        shown = self._prechecked()
        if tap.action is Action.BACK:
            return self._back_to_fields()
        if tap.action is Action.DONE:
            return LEAVE
        if tap.action is Action.NEXT and shown is not None and shown.may_continue:
            draft, session_id = self._draft(), self._session_id
            key = self._new_key()  # one per confirmation shown: its retries reuse it
            self._submit = Call(
                "apply", lambda edge: edge.apply(session_id, draft, idempotency_key=key),
                key=key, busy=ScreenName.SUBMITTING,
            )
            return self._go(Stage.CONFIRM)
        return None

    def _on_confirm(self, tap: Tap) -> Step:
        if tap.action is Action.BACK:
            self._submit = None  # what is sent may change: a new confirmation, a new key
            return self._go(Stage.PRECHECK)
        if tap.action is Action.CONFIRM and self._submit is not None:
            return self._submit
        return None

    def _back_to_fields(self) -> Step:
        if not self._fields:
            return self._go(Stage.LIST)
        self._field = len(self._fields) - 1
        return self._go(Stage.FIELD)

    def _go(self, stage: Stage) -> Step:
        self._stage = stage
        return None

    def _draft(self) -> ApplicationDraft:
        assert self._choice is not None
        return ApplicationDraft(self._choice.code, self._choice.period,
                                {f.name: f.value for f in self._fields})

    def _prechecked(self) -> Prechecked | None:
        if self._choice is None or self._precheck is None:
            return None
        return Prechecked(self._choice, self._precheck)

    # What shows ------------------------------------------------------------------------------

    def shown(self) -> Shown:
        subsidies = self._subsidies
        match self._stage:
            case Stage.FIELD:
                entry = self._fields[self._field]
                return Shown(ScreenName.KEYPAD, entry.keypad(self._field + 1, len(self._fields)))
            case Stage.PRECHECK:
                return Shown(ScreenName.PRECHECK, self._prechecked())
            case Stage.CONFIRM:
                return Shown(ScreenName.CONFIRM, self._confirmation())
            case Stage.RECEIPT:
                assert self._receipt is not None
                name = self._choice.name if self._choice is not None else ""
                return Shown(ScreenName.RECEIPT, Receipted(self._receipt, name))
        pages = page_count(len(subsidies.items), PER_PAGE) if subsidies is not None else 1
        return Shown(
            ScreenName.SUBSIDIES,
            SubsidyChoice(subsidies, self._page) if subsidies is not None else None,
            self._page, pages,
            subsidies.as_of if subsidies is not None else None,
            subsidies.stale if subsidies is not None else False,
            fresh=subsidies is not None,
        )

    def _confirmation(self) -> Confirmation:
        choice = self._choice
        assert choice is not None
        rows = [Row("apply.row.subsidy", choice.name),
                Row("apply.row.period", choice.period, "period")]
        if choice.amount is not None:
            rows.append(Row("apply.row.amount", f"¥{choice.amount:,.2f}"))
        for entry in self._fields:
            shown = mask_account(entry.value) if entry.kind is KeypadKind.PHONE else entry.value
            rows.append(Row(entry.label, shown))
        return Confirmation(tuple(rows), warning="apply.confirm.warning")

    def wipe(self) -> None:
        for entry in self._fields:
            entry.wipe()
        self._fields = []
        self._subsidies = self._choice = self._precheck = self._receipt = None
        self._submit = None
        self._session_id = ""


APPLY = Journey(
    key="apply",
    home_target="home.apply",
    screens=(ScreenName.SUBSIDIES, ScreenName.KEYPAD, ScreenName.PRECHECK, ScreenName.CONFIRM,
             ScreenName.RECEIPT),
    start=ApplySteps,
    has_fn=always,
)
