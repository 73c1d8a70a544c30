"""The certificate calls through the kiosk's edge client, against a real loopback server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drivers.printer.interface import ReceiptDocument
from kiosk.edge.certificates import (
    MAX_PDF_BYTES,
    CertificateCalls,
    CertificateKind,
    certificate_port,
)
from kiosk.edge.client import EdgeClient
from kiosk.edge.errors import INVALID_RESPONSE, EdgeProblem
from tests.kiosk.device_fakes import CODE, sample_certificate
from tests.kiosk.edge.fake_edge import Answer, FakeEdge, problem


@pytest.fixture
def calls(edge: FakeEdge) -> Iterator[Callable[..., CertificateCalls]]:
    made: list[EdgeClient] = []

    def make(**kwargs: Any) -> CertificateCalls:
        client = EdgeClient(edge.url, "kiosk-001", "dev1.kiosk-001.token", **kwargs)
        made.append(client)
        return CertificateCalls(client)

    yield make
    for client in made:
        client.close()


def _view(**extra: Any) -> dict[str, Any]:
    return sample_certificate(**extra).model_dump(mode="json")


def test_issuing_sends_the_kind_and_the_key_and_maps_the_receipt(edge, calls) -> None:
    edge.script = [Answer(201, _view())]
    view = calls().issue_certificate("ses_abc", CertificateKind.PARTICIPATION,
                                     idempotency_key="k-1")
    (seen,) = edge.seen
    assert (seen.method, seen.path) == ("POST", "/api/v1/sessions/ses_abc/certificates")
    assert seen.body == {"kind": "participation"} and seen.headers["Idempotency-Key"] == "k-1"
    assert view.code == CODE and "张三" not in repr(view)
    document = view.receipt.document()
    assert isinstance(document, ReceiptDocument) and document.qr == view.verify_url
    assert document.lines[0].text == "姓名：张三"


@pytest.mark.parametrize("bad", [
    {"pdf_url": "/api/v1/certificates/OTHER-CODE/pdf"},  # another certificate's PDF
    {"code": "has spaces"},
    {"receipt": {"title": "参保证明", "lines": [{"text": "x" * 97}]}},  # over a printer line
    {"kind": "rights-record"},  # not what was asked
])
def test_answers_that_are_not_this_certificate_are_refused(edge, calls, bad) -> None:
    body = {**_view(), **bad}
    edge.script = [Answer(201, body)]
    with pytest.raises(EdgeProblem) as caught:
        calls().issue_certificate("ses_abc", CertificateKind.PARTICIPATION, idempotency_key="k")
    assert caught.value.code == INVALID_RESPONSE


def test_the_pdf_comes_as_bytes_bounded_and_must_be_a_pdf(edge, calls) -> None:
    view = sample_certificate()
    edge.script = [Answer(200, "%PDF-1.7\n%%EOF\n", "application/pdf")]
    assert calls().certificate_pdf(view) == b"%PDF-1.7\n%%EOF\n"
    assert edge.seen[-1].path == f"/api/v1/certificates/{CODE}/pdf"
    edge.script = [Answer(200, "<html>not a pdf</html>", "text/html")]
    with pytest.raises(EdgeProblem):
        calls().certificate_pdf(view)
    edge.script = [Answer(200, "%PDF-", "application/pdf", declared_length=MAX_PDF_BYTES + 1)]
    with pytest.raises(EdgeProblem) as caught:
        calls().certificate_pdf(view)
    assert caught.value.code == INVALID_RESPONSE


def test_problems_keep_their_codes(edge, calls) -> None:
    edge.script = [problem(503, "certificates-unavailable")]
    with pytest.raises(EdgeProblem) as caught:
        calls().issue_certificate("ses_abc", CertificateKind.PARTICIPATION, idempotency_key="k")
    assert (caught.value.code, caught.value.status) == ("certificates-unavailable", 503)


def test_the_port_is_the_client_wrapped_or_a_fake_as_it_is() -> None:
    class Full:
        def issue_certificate(self) -> None: ...

        def certificate_pdf(self) -> None: ...

    full = Full()
    assert certificate_port(full) is full
    assert isinstance(certificate_port(object()), CertificateCalls)
