"""A real manager process on a real Mosquitto with simulated terminals announced and known, for
the CLI tests (`kioskctl fleet rollouts|devices|commands`) that share one per module."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from simulators.stack import services
from simulators.stack.ports import free_port
from tests.fleet.manager.rollouts.terminals import FakeTerminals
from tests.fleet.manager.rollouts.test_stack_rollouts import FAST, _wait_known
from tests.harness.stack import supervised


class ServedManager(NamedTuple):
    url: str  # the manager's
    broker_url: str
    fleet: FakeTerminals


@contextmanager
def served_manager(tmp: Path, device_ids: Iterable[str], *, bad: Iterable[str] = (),
                   client_id: str) -> Iterator[ServedManager]:
    ids = list(device_ids)
    with supervised(tmp / "logs") as sup:
        broker = services.mosquitto(tmp / "broker")
        sup.start(broker.spec)
        m = services.fleet_manager(tmp / "manager", broker_url=broker.url, port=free_port())
        m.spec.env.update(FAST)
        sup.start(m.spec)
        fleet = FakeTerminals(broker.url, ids, bad=bad, client_id=client_id)
        try:
            fleet.announce()
            _wait_known(m.url + "/api/v1", ids)
            yield ServedManager(m.url, broker.url, fleet)
        finally:
            fleet.close()
