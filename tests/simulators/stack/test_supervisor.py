import os
import sys

import pytest

from simulators.stack.requirements import REQUIREMENTS, MissingSystemPackage, Requirement, require
from simulators.stack.supervisor import ProcessFailed, ProcessSpec, Supervisor
from tests.harness.waiting import wait_for

FOREVER = "import signal; signal.pause()"  # a child that runs until a signal ends it


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead for our purposes
        return fh.read().split()[2] != "Z"


def test_ready_check_then_stop_ends_the_whole_process_group(tmp_path):
    marker = tmp_path / "ready"
    # The child starts a grandchild that ignores SIGTERM and only then says it is ready, so
    # that only the group-wide SIGKILL can end it.
    grandchild_code = (
        "import os, pathlib, signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"t = pathlib.Path({str(marker)!r} + '.tmp'); t.write_text(str(os.getpid())); "
        f"t.rename({str(marker)!r}); signal.pause()"
    )
    code = (
        "import signal, subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {grandchild_code!r}])\n"
        "signal.pause()\n"
    )
    with Supervisor(tmp_path / "logs") as sup:
        proc = sup.start(ProcessSpec("parent", _py(code), ready=marker.exists, stop_timeout=2))
        grandchild = int(marker.read_text())
        assert proc.alive() and _alive(grandchild)
    assert not proc.alive()
    # SIGKILL to the group is delivered asynchronously; the grandchild is not ours to reap.
    wait_for(lambda: not _alive(grandchild), "the SIGTERM-proof grandchild to die", timeout=5)


def test_a_child_that_dies_before_ready_fails_with_its_log(tmp_path):
    spec = ProcessSpec("doomed", _py("print('config is broken'); raise SystemExit(3)"),
                       ready=lambda: False)
    with Supervisor(tmp_path / "logs") as sup, pytest.raises(ProcessFailed) as err:
        sup.start(spec)
    assert "exited with status 3" in str(err.value)
    assert "config is broken" in str(err.value)


def test_a_child_never_ready_fails_after_its_timeout(tmp_path):
    spec = ProcessSpec("slow", _py(FOREVER), ready=lambda: False,
                       ready_timeout=0.3)
    with Supervisor(tmp_path / "logs") as sup, pytest.raises(ProcessFailed, match="not ready"):
        sup.start(spec)
    assert sup.processes == [] or not sup.processes[-1].alive()


def test_kill_and_restart(tmp_path):
    with Supervisor(tmp_path / "logs") as sup:
        proc = sup.start(ProcessSpec("sleeper", _py(FOREVER)))
        first = proc.pid
        proc.kill()
        assert proc.returncode() == -9
        again = sup.restart(proc)
        assert again.alive() and again.pid != first


def test_missing_system_package_is_named(monkeypatch):
    monkeypatch.setitem(REQUIREMENTS, "pcscd", Requirement("pcscd", "pcscd",
                                                           executable="no-such-pcscd"))
    with pytest.raises(MissingSystemPackage, match="install the Debian packages: pcscd"):
        require("pcscd", "mosquitto")
