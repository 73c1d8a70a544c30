"""Fixtures for the virtual card's tests."""

from __future__ import annotations

import pytest

from simulators.central.population import Population


@pytest.fixture(scope="session")
def population() -> Population:
    return Population(42, 5000)
