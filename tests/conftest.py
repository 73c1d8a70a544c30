"""Harness fixtures shared by every test folder: real pcscd + vpcd and a private Mosquitto.

Each starts on free ports, is stopped at the end of its scope, and fails the test with the
process log (or the missing Debian package's name) rather than skipping it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.stack import services
from simulators.stack.requirements import MissingSystemPackage
from simulators.stack.supervisor import ManagedProcess, ProcessFailed, Supervisor
from tests.harness.postgres import postgres_server
from tests.harness.stack import fail_on_missing, set_client_env, supervised


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def session_supervisor(session_dir: Path) -> Iterator[Supervisor]:
    with supervised(session_dir / "logs") as sup:
        yield sup


@pytest.fixture(scope="session")
def pcscd(session_dir: Path, session_supervisor: Supervisor) -> services.Pcscd:
    """One pcscd with vpcd readers for the whole run.

    libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so the test process can only ever
    talk to one pcscd: it is session-scoped, and its environment is set before any pyscard call.
    """
    try:
        instance = services.pcscd(session_dir / "pcscd")
        session_supervisor.start(instance.spec)
    except (MissingSystemPackage, ProcessFailed) as exc:
        fail_on_missing(exc)
    set_client_env(instance.client_env)
    return instance


@pytest.fixture(scope="session")
def pcscd_process(pcscd: services.Pcscd, session_supervisor: Supervisor) -> ManagedProcess:
    return next(p for p in session_supervisor.processes if p.spec is pcscd.spec)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[services.Mosquitto]:
    """A private broker per test: no retained state or sessions leak between tests."""
    with supervised(tmp_path / "logs") as sup:
        try:
            broker = services.mosquitto(tmp_path / "mosquitto")
            sup.start(broker.spec)
        except (MissingSystemPackage, ProcessFailed) as exc:
            fail_on_missing(exc)
        yield broker


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One private PostgreSQL server for the session (edge and registry tests); each test that
    uses it drops what it made."""
    with postgres_server() as url:
        yield url


# Files that run for minutes go first, longest first, so that with two workers (scripts/test)
# the run does not end on one of them alone while the other worker idles.
_LONG_FIRST = (
    "tests/e2e/test_field_day.py",
    "tests/simulators/demo/",
    "tests/e2e/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(_LONG_FIRST) if item.nodeid.startswith(prefix)),
            len(_LONG_FIRST),
        )

    items.sort(key=rank)  # stable: each file keeps its own order
