"""Test doubles for issue 8's kiosk parts: the card's PIN, the printers, the certificate edge.

In-process and synchronous, for the pure flow tests and the gallery; the adapters over the
real drivers have their own tests (tests/kiosk/test_printing.py, test_card_pin.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.base import Health, HealthChanged, HealthState
from drivers.printer.interface import ReceiptDocument
from kiosk.edge.certificates import CertificateKind, CertificateView
from kiosk.flow.print_kit import Printed, PrintOutcome
from tests.kiosk.fakes import AS_OF, ScriptedEdge

CODE = "K7QM-3XPD-9WTR-2HFC"
VERIFY_URL = f"http://127.0.0.1:8200/verify/{CODE}"
PDF = b"%PDF-1.7\n% a certificate\n%%EOF\n"
OK = Health(HealthState.OK, "ok")


def available(kind: str) -> HealthChanged:
    """The device of an identification method is there (QR scanner, ID card reader)."""
    return HealthChanged(kind=kind, health=OK)


def sample_certificate(code: str = CODE, **extra: Any) -> CertificateView:
    body: dict[str, Any] = {
        "code": code, "kind": "participation", "issued_at": AS_OF.isoformat(),
        "verify_url": f"http://127.0.0.1:8200/verify/{code}",
        "pdf_url": f"/api/v1/certificates/{code}/pdf", "pdf_bytes": len(PDF), "pages": 1,
        "receipt": {"title": "参保证明", "lines": [
            {"text": "姓名：张三", "align": "left"},
            {"text": "身份证号：110105********002X"},
            {"text": "企业职工基本养老保险 参保缴费 2010-03起", "bold": True},
        ], "qr": f"http://127.0.0.1:8200/verify/{code}", "footer": f"验证码 {code}"},
    }
    body.update(extra)
    return CertificateView.model_validate(body)


@dataclass
class PinResult:
    outcome: str
    tries_left: int | None = None


@dataclass
class FakePinPort:
    """A card that knows its PIN and counts tries the way LD/T 32 says (3, then locked)."""

    pin: str = "123456"
    tries: int = 3
    answers: list[Any] = field(default_factory=list)  # forced answers, first out first
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def _forced(self) -> Any | None:
        return self.answers.pop(0) if self.answers else None

    def tries_left(self) -> Any:
        self.calls.append(("tries",))
        forced = self._forced()
        if forced is not None:
            return forced
        return PinResult("locked", 0) if self.tries == 0 else PinResult("ok", self.tries)

    def _check(self, digits: str) -> Any:
        forced = self._forced()
        if forced is not None:
            return forced
        if self.tries == 0:
            return PinResult("locked", 0)
        if digits != self.pin:
            self.tries -= 1
            return PinResult("locked", 0) if self.tries == 0 else PinResult("wrong-pin",
                                                                             self.tries)
        self.tries = 3
        return PinResult("ok", 3)

    def verify(self, digits: str) -> Any:
        self.calls.append(("verify", digits))
        return self._check(digits)

    def change(self, old: str, new: str) -> Any:
        self.calls.append(("change", old, new))
        result = self._check(old)
        if result.outcome == "ok":
            self.pin = new
        return result


@dataclass
class FakePrinters:
    """A PrintPort: outcomes scripted per call; records what was printed."""

    a4: bool = False
    outcomes: list[PrintOutcome] = field(default_factory=list)
    printed: list[tuple[str, Any]] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    _jobs: int = 0

    def _next(self, what: str, document: Any) -> PrintOutcome:
        self._jobs += 1
        self.printed.append((what, document))
        if self.outcomes:
            return self.outcomes.pop(0)
        return PrintOutcome(Printed.DONE, f"job-{self._jobs}")

    def print_pdf(self, pdf: bytes, title: str) -> PrintOutcome:
        return self._next("pdf", (pdf, title))

    def print_receipt(self, document: ReceiptDocument) -> PrintOutcome:
        return self._next("receipt", document)

    def reprint(self, job_id: str) -> PrintOutcome:
        return self._next("reprint", job_id)

    def discard(self, job_id: str) -> None:
        self.discarded.append(job_id)


@dataclass
class CertificateEdge(ScriptedEdge):
    """ScriptedEdge plus the certificate calls (kiosk.edge.certificates.CertificatePort)."""

    certificate_script: list[Any] = field(default_factory=lambda: [sample_certificate()])
    certificate_calls: list[tuple[str, str, str]] = field(default_factory=list)
    pdf_calls: list[str] = field(default_factory=list)

    def issue_certificate(self, session_id: str, kind: CertificateKind, *,
                          idempotency_key: str) -> CertificateView:
        self.certificate_calls.append((session_id, str(kind), idempotency_key))
        return self._next(self.certificate_script)

    def certificate_pdf(self, certificate: CertificateView) -> bytes:
        self.pdf_calls.append(certificate.code)
        return PDF
