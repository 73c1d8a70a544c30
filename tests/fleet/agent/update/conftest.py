from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet.agent.update.slots import Slots
from tests.fleet.agent.update.support import DirectoryRepository, SlotKiosk, release, restart_hook


@dataclass
class Terminal:
    """An install root with 1.0.0 in slot a (current), a repository holding 1.1.0 (good) and
    1.2.0 (never healthy), and a kiosk that runs what the restart hook started."""

    root: Path
    slots: Slots
    repo: DirectoryRepository
    run_dir: Path
    kiosk: SlotKiosk
    hook: Path

    def restarts(self) -> list[str]:
        log = self.run_dir / "restarts.log"
        return log.read_text().split() if log.exists() else []


@pytest.fixture
def terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    slots = Slots(tmp_path / "opt")
    slots.install("a", release(tmp_path / "build" / "1.0.0.tar.gz", "1.0.0"), "1.0.0")
    slots.switch("a")
    repo = DirectoryRepository(tmp_path / "repo")
    repo.publish("kiosk/k-1.1.0.tar.gz", release(tmp_path / "build" / "1.1.0.tar.gz", "1.1.0"),
                 "1.1.0")
    repo.publish("kiosk/k-1.2.0.tar.gz",
                 release(tmp_path / "build" / "1.2.0.tar.gz", "1.2.0", health="bad"), "1.2.0")
    repo.publish("kiosk/k-0.9.0.tar.gz", release(tmp_path / "build" / "0.9.0.tar.gz", "0.9.0"),
                 "0.9.0")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "running").write_text("1.0.0\n")
    (run_dir / "health").write_text("ok")
    monkeypatch.setenv("KIOSK_RUN_DIR", str(run_dir))  # read by the restart hook
    kiosk = SlotKiosk(run_dir)
    yield Terminal(tmp_path / "opt", slots, repo, run_dir, kiosk, restart_hook(tmp_path))
    kiosk.close()
