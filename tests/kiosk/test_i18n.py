"""Every user-facing word exists in both languages, with the same placeholders."""

from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.card.interface import CardFailure
from kiosk.flow.identify.card import CARD_FAILURE_MESSAGES
from kiosk.flow.messages import CARD_STATUS_MESSAGES, PROBLEM_MESSAGES, Msg
from kiosk.flow.screens import ScreenName
from kiosk.i18n import LANGUAGES, Translator, catalog, placeholders

ROOT = Path(__file__).resolve().parents[2]
KIOSK = ROOT / "kiosk"
# Where the words a key is built from come from: the kiosk's own code (screen names, states,
# enum values) and what the edge sends it (scheme, finding and refusal codes), which the
# edge server, the central simulator and the API contracts name.
WORD_SOURCES = ("kiosk", "common", "drivers", "edge_server", "simulators/central")
CONTRACTS = ROOT / "docs" / "contracts"


def test_both_catalogs_have_the_same_keys() -> None:
    zh, en = catalog("zh_CN"), catalog("en")
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []


@pytest.mark.parametrize("key", sorted(catalog("zh_CN")))
def test_placeholders_match_across_languages(key: str) -> None:
    assert placeholders(catalog("zh_CN")[key]) == placeholders(catalog("en")[key])
    assert catalog("zh_CN")[key].strip() and catalog("en")[key].strip()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_has_a_title_and_a_body(language: str) -> None:
    keys = set(catalog(language))
    used = {*Msg, *CARD_FAILURE_MESSAGES.values(), *PROBLEM_MESSAGES.values(),
            *CARD_STATUS_MESSAGES.values()}
    for msg in used:
        assert f"{msg}.title" in keys and f"{msg}.body" in keys, msg
    assert set(CARD_FAILURE_MESSAGES) == set(CardFailure)


def test_every_key_the_code_names_exists() -> None:
    """Literal keys in the UI and the flow's screen prompts must all be in the catalogs."""
    keys = set(catalog("zh_CN"))
    named: set[str] = set()
    targets: set[str] = set()  # automation ids look like keys ("home.end") but are not text
    for path in KIOSK.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_\-]+)+)["']""", text))
        named |= set(re.findall(r"""["']((?:button|home|benefits|attract|reading|identifying|"""
                                r"""loading|ending|idle|message|data|footer|app)\.[a-z_.]+)["']""",
                                text))
        targets |= set(re.findall(r"""(?:button\(|KioskButton\(\w+, )\s*["']([a-z.\-]+)["']""",
                                  text))
        targets |= set(re.findall(r"""\(["']([a-z]+\.[a-z\-]+)["'], ["']button\.""", text))
    named -= targets - keys
    for screen in ScreenName:
        if screen not in (ScreenName.HOME, ScreenName.BENEFITS, ScreenName.MESSAGE):
            named.add(f"{screen}.title")
    missing = sorted(k for k in named if k not in keys)
    assert missing == []
    assert len(named) > 30 and len(targets) >= 8  # the scan found what it is meant to check


def _names_in_code() -> tuple[set[str], list[str]]:
    """Every string constant of the kiosk's code and of the word sources, and every f-string
    of the kiosk's code with a dotted literal part, as a regex: f"keypad.hint.{kind}" ->
    `keypad\\.hint\\.(.+?)`."""
    words: set[str] = set()
    built: list[str] = []
    for source in WORD_SOURCES:
        for path in (ROOT / source).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    words.add(node.value)
                elif isinstance(node, ast.JoinedStr) and source == "kiosk":
                    literal = "".join(v.value for v in node.values
                                      if isinstance(v, ast.Constant))
                    if "." in literal and re.search("[a-z]", literal):
                        built.append("".join(
                            re.escape(v.value) if isinstance(v, ast.Constant) else "(.+?)"
                            for v in node.values))
    for doc in CONTRACTS.glob("*.md"):
        words |= set(re.findall(r"[a-z][a-z0-9_\-]*", doc.read_text(encoding="utf-8")))
    return words, built


def test_every_key_in_the_catalogs_is_used() -> None:
    """A key the code never names, literally or as an f-string of known words
    (f"{msg}.title", f"scheme.{code}"), is dead text: remove it."""
    words, built = _names_in_code()

    def known(part: str) -> bool:  # "msg.card_lost", or each word named: "due.title"
        return part in words or all(w in words or w.replace("_", "-") in words or w.isdigit()
                   for w in part.split("."))

    def used(key: str) -> bool:
        if key in words:
            return True
        for pattern in built:
            match = re.fullmatch(pattern, key)
            if match and all(known(g) for g in match.groups()):
                return True
        return False

    assert len(built) > 30  # the scan found the built keys it is meant to account for
    assert sorted(k for k in catalog("zh_CN") if not used(k)) == []


def test_lookup_falls_back_to_chinese_then_to_the_key(caplog) -> None:
    en = Translator("en")
    assert en("attract.title") == "Please insert your social security card"
    assert Translator("fr")("attract.title") == "请插入社会保障卡"  # unknown language
    assert en("no.such.key") == "no.such.key"
    assert "no.such.key" in caplog.text
    assert Translator()("home.greeting", name="张*") == "您好，张*"
    assert Translator()("home.greeting") == "您好，{name}"  # a missing parameter never crashes


def test_formats() -> None:
    zh, en = Translator("zh_CN"), Translator("en")
    assert zh.money(Decimal("3456.78")) == "¥3,456.78"
    assert zh.month("2026-10") == "2026年10月" and en.month("2026-10") == "Oct 2026"
    assert zh.month("soon") == "soon"
    assert zh.date(dt.date(2026, 10, 15)) == "2026年10月15日"
    assert zh.day(dt.date(2026, 10, 15)) == "10月15日" and en.day(dt.date(2026, 10, 15)) == "15 Oct"
    # Freshness is shown in Beijing time whatever the terminal's clock zone.
    assert zh.moment(dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)) == "2026年11月22日 10:00"
    assert en.moment(dt.datetime(2026, 11, 22, 18, 30)) == "23 Nov 2026 02:30"
