"""`maintenance` {"on": bool, "reason": str ≤ 200}: asks the kiosk (its control API) to show, or
stop showing, "temporarily out of service"; answers the kiosk's `{"on", "pending"}` (pending: a
citizen session is open and the screen shows once it ends)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleet.agent.commands.base import BadArgs, Outcome
from fleet.agent.commands.shell_work import answer_from_work
from fleet.protocol.messages import Command, KnownCommand

MAX_REASON_LEN = 200


class Maintenance:
    name = KnownCommand.MAINTENANCE.value
    shell_work = True

    def parse(self, args: dict[str, Any]) -> dict[str, Any]:
        extra = set(args) - {"on", "reason"}
        if extra:
            raise BadArgs(f"unknown arguments: {', '.join(sorted(extra))[:100]}")
        on = args.get("on")
        if not isinstance(on, bool):
            raise BadArgs("on must be true or false")
        reason = args.get("reason", "")
        if not isinstance(reason, str) or len(reason) > MAX_REASON_LEN:
            raise BadArgs(f"reason must be text of at most {MAX_REASON_LEN} characters")
        return {"on": on, "reason": reason}

    def run(self, command: Command, now: datetime) -> Outcome:
        return answer_from_work(self, command)
