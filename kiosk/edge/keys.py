"""Idempotency keys: one per logical action, reused on every retry of that action."""

from __future__ import annotations

import uuid


def new_idempotency_key() -> str:
    """One per logical action (open this citizen's session, end this session)."""
    return str(uuid.uuid4())
