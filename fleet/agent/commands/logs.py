"""`logs` {"source": "agent"|"kiosk", "lines": 1..500}: the last lines of the configured log
file of that source (`agent_log_file`, `kiosk_log_file`; never a path from the command), read
from the file's tail only, masked (ID numbers, names), at most 48 KiB in the answer:
`{"source", "lines": [...], "truncated": bool}`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleet.agent.commands.base import BadArgs, Outcome
from fleet.agent.commands.shell_work import answer_from_work
from fleet.protocol.messages import Command, KnownCommand

SOURCES = ("agent", "kiosk")
MAX_LINES = 500
DEFAULT_LINES = 100
#: The bound on the lines in one answer (JSON-encoded); the payload limit is 64 KiB in all.
MAX_RESULT_BYTES = 48 * 1024


class Logs:
    name = KnownCommand.LOGS.value
    shell_work = True

    def parse(self, args: dict[str, Any]) -> dict[str, Any]:
        extra = set(args) - {"source", "lines"}
        if extra:
            raise BadArgs(f"unknown arguments: {', '.join(sorted(extra))[:100]}")
        source = args.get("source")
        if source not in SOURCES:
            raise BadArgs(f"source must be one of {', '.join(SOURCES)}")
        lines = args.get("lines", DEFAULT_LINES)
        if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= MAX_LINES:
            raise BadArgs(f"lines must be a whole number from 1 to {MAX_LINES}")
        return {"source": source, "lines": lines}

    def run(self, command: Command, now: datetime) -> Outcome:
        return answer_from_work(self, command)
