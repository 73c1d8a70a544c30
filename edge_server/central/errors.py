"""What a central call can end in besides an answer. Messages are for operators: no citizen data."""

from __future__ import annotations


class CentralUnavailable(Exception):
    """The platform cannot answer now (down, slow, faulty or answering nonsense): the caller
    serves from its cache, else 503 central-unavailable."""


class BadAnswer(CentralUnavailable):
    """The platform answered, but not with what the contract allows (too large, not JSON, out of
    range, another person's record...). Treated as an outage: never shown, never stored."""

    def __init__(self, reason: str, detail: str = "") -> None:
        # `reason` is a fixed rule (it is counted); `detail` is what the peer sent, for the log.
        super().__init__(f"bad answer: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.detail = detail


class CentralNotFound(Exception):
    """The platform says in the contract's words (`person-not-found`): no such person."""


class TokenInvalid(Exception):
    """The electronic card code is not genuine."""


class TokenExpired(Exception):
    """The electronic card code has expired."""


class TokenUsed(Exception):
    """The electronic card code was already used (a replay)."""


class TokenOtherTerminal(Exception):
    """The electronic card code was issued for another terminal."""


class StaffRefused(Exception):
    """The issuer's key centre does not accept the staff credential of a PIN reload or unblock
    (unknown staff or a wrong code: it does not say which)."""
