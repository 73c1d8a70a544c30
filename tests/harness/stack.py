"""Fixtures' building blocks: real processes on free ports, always cleaned up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simulators.stack.requirements import MissingSystemPackage
from simulators.stack.supervisor import ProcessFailed, Supervisor


@contextmanager
def supervised(log_dir: Path) -> Iterator[Supervisor]:
    """A Supervisor whose start failures fail the test with the process log, never skip it."""
    sup = Supervisor(log_dir)
    try:
        yield sup
    finally:
        sup.stop_all()


def fail_on_missing(exc: MissingSystemPackage | ProcessFailed) -> None:
    pytest.fail(str(exc), pytrace=False)


def set_client_env(env: dict[str, str]) -> None:
    """Point this test process's clients (pyscard) at a harness service."""
    os.environ.update(env)
