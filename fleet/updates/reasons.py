"""Why an artifact or its metadata is refused: the reason codes of docs/contracts/fleet-mqtt.md
("Updates"), shared by the terminal's client and the store's upload checks."""

from __future__ import annotations

import json
from typing import Any

TAMPERED = "tampered"  # hash or length differs from what was signed
UNSIGNED = "unsigned"  # no signature at all
UNKNOWN_KEY = "unknown-key"  # signed, but not by enough keys the trusted root lists
ROLLBACK = "rollback"  # older than what is trusted
FREEZE = "freeze"  # expired metadata: a withheld newer release
MIX_AND_MATCH = "mix-and-match"  # roles from different repository states
NOT_FOUND = "not-found"
DOWNLOAD_FAILED = "download-failed"

REASONS = frozenset({TAMPERED, UNSIGNED, UNKNOWN_KEY, ROLLBACK, FREEZE, MIX_AND_MATCH,
                     NOT_FOUND, DOWNLOAD_FAILED})


class Refused(Exception):
    """A refusal with its reason code; str() is the words a person reads."""

    def __init__(self, reason: str, words: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason code {reason!r}")
        super().__init__(words)
        self.reason = reason
        self.words = words

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.words!r})"


def signature_reason(raw: bytes | None) -> str:
    """"unsigned" when the metadata carries no signature at all, else "unknown-key".

    TUF says only "signed by 0/1 keys" for both; the difference matters to the person who
    reads the refusal (a forgotten signing step, or a key we do not trust).
    """
    if raw is None:
        return UNKNOWN_KEY
    try:
        document: Any = json.loads(raw)
        signatures = document.get("signatures")
    except (ValueError, AttributeError):
        return UNKNOWN_KEY
    if not signatures or not any(isinstance(s, dict) and s.get("sig") for s in signatures):
        return UNSIGNED
    return UNKNOWN_KEY
