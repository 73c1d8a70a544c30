"""`screenshot`: the kiosk's screen as a PNG, scaled down until its base64 fits 48 KiB:
`{"png_b64", "width", "height"}`. The kiosk refuses during a citizen session (privacy): answered
`error` with `{"error": "session-active"}`. No arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleet.agent.commands.base import Outcome
from fleet.agent.commands.shell_work import answer_from_work, no_args
from fleet.protocol.messages import Command, KnownCommand

#: The answer's bound on the image (its base64 text); the payload limit is 64 KiB in all.
MAX_PNG_B64_BYTES = 48 * 1024


class Screenshot:
    name = KnownCommand.SCREENSHOT.value
    shell_work = True

    def parse(self, args: dict[str, Any]) -> dict[str, Any]:
        return no_args(args)

    def run(self, command: Command, now: datetime) -> Outcome:
        return answer_from_work(self, command)
