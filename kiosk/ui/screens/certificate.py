"""Printing a certificate: its progress, then the certificate screen (kiosk.flow.journeys.
certificate).

`printing`: issued at the edge, then printing (A4 or the receipt version), in calm words, naming
the document (参保证明 or 个人权益记录).
`certificate`: printed (take it from the slot), or paper out (held: part of it may be in the
tray, a reprint is marked 【重印】), or printer trouble; after A4 trouble on a terminal with a
receipt printer, the receipt version instead or coming back later; always the verification
code and the QR code that opens the electronic copy on a phone. Targets:
`certificate.reprint`, `certificate.receipt`, `certificate.done`, `certificate.end`. Words:
`certificate.printing.<phase>.<a4|receipt>.title[_rights_record]` / `.body`,
`certificate.<state>.title` / `.body`, `certificate.receipt_offer`.
"""

from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.anchorlayout import AnchorLayout

from kiosk.edge.certificates import CertificateKind
from kiosk.flow.journeys.certificate import RECEIPT_VERSION, Certificate, Printing
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import BusyDots, FitBox, Mark, QrCode, Surface


class PrintingScreen(KioskScreen):
    screen_name = ScreenName.PRINTING
    prompts = ("printing.title",)

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t = ctx.t
        self.dots = BusyDots(self.theme, scale=1.5, animate=ctx.animate,
                             pos_hint={"center_x": 0.5})
        self.title = self.text("display", text=t("printing.title"), bold=True)
        self.body = self.text("title", text=t("printing.body"),
                              colour=self.theme.palette.text_muted)
        for widget in (spacer(0.8), self.dots, self.title, self.body, spacer(1.2)):
            self.column.add_widget(widget)

    def _words(self, view: View) -> tuple[str, str] | None:
        """The title and body keys of what is printing, or None (not a certificate)."""
        data = view.content.data if view.content is not None else None
        if not isinstance(data, Printing):
            return None
        words = f"certificate.printing.{data.phase}.{'a4' if data.a4 else 'receipt'}"
        named = "" if data.kind is CertificateKind.PARTICIPATION else "_rights_record"
        return f"{words}.title{named}", f"{words}.body"

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        return self._words(view) or self.prompts

    def render(self, view: View) -> None:
        words, t = self._words(view), self.ctx.t
        title, body = words or ("printing.title", "printing.body")
        self.title.text, self.body.text = t(title), t(body)

    def started(self) -> None:
        self.dots.start()

    def stopped(self) -> None:
        self.dots.stop()


class CertificateScreen(KioskScreen):
    screen_name = ScreenName.CERTIFICATE
    prompts = ("certificate.title",)
    holds_citizen_data = True  # the verification code opens the citizen's certificate

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
        self.body = self.text("heading")
        self.code = self.text("title", bold=True)
        side = 230 if self.landscape else 290
        holder = AnchorLayout(size_hint_y=None, height=dp(side + 10))
        self.qr = QrCode(side=side)
        holder.add_widget(self.qr)
        self.hint = self.text("body", colour=p.text_muted, text=t("certificate.qr_hint"))
        if self.landscape:
            # Half the height: the words on the left, the code and its QR beside them (as
            # on the receipt screen); the headline says what the round mark would.
            self.panel.orientation = "horizontal"
            self.panel.padding = (dp(th.padding), dp(th.padding * 0.5))
            left = FitBox(spacing=dp(th.spacing * 0.5), size_hint_x=0.6,
                          pos_hint={"center_y": 0.5})
            right = FitBox(spacing=dp(th.spacing), size_hint_x=0.4, pos_hint={"center_y": 0.5})
            for widget in (self.headline, self.body, self.hint):
                left.add_widget(widget)
            for widget in (self.code, holder):
                right.add_widget(widget)
            self.panel.add_widget(left)
            self.panel.add_widget(right)
        else:
            for widget in (self.mark, self.headline, self.body, self.code, holder, self.hint):
                self.panel.add_widget(widget)
        self.reprint = self.button("certificate.reprint", Action.REPRINT,
                                   text=t("certificate.reprint"))
        self.done = self.button("certificate.done", Action.DONE, text=t("certificate.done"))
        self.receipt = self.value_button("certificate.receipt", Action.CHOOSE, RECEIPT_VERSION,
                                         text=t("certificate.receipt"))
        self.actions = self.action_row(
            self.button("certificate.end", Action.END, primary=False, text=t("button.end")),
            self.done,
        )
        for widget in (spacer(0.2), self.panel, spacer(1), self.actions):
            self.column.add_widget(widget)
        self._shown: Certificate | None = None

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        data = view.content.data if view.content is not None else None
        if not isinstance(data, Certificate):
            return self.prompts
        return (f"certificate.{data.state}.title", f"certificate.{data.state}.body")

    def render(self, view: View) -> None:
        data = view.content.data if view.content is not None else None
        if not isinstance(data, Certificate) or data == self._shown:
            return
        self._shown = data
        t, p = self.ctx.t, self.theme.palette
        state = data.state
        self.mark.glyph = "√" if state == "done" else "!"
        self.mark.fill = rgba(p.info_mark if state == "done" else p.problem_mark)
        self.headline.text = t(f"certificate.{state}.title")
        self.body.text = t(f"certificate.{state}.body")
        if data.receipt_instead:
            self.body.text += "\n" + t("certificate.receipt_offer")
        self.code.text = t("certificate.code", code=data.certificate.code)
        self.qr.text = data.certificate.phone_url
        self.done.text = t("certificate.done" if state == "done" else
                           "certificate.come_back" if data.receipt_instead else
                           "certificate.decline")
        for button, wanted in ((self.reprint, data.may_reprint),
                               (self.receipt, data.receipt_instead)):
            shown = button.parent is not None
            if wanted and not shown:
                self.actions.add_widget(button)
            elif not wanted and shown:
                self.actions.remove_widget(button)
        self.reprint.text = t("certificate.reprint_marked" if state == "held"
                              else "certificate.reprint")

    def clear(self) -> None:
        self._shown = None
        self.code.text = self.headline.text = self.body.text = ""
        self.qr.text = ""
