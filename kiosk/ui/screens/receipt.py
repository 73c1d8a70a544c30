"""The receipt of a submission: its number (large), its QR code, and where it stands: sent,
queued ("it will be sent when the platform is back") or refused, in plain words.

Words come from the journey on screen: `<journey>.receipt.<state>.title` / `.body`.
"""

from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.anchorlayout import AnchorLayout

from kiosk.edge.certification import CertificationReceipt
from kiosk.edge.models import Receipt, ReceiptState
from kiosk.flow.journeys.steps import Receipted
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import FitBox, Mark, QrCode, Surface, Text


def refusal_words(t: Translator, receipt: Receipt) -> list[str]:
    """Why it was refused: our words for a known code, else the platform's own sentence."""
    words = []
    code = receipt.refusal_code or ""
    if t.has(f"refusal.{code}") and (code != "risk-refused" or not receipt.findings):
        words.append(t(f"refusal.{code}"))
    elif receipt.refusal_message and not receipt.findings:
        words.append(receipt.refusal_message)
    for finding in receipt.findings:
        words.append(finding.message if t.chinese and finding.message
                     else t.optional(f"finding.{finding.code}", finding.message or finding.code))
    return words


class ReceiptScreen(KioskScreen):
    screen_name = ScreenName.RECEIPT
    prompts = ("receipt.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.panel = Surface(orientation="vertical", size_hint_y=None,
                             padding=(dp(th.padding), dp(th.padding)), spacing=dp(th.spacing),
                             fill=rgba(p.surface), outline=rgba(p.divider),
                             radius=dp(th.radius * 1.5))
        self.panel.bind(minimum_height=self.panel.setter("height"))
        self.mark = Mark(th, diameter=120, pos_hint={"center_x": 0.5})
        self.headline = self.text("display", bold=True)
        self.subject = self.text("heading", colour=p.text_muted)
        self.body = self.text("heading")
        self.reasons = FitBox(spacing=dp(8))
        self.number = self.text("title", bold=True)
        self.application_no = self.text("body", colour=p.text_muted)
        side = 230 if self.landscape else 290
        holder = AnchorLayout(size_hint_y=None, height=dp(side + 10))
        self.qr = QrCode(side=side)
        holder.add_widget(self.qr)
        self.hint = self.text("body", colour=p.text_muted, text=t("receipt.qr_hint"))
        if self.landscape:
            # Half the height: what happened on the left, the number and its code beside it.
            # No round mark: the headline says the same, and there is no room above it.
            self.panel.orientation = "horizontal"
            self.panel.padding = (dp(th.padding), dp(th.padding * 0.5))
            left = FitBox(spacing=dp(th.spacing * 0.5), size_hint_x=0.6,
                          pos_hint={"center_y": 0.5})
            self.hint.font_size = dp(th.small)
            right = FitBox(spacing=dp(th.spacing), size_hint_x=0.4, pos_hint={"center_y": 0.5})
            for widget in (self.headline, self.subject, self.body, self.reasons, self.hint):
                left.add_widget(widget)
            for widget in (self.number, self.application_no, holder):
                right.add_widget(widget)
            self.panel.add_widget(left)
            self.panel.add_widget(right)
        else:
            for widget in (self.mark, self.headline, self.subject, self.body, self.reasons,
                           self.number, self.application_no, holder, self.hint):
                self.panel.add_widget(widget)
        actions = self.action_row(
            self.button("receipt.end", Action.END, primary=False, text=t("button.end")),
            self.button("receipt.done", Action.DONE, text=t("receipt.done")),
        )
        for widget in (spacer(0.2), self.panel, spacer(1), actions):
            self.column.add_widget(widget)
        self._shown: tuple[str, Receipted] | None = None

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        content = view.content
        data = content.data if content is not None else None
        if not isinstance(data, Receipted):
            return self.prompts
        prefix = f"{content.journey}.receipt.{data.receipt.state}"  # type: ignore[union-attr]
        return (f"{prefix}.title", f"{prefix}.body")

    def render(self, view: View) -> None:
        content = view.content
        data = content.data if content is not None else None
        if not isinstance(data, Receipted):
            return
        journey = self.journey_key(view)
        if self._shown == (journey, data):
            return
        self._shown = (journey, data)
        t, th, p = self.ctx.t, self.theme, self.theme.palette
        receipt = data.receipt
        state = receipt.state
        self.mark.glyph = {ReceiptState.SENT: "√", ReceiptState.QUEUED: "…",
                           ReceiptState.REFUSED: "!"}[state]
        self.mark.fill = rgba({ReceiptState.SENT: p.info_mark, ReceiptState.QUEUED: p.wait_mark,
                               ReceiptState.REFUSED: p.problem_mark}[state])
        self.headline.text = t(f"{journey}.receipt.{state}.title")
        self.subject.text = data.subject
        self.body.text = t(f"{journey}.receipt.{state}.body")
        self.reasons.clear_widgets()
        if state is ReceiptState.REFUSED:
            for words in refusal_words(t, receipt):
                self.reasons.add_widget(Text(th, "heading", bold=True, text=words))
        self.number.text = t("receipt.number", receipt_no=receipt.receipt_no)
        lines = ([t("receipt.application_no", application_no=receipt.application_no)]
                 if receipt.application_no else [])
        if isinstance(receipt, CertificationReceipt):  # what a certification adds
            if receipt.certification_no:
                lines.append(t("certify.receipt.certification_no",
                               certification_no=receipt.certification_no))
            if receipt.next_due_date is not None and state is not ReceiptState.REFUSED:
                lines.append(t("certify.receipt.next_due", date=t.date(receipt.next_due_date)))
        self.application_no.text = "\n".join(lines)
        self.qr.text = receipt.qr

    def clear(self) -> None:
        self._shown = None
        self.reasons.clear_widgets()
        self.subject.text = self.number.text = self.application_no.text = ""
        self.qr.text = ""
