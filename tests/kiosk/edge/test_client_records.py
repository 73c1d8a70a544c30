"""The contributions and pension-account calls of the edge client against a stub edge: GETs
without a key, money kept exact, answers out of bounds refused, nothing of them in a repr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from kiosk.edge.client import EdgeClient
from kiosk.edge.errors import EdgeProblem
from tests.kiosk.edge.fake_edge import Answer, FakeEdge
from tests.kiosk.fakes import sample_contributions, sample_pension_account

TOKEN = "dev1.kiosk-001.c2lnbmF0dXJl"


@pytest.fixture
def client(edge: FakeEdge) -> Iterator[EdgeClient]:
    made = EdgeClient(edge.url, "kiosk-001", TOKEN)
    yield made
    made.close()


def _json(model: Any) -> Any:
    return model.model_dump(mode="json")


CALLS: list[tuple[str, Callable[[EdgeClient], Any], Any]] = [
    ("contributions", lambda c: c.get_contributions("ses_abc"), sample_contributions()),
    ("pension-account", lambda c: c.get_pension_account("ses_abc"), sample_pension_account()),
]


@pytest.mark.parametrize(("path", "call", "sample"), CALLS, ids=[c[0] for c in CALLS])
def test_a_get_without_a_key_and_money_exact(edge, client, path, call, sample) -> None:
    edge.script = [Answer(200, _json(sample))]
    answer = call(client)
    seen = edge.seen[0]
    assert (seen.method, seen.path) == ("GET", f"/api/v1/sessions/ses_abc/{path}")
    assert "Idempotency-Key" not in seen.headers  # GET changes nothing
    assert answer == sample
    assert "5961" not in repr(answer) and "5961" not in str(answer)


def test_contribution_amounts_are_exact_decimals(edge, client) -> None:
    edge.script = [Answer(200, _json(sample_contributions(1)))]
    year = client.get_contributions("ses_abc").items[0]
    assert (year.personal, year.months, year.arrears_months) == (Decimal("5961.60"), 9, 2)


@pytest.mark.parametrize(("field", "value"), [
    ("months", 13), ("year", 1800), ("personal", "-1.00"), ("base", "1.001"),
    ("scheme", "x" * 65),
])
def test_a_contribution_year_out_of_bounds_is_refused(edge, client, field, value) -> None:
    body = _json(sample_contributions(1))
    body["items"][0][field] = value
    edge.script = [Answer(200, body)]
    with pytest.raises(EdgeProblem) as caught:
        client.get_contributions("ses_abc")
    assert caught.value.code == "invalid-response"


def test_too_many_account_years_are_refused(edge, client) -> None:
    body = _json(sample_pension_account(1))
    body["items"] = body["items"] * 101
    edge.script = [Answer(200, body)]
    with pytest.raises(EdgeProblem) as caught:
        client.get_pension_account("ses_abc")
    assert caught.value.code == "invalid-response"
