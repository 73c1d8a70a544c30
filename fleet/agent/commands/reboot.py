"""`reboot`: runs the configured `reboot_command`, never while a citizen session is open.

Refused, not deferred: when the kiosk reports `session_active` the answer is `error` with
`{"error": "session-active"}` and nothing runs (the operator sends it again later; a job that
waits would hold the terminal's one external-job slot for an update). A kiosk that does not
answer cannot say that nobody is at it: refused with `kiosk-unavailable`, unless `force: true`
(for a hung kiosk). `force` never overrides a session the kiosk reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleet.agent.commands.base import BadArgs, Outcome
from fleet.agent.commands.shell_work import answer_from_work
from fleet.protocol.messages import Command, KnownCommand


class Reboot:
    name = KnownCommand.REBOOT.value
    shell_work = True

    def parse(self, args: dict[str, Any]) -> dict[str, Any]:
        extra = set(args) - {"force"}
        if extra:
            raise BadArgs(f"unknown arguments: {', '.join(sorted(extra))[:100]}")
        force = args.get("force", False)
        if not isinstance(force, bool):
            raise BadArgs("force must be true or false")
        return {"force": force}

    def run(self, command: Command, now: datetime) -> Outcome:
        return answer_from_work(self, command)
