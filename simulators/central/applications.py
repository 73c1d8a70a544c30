"""Applications and their states over simulated time.

An application's history follows from its dates, computed on read, so that it is the same in
every process and after every restart: township review a day after the platform received it,
department review after 3 days, the decision after 5 (about 10 % rejected), the transfer after
7 and, for about 5 % of transfers, the bank's return (回盘) a day later. A tester's `advance`
(stored) replaces the automatic steps from its moment on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from simulators.central.catalogue import CATALOGUE, UNEMPLOYMENT_MONTHLY

STATUSES = ("submitted", "township-review", "department-review", "approved", "rejected",
            "disbursed", "bank-returned", "bank-failed")
MAX_HISTORY = 16
DAY = dt.timedelta(days=1)
_REJECTIONS = ("申请材料不完整，请补充后重新申请。", "经核查，不符合申领条件。",
               "所在单位未按规定参保缴费。")
_PAID_STATES = {"disbursed", "bank-returned", "bank-failed"}


@dataclass(frozen=True)
class Event:
    status: str
    at: dt.datetime
    reason: str | None = None


@dataclass(frozen=True)
class Application:
    """One application, seeded or recorded: the dates its history is computed from."""

    application_no: str
    citizen_index: int
    subsidy: str
    period: str
    submitted_at: dt.datetime  # when the citizen submitted it
    received_at: dt.datetime  # when the platform received it: the review starts then


def _roll(application_no: str) -> float:
    digest = hashlib.sha256(f"hrss central-sim decision\0{application_no}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def automatic(app: Application) -> list[Event]:
    """The whole planned history, future steps included."""
    base, roll = app.received_at, _roll(app.application_no)
    events = [Event("submitted", app.submitted_at), Event("township-review", base + DAY),
              Event("department-review", base + 3 * DAY)]
    if roll < 0.10:
        reason = _REJECTIONS[int(roll * 100) % len(_REJECTIONS)]
        return [*events, Event("rejected", base + 5 * DAY, reason)]
    events += [Event("approved", base + 5 * DAY), Event("disbursed", base + 7 * DAY)]
    if roll < 0.13:
        events.append(Event("bank-returned", base + 8 * DAY, "收款账户已销户，资金已退回。"))
    elif roll < 0.15:
        events.append(Event("bank-failed", base + 8 * DAY, "户名与账号不符，转账失败。"))
    return events


def history(app: Application, overrides: list[Event], now: dt.datetime) -> list[Event]:
    """What has happened by `now`: the automatic steps until the first override, then the
    overrides; at most MAX_HISTORY entries (the first and the latest ones)."""
    planned = automatic(app)
    if overrides:
        first = overrides[0].at
        planned = [e for e in planned if e.at < first or e.status == "submitted"]
    events = [e for e in planned if e.at <= now] + [e for e in overrides if e.at <= now]
    if not events:  # submitted "in the future" by a skewed clock: it is still submitted
        events = [planned[0]]
    if len(events) > MAX_HISTORY:
        events = [events[0], *events[-(MAX_HISTORY - 1):]]
    return events


def amount(app: Application, status: str) -> Decimal | None:
    rule = CATALOGUE[app.subsidy]
    if rule.amount is not None:
        return rule.amount
    # Unemployment benefit: known once decided.
    return UNEMPLOYMENT_MONTHLY if status in {"approved", *_PAID_STATES} else None


def paid(status: str) -> bool:
    return status in _PAID_STATES


def live_application_no(day: dt.date, serial: int) -> str:
    """SQ<yyyymmdd><8 digits>; live serials above the seeded ones (profiles)."""
    return f"SQ{day:%Y%m%d}{50_000_000 + serial:08d}"
