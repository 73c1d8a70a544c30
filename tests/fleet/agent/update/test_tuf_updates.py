"""Signed updates end to end: a real agent process with the real artifact client
(fleet.updates.client:ArtifactClient, the default) against a real `kioskctl fleet artifacts
serve` process, on a store built, signed and published with `kioskctl fleet artifacts`. The
store's attacks are done to its files on disk, between the agent's fetches."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.clock import utc_now
from fleet.agent.update.slots import Slots
from fleet.updates.client import provision_root
from fleet.updates.keys import KeyStore
from fleet.updates.repository import Repository
from simulators.stack.supervisor import ManagedProcess
from tests.fleet.agent.update.conftest import Terminal
from tests.fleet.agent.update.support import OperatorStore
from tests.fleet.agent.update.test_stack_updates import _final, _send
from tests.fleet.support import FleetStack, MqttProbe
from tests.fleet.updates.support import served


@pytest.fixture
def signed(tmp_path: Path) -> OperatorStore:
    """A store with 1.1.0 published (good)."""
    store = OperatorStore(tmp_path / "store").init()
    store.ship("1.1.0")
    return store


@pytest.fixture
def store_url(signed: OperatorStore) -> Iterator[str]:
    with served(signed.repo) as url:
        yield url


def _start(stack: FleetStack, t: Terminal, device: str, url: str, root_json: bytes
           ) -> ManagedProcess:
    # The terminal's trust anchor, provisioned before its agent ever runs.
    provision_root(stack.workdir / "agents" / device / "tuf", root_json)
    return stack.start_agent(
        device, t.kiosk.url, health_interval_s=60,
        AGENT_INSTALL_ROOT=str(t.root), AGENT_UPDATE_REPOSITORY_URL=url,
        AGENT_RESTART_COMMAND=json.dumps([str(t.hook)]), AGENT_COMMIT_DEADLINE_S="4",
        AGENT_UPDATE_POLL_S="0.2", KIOSK_RUN_DIR=str(t.run_dir))


def _update(target: str, version: str) -> dict[str, Any]:
    return {"target": target, "version": version, "rollout_id": "ro-tuf"}


def _online(stack: FleetStack, t: Terminal, probe: MqttProbe, device: str, url: str,
            store: OperatorStore) -> None:
    probe.subscribe(f"hrss/v1/dev/{device}/+")
    _start(stack, t, device, url, store.root_json)
    probe.wait(lambda m: m.topic.endswith("/birth"), "the birth")


def _refused(done: dict[str, Any], reason: str) -> None:
    assert done["state"] == "failed", done
    assert done["error"].startswith(f"{reason}: "), done
    assert done["output"] == {"phase": "refused", "reason": reason, "running_version": "1.0.0"}


def _unchanged(t: Terminal) -> None:
    slots = Slots(t.root)
    assert slots.current() == "a" and slots.current_version() == "1.0.0"
    assert t.restarts() == []


def test_a_signed_release_is_fetched_verified_and_committed(
        stack: FleetStack, terminal: Terminal, probe: MqttProbe, signed: OperatorStore,
        store_url: str) -> None:
    _online(stack, terminal, probe, "T-0301", store_url, signed)
    _send(probe, "T-0301", "tuf-1", "update", _update("kiosk/hrss-kiosk-1.1.0.tar.gz", "1.1.0"))

    done = _final(probe, "tuf-1")

    assert done["state"] == "succeeded", done
    assert done["output"] == {"phase": "committed", "version": "1.1.0"}
    assert Slots(terminal.root).current_version() == "1.1.0" and terminal.restarts() == ["1.1.0"]
    # The client walked the store's metadata into the terminal's own TUF cache.
    cached = stack.workdir / "agents" / "T-0301" / "tuf"
    assert {"root.json", "timestamp.json", "snapshot.json", "targets.json"} <= {
        p.name for p in cached.iterdir()}


def test_an_artifact_changed_on_the_store_is_refused_as_tampered_and_nothing_changes(
        stack: FleetStack, terminal: Terminal, probe: MqttProbe, signed: OperatorStore,
        store_url: str) -> None:
    target = "kiosk/hrss-kiosk-1.1.0.tar.gz"
    served_file = signed.served_file(target)
    data = bytearray(served_file.read_bytes())
    data[len(data) // 2] ^= 0x40  # one bit, same length: only the hash tells
    served_file.write_bytes(bytes(data))
    _online(stack, terminal, probe, "T-0302", store_url, signed)
    _send(probe, "T-0302", "tuf-2", "update", _update(target, "1.1.0"))

    done = _final(probe, "tuf-2")

    _refused(done, "tampered")
    _unchanged(terminal)
    assert not Slots(terminal.root).runnable("b")  # nothing was unpacked
    downloads = stack.workdir / "agents" / "T-0302" / "update" / "downloads"
    assert not list(downloads.glob("*"))  # the bad bytes are not kept to resume from


def test_a_replayed_older_store_state_is_refused_as_rollback(
        tmp_path: Path, stack: FleetStack, terminal: Terminal, probe: MqttProbe,
        signed: OperatorStore) -> None:
    old = tmp_path / "old-state"  # what the store served with 1.1.0 only
    shutil.copytree(signed.repo, old)
    target = signed.ship("1.2.0")
    mirror = tmp_path / "mirror"
    shutil.copytree(signed.repo, mirror)
    with served(mirror) as url:
        _online(stack, terminal, probe, "T-0303", url, signed)
        _send(probe, "T-0303", "tuf-3a", "update", _update(target, "1.2.0"))
        assert _final(probe, "tuf-3a")["state"] == "succeeded"
        # The attacker serves the earlier state (validly signed, not expired) to freeze the
        # terminal on what it offered then.
        for sub in ("metadata", "targets"):
            shutil.rmtree(mirror / sub)
            shutil.copytree(old / sub, mirror / sub)
        _send(probe, "T-0303", "tuf-3b", "update",
              _update("kiosk/hrss-kiosk-1.1.0.tar.gz", "1.1.0"))

        done = _final(probe, "tuf-3b")

    assert done["state"] == "failed", done
    assert done["error"].startswith("rollback: "), done
    assert done["output"] == {"phase": "refused", "reason": "rollback",
                              "running_version": "1.2.0"}
    assert Slots(terminal.root).current_version() == "1.2.0"
    assert terminal.restarts() == ["1.2.0"]


def test_an_expired_timestamp_is_refused_as_freeze(
        stack: FleetStack, terminal: Terminal, probe: MqttProbe, signed: OperatorStore,
        store_url: str) -> None:
    # The re-signing timer stopped two days ago: the newest timestamp expired a day ago.
    two_days_ago = utc_now() - dt.timedelta(days=2)
    Repository(signed.repo, clock=lambda: two_days_ago).publish([KeyStore(signed.online)])
    _online(stack, terminal, probe, "T-0304", store_url, signed)
    _send(probe, "T-0304", "tuf-4", "update", _update("kiosk/hrss-kiosk-1.1.0.tar.gz", "1.1.0"))

    done = _final(probe, "tuf-4")

    _refused(done, "freeze")
    assert "timestamp" in done["error"]
    _unchanged(terminal)
