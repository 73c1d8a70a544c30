"""Verification codes: `K7QM-3XPD-9WTR-2HFC`, 15 random characters and a check character.

The alphabet leaves out 0/O and 1/I (confused when typed from paper) and Z (31 is prime). 15
random characters are 74 bits: a code cannot be guessed, so showing a masked view to whoever
holds one is safe. The check character (a weighted sum mod 31) makes a mistyped or altered code
"malformed" at once, without a database lookup.
"""

from __future__ import annotations

import re
import secrets

# 31 characters, a prime: with the weighted sum mod 31, every single-character change and every
# swap of two neighbours changes the check character (no difference of two values is 0 mod 31).
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXY"
_RANDOM = 15
GROUP = 4
PATTERN = r"^[2-9A-HJ-NP-Y]{4}(-[2-9A-HJ-NP-Y]{4}){3}$"
_SHAPE = re.compile(PATTERN)
MAX_LENGTH = 19


def _check_char(body: str) -> str:
    total = sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(_RANDOM))
    raw = body + _check_char(body)
    return "-".join(raw[i:i + GROUP] for i in range(0, len(raw), GROUP))


def normalise(text: str) -> str | None:
    """The canonical code for what someone typed or scanned (case, spaces and missing dashes
    forgiven), or None when it is no code of ours or its check character is wrong."""
    if len(text) > 64:
        return None
    raw = re.sub(r"[\s-]", "", text).upper()
    if len(raw) != _RANDOM + 1 or any(c not in ALPHABET for c in raw):
        return None
    if _check_char(raw[:-1]) != raw[-1]:
        return None
    code = "-".join(raw[i:i + GROUP] for i in range(0, len(raw), GROUP))
    return code if _SHAPE.match(code) else None
