"""Every word the citizen sees: zh_CN (default) and en catalogs, plus date and money formats.

`Translator(lang)(key, **params)` looks the key up in the chosen language, then in zh_CN, and
as a last resort shows the key itself (and logs it once) rather than crash in front of a citizen.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import string
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from common.clock import to_china

log = logging.getLogger(__name__)

Language = Literal["zh_CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh_CN", "en")
DEFAULT_LANGUAGE: Language = "zh_CN"

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@cache
def catalog(language: str) -> dict[str, str]:
    text = files("kiosk.i18n").joinpath(f"{language}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"catalog {language} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Translator:
    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self.language: Language = language if language in LANGUAGES else DEFAULT_LANGUAGE  # type: ignore[assignment]
        self._primary = catalog(self.language)
        self._fallback = catalog(DEFAULT_LANGUAGE)
        self._reported: set[str] = set()

    def __call__(self, key: str, **params: Any) -> str:
        template = self._primary.get(key) or self._fallback.get(key)
        if template is None:
            if key not in self._reported:
                self._reported.add(key)
                log.error("i18n: no text for key %r", key)
            return key
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            log.error("i18n: parameters do not fit key %r", key)
            return template

    def has(self, key: str) -> bool:
        return key in self._primary or key in self._fallback

    def optional(self, key: str, default: str) -> str:
        """The text for `key` if any catalog has it, else `default` (e.g. an edge-given name)."""
        return self(key) if self.has(key) else default

    # Formats --------------------------------------------------------------------------------

    @property
    def chinese(self) -> bool:
        return self.language == "zh_CN"

    def money(self, amount: Decimal) -> str:
        return f"¥{amount:,.2f}"

    def month(self, year_month: str) -> str:
        """'2026-10' -> '2026年10月' / 'Oct 2026'; anything else is shown as given."""
        try:
            year, month = (int(part) for part in year_month.split("-", 1))
            if not 1 <= month <= 12:
                raise ValueError(year_month)
        except ValueError:
            return year_month
        return f"{year}年{month}月" if self.chinese else f"{_MONTHS_EN[month - 1]} {year}"

    def period(self, value: str) -> str:
        """A claim period: 'once', '2026' (a year) or '2026-05' (a month)."""
        if value == "once":
            return self("period.once")
        if len(value) == 4 and value.isdigit():
            return self("period.year", year=value)
        return self.month(value)

    def date(self, value: dt.date) -> str:
        if self.chinese:
            return f"{value.year}年{value.month}月{value.day}日"
        return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"

    def day(self, value: dt.date) -> str:
        """A date without its year, where the year is plain from the context (a payment row)."""
        return f"{value.month}月{value.day}日" if self.chinese else (
            f"{value.day} {_MONTHS_EN[value.month - 1]}"
        )

    def moment(self, value: dt.datetime) -> str:
        """A point in time, in Beijing time, to the minute."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        local = to_china(value)
        return f"{self.date(local.date())} {local:%H:%M}"
