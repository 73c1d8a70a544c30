"""`logs`: validated arguments; the tail of the configured file only, masked and bounded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from fleet.agent.commands.logs import MAX_RESULT_BYTES
from fleet.agent.shell_commands import MAX_LINE_CHARS, TAIL_READ_BYTES
from fleet.protocol import CommandStatus, encode
from fleet.protocol.limits import MAX_PAYLOAD_BYTES
from tests.fleet.agent.commands.support import answer, command, settings_for, work
from tests.fleet.agent.control_stub import StubKiosk

CITIZEN_ID = "110105199003070018"


@pytest.mark.parametrize("args", [
    {"source": "agent", "lines": 0}, {"source": "agent", "lines": 501},
    {"source": "agent", "lines": True}, {"source": "agent", "lines": 2.5},
    {"source": "/etc/passwd"}, {"source": "agent", "path": "/etc/passwd"}, {},
])
def test_core_rejects_bad_arguments(args: dict) -> None:
    assert answer(encode(command("logs", **args))).status is CommandStatus.REJECTED


def test_the_last_lines_masked(tmp_path: Path, kiosk: StubKiosk) -> None:
    log = tmp_path / "kiosk.log"
    log.write_text("".join(f"line {i}\n" for i in range(50))
                   + f"read card of 张三丰 id {CITIZEN_ID}\nlast\n", encoding="utf-8")
    settings = settings_for(tmp_path, kiosk, kiosk_log_file=log)
    result = work(settings, command("logs", source="kiosk", lines=3))
    assert result.status is CommandStatus.OK
    assert result.output == {"source": "kiosk", "truncated": False, "lines": [
        "line 49", "read card of 张** id 110105********0018", "last"]}
    assert CITIZEN_ID not in json.dumps(result.output, ensure_ascii=False)


def test_reads_only_the_tail_of_a_large_file(
    tmp_path: Path, kiosk: StubKiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "agent.log"
    with log.open("w") as f:
        for i in range(200_000):  # about 5 MB
            f.write(f"entry {i:07d} id {CITIZEN_ID}\n")
    read: list[int] = []
    real_fdopen = os.fdopen

    def spying_fdopen(fd: int, *a: Any, **kw: Any) -> Any:
        f = real_fdopen(fd, *a, **kw)
        real_read = f.read

        def read_and_count(n: int = -1) -> bytes:
            data = real_read(n)
            read.append(len(data))
            return data

        f.read = read_and_count
        return f

    monkeypatch.setattr(os, "fdopen", spying_fdopen)
    settings = settings_for(tmp_path, kiosk, agent_log_file=log)
    result = work(settings, command("logs", source="agent", lines=500))
    assert sum(read) <= TAIL_READ_BYTES < log.stat().st_size // 10
    lines = result.output["lines"]
    assert len(lines) == 500 and result.output["truncated"] is False
    assert lines[-1] == "entry 0199999 id 110105********0018"


def test_bounded_by_bytes_keeping_the_newest(tmp_path: Path, kiosk: StubKiosk) -> None:
    log = tmp_path / "kiosk.log"
    # Quotes and backslashes grow in JSON; the bound is on what goes out.
    log.write_text("".join(f"{i:04d} " + '"\\' * 450 + "\n" for i in range(500)))
    settings = settings_for(tmp_path, kiosk, kiosk_log_file=log)
    result = work(settings, command("logs", source="kiosk", lines=500))
    lines = result.output["lines"]
    assert result.output["truncated"] is True
    assert 0 < len(lines) < 500 and lines[-1].startswith("0499 ")
    assert len(json.dumps(lines, ensure_ascii=False).encode()) <= MAX_RESULT_BYTES
    assert len(encode(result)) <= MAX_PAYLOAD_BYTES


def test_a_very_long_line_is_cut(tmp_path: Path, kiosk: StubKiosk) -> None:
    log = tmp_path / "kiosk.log"
    log.write_text("short\n" + "y" * 10_000 + "\n")
    settings = settings_for(tmp_path, kiosk, kiosk_log_file=log)
    result = work(settings, command("logs", source="kiosk", lines=2))
    assert [len(x) for x in result.output["lines"]] == [5, MAX_LINE_CHARS]
    assert result.output["truncated"] is True


def test_unconfigured_missing_or_odd_files_are_errors(tmp_path: Path, kiosk: StubKiosk) -> None:
    none = settings_for(tmp_path, kiosk)
    assert work(none, command("logs", source="agent")).output == {
        "error": "not-configured", "source": "agent"}
    missing = settings_for(tmp_path, kiosk, kiosk_log_file=tmp_path / "gone.log")
    result = work(missing, command("logs", source="kiosk"))
    assert result.status is CommandStatus.ERROR and result.output["error"] == "unreadable"
    folder = settings_for(tmp_path, kiosk, kiosk_log_file=tmp_path)
    assert work(folder, command("logs", source="kiosk")).output["error"] == "unreadable"
