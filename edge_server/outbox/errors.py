"""What enqueueing and operators' retries can end in besides an item."""

from __future__ import annotations


class OutboxFull(Exception):
    """The outbox holds `outbox_max_pending` unsent items: refuse (503 outbox-full), never
    overwrite or drop an older one."""


class DuplicateClaim(Exception):
    """The claim (citizen, subsidy, period) has an application already (409)."""

    def __init__(self, receipt_no: str) -> None:
        super().__init__("the claim has an application already")
        self.receipt_no = receipt_no


class NotRetryable(Exception):
    """An operator's retry that cannot be made: `code` says why (for problem+json)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
