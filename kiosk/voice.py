"""Voice prompts: the hook the UI calls on every screen change. Text-to-speech comes later.

An implementation must return at once (speak on its own thread) and cut off the previous prompt
when a new one starts: elderly users should hear what is on the screen now, not a queue.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Voice(Protocol):
    def say(self, key: str, text: str) -> None:
        """Speak `text` (already translated); `key` names the prompt for logs and caching."""
        ...

    def stop(self) -> None:
        """Stop speaking (the session ended, the card was pulled)."""
        ...


class SilentVoice:
    """No speech: logs the prompt key (never the text, which may hold a masked name)."""

    def say(self, key: str, text: str) -> None:
        log.debug("voice: %s", key)

    def stop(self) -> None:
        pass
