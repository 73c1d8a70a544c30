"""simulators/stack/services.py: what each process needs to run anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simulators.stack import services
from simulators.stack.supervisor import Supervisor

_LIST_READERS = (
    "from smartcard.System import readers; print([str(r) for r in readers()])"
)


def test_pcscd_in_a_deep_workdir_gets_a_socket_path_a_client_can_reach(tmp_path: Path) -> None:
    # pytest-xdist's basetemp and the demo's timestamped workdir made paths of 110 bytes:
    # too long for a Unix socket, so the kiosk found "no PC/SC service".
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    instance = services.pcscd(deep / "pcscd")
    assert len(os.fsencode(instance.socket_path)) <= services.MAX_SOCKET_PATH
    with Supervisor(tmp_path / "logs") as supervisor:
        supervisor.start(instance.spec)
        listed = subprocess.run(
            [sys.executable, "-c", _LIST_READERS], env={**os.environ, **instance.client_env},
            capture_output=True, text=True, timeout=30, check=True,
        )
        assert "Virtual PCD 00 00" in listed.stdout, listed.stderr
    assert not instance.socket_path.parent.exists()  # the short folder went with pcscd


def test_pcscd_in_a_short_workdir_keeps_its_socket_there(tmp_path: Path) -> None:
    instance = services.pcscd(tmp_path / "p")
    assert instance.socket_path == tmp_path / "p" / "run" / "pcscd.comm"
    assert instance.spec.cleanup is None
