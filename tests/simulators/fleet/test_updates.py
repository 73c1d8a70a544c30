"""Virtual terminals take update and rollback jobs through the agent's core, downloading the
release from a real artifact store (`kioskctl fleet artifacts serve`, its own process)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.agent.update import runner as real_runner
from fleet.protocol import JobState
from simulators.fleet.terminal import VirtualTerminal
from simulators.fleet.updates import (
    Downloads,
    JobWorkers,
    ReleaseHealth,
    SimulatedRunner,
    UpdateConfig,
)
from tests.fleet.updates.support import Store, served
from tests.simulators.fleet.support import OneTerminal

TARGET = "kiosk/hrss-kiosk-1.4.0.tar.gz"
UPDATE = {"target": TARGET, "version": "1.4.0"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store.create(tmp_path_factory.mktemp("store"))
    s.release("1.4.0", os.urandom(300_000))  # incompressible: real bytes to move
    return s


@pytest.fixture(scope="module")
def url(store: Store) -> Iterator[str]:
    with served(store.repo.directory) as base:
        yield base


class Fleet:
    """Workers over one runner, terminals made on request; counters kept."""

    def __init__(self, config: UpdateConfig, health: ReleaseHealth | None = None) -> None:
        self.counters: dict[str, int] = {}
        self.workers = JobWorkers(SimulatedRunner(config, Downloads(config, self.note), health,
                                                  note=self.note), note=self.note)

    def note(self, counter: str, delta: int) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + delta

    def terminal(self, device_id: str, **kw: Any) -> OneTerminal:
        return OneTerminal(VirtualTerminal(device_id, app_version="1.3.0", **kw), self.workers)


@pytest.fixture(params=["tuf", "shared"])
def config(request: pytest.FixtureRequest, tmp_path: Path, store: Store,
           url: str) -> UpdateConfig:
    return UpdateConfig(repository_url=url, work_dir=tmp_path / "sim", mode=request.param,
                        root_json=(store.repo.metadata_dir / "1.root.json").read_bytes(),
                        workers=4, commit_deadline_s=0.5, poll_s=0.05)


@pytest.fixture
def make(config: UpdateConfig) -> Iterator[Any]:
    made: list[Fleet] = []

    def build(health: ReleaseHealth | None = None) -> Fleet:
        made.append(Fleet(config, health))
        return made[-1]

    yield build
    for f in made:
        f.workers.close()


def test_an_update_downloads_through_the_core_and_commits(make: Any) -> None:
    fleet = make()
    one = fleet.terminal("SIM-00001")
    one.command("update", UPDATE, "job-1")
    end = one.final("job-1")
    assert end.state is JobState.SUCCEEDED, end
    assert end.output == {"phase": "committed", "version": "1.4.0"}
    assert one.t.app_version == "1.4.0"
    assert one.t.disk.slots == {"a": "1.3.0", "b": "1.4.0"}
    assert one.phases("job-1") == ["download", "verify", "install", "wait-lock", "switch",
                                   "commit", "committed"]
    assert fleet.counters["downloads"] == 1
    assert fleet.counters["download_bytes"] >= 300_000
    # A later rollback job goes back to the slot that still holds 1.3.0.
    one.command("rollback", {"to_version": "1.3.0"}, "job-2")
    back = one.final("job-2")
    assert (back.state, back.output) == (JobState.SUCCEEDED,
                                         {"phase": "rolled-back", "version": "1.3.0"})
    assert one.t.app_version == "1.3.0"


def test_a_release_that_never_becomes_healthy_rolls_back(make: Any) -> None:
    one = make(ReleaseHealth(bad_versions=frozenset({"1.4.0"}))).terminal("SIM-00002")
    one.command("update", UPDATE, "job-bad")
    end = one.final("job-bad")
    assert end.state is JobState.FAILED
    assert end.output == {"phase": "rolled-back", "reason": "unhealthy",
                          "running_version": "1.3.0"}
    assert end.error.startswith("unhealthy: ")
    assert "rollback" in one.phases("job-bad")
    assert one.t.app_version == "1.3.0"


@pytest.mark.parametrize("phase", ["download", "install", "switch", "commit"])
def test_a_crash_mid_update_resumes_from_the_recorded_phase(make: Any, phase: str) -> None:
    fleet = make()
    one = fleet.terminal("SIM-00003")
    one.t.crash_at = phase
    first_session = one.t.core.session_seq
    one.command("update", UPDATE, "job-crash")
    end = one.final("job-crash")
    assert one.crashes == 1 and fleet.counters["crashes"] == 1
    assert one.t.core.session_seq is not None and first_session is not None
    assert one.t.core.session_seq > first_session  # a new agent process, a new session
    assert (end.state, end.output) == (JobState.SUCCEEDED,
                                       {"phase": "committed", "version": "1.4.0"})
    # The phase it died in is done again by the new process (the runner's resume table).
    assert one.phases("job-crash").count(phase) == 2
    assert one.t.app_version == "1.4.0"


def test_bad_on_a_model_fails_only_that_model(make: Any) -> None:
    fleet = make(ReleaseHealth(bad_on_models=frozenset({"KX-200"})))
    good = fleet.terminal("SIM-00010", model="KX-100")
    bad = fleet.terminal("SIM-00011", model="KX-200")
    good.command("update", UPDATE, "job-a")
    bad.command("update", UPDATE, "job-b")
    assert good.final("job-a").output["phase"] == "committed"
    assert bad.final("job-b").output["phase"] == "rolled-back"
    assert (good.t.app_version, bad.t.app_version) == ("1.4.0", "1.3.0")
    assert fleet.counters.get("rolled_back_on_KX-200") == 1
    assert "rolled_back_on_KX-100" not in fleet.counters


def test_an_unknown_target_is_refused_and_nothing_changes(make: Any) -> None:
    one = make().terminal("SIM-00004")
    one.command("update", {"target": "kiosk/hrss-kiosk-9.9.9.tar.gz", "version": "9.9.9"}, "j")
    end = one.final("j")
    assert end.state is JobState.FAILED
    assert end.output == {"phase": "refused", "reason": "not-found", "running_version": "1.3.0"}
    assert one.t.disk.slots == {"a": "1.3.0", "b": None}


def test_without_a_repository_updates_are_refused_as_the_agent_refuses_them() -> None:
    fleet = Fleet(UpdateConfig())
    try:
        one = fleet.terminal("SIM-00005")
        one.command("update", UPDATE, "j")
        end = one.final("j")
        assert end.output["reason"] == "download-failed"
        assert "no update repository configured" in end.error
    finally:
        fleet.workers.close()


def test_the_simulator_reports_with_the_agents_own_phases_and_outcomes() -> None:
    # One definition (fleet.agent.update.state), never a copy that could drift.
    from simulators.fleet import updates as sim

    assert sim.UpdateMachine is real_runner.UpdateMachine  # the phases: one machine
    assert sim.outcome is real_runner.outcome and sim.Refused is real_runner.Refused
