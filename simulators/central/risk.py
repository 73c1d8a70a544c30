"""Risk validators: run on every subsidy application and by the pre-check, which records
nothing. One function per validator; each returns its findings, a reason code and a plain
Chinese explanation the kiosk can show as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from common import citizen_id as cid_rules
from simulators.central.catalogue import CATALOGUE, SubsidyRule
from simulators.central.population import Citizen
from simulators.central.profiles import Profile


@dataclass(frozen=True)
class Finding:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Identity:
    method: str  # card | qr | face
    card_number: str | None = None
    card_id_code: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Case:
    """Everything the validators look at: one application against the records."""

    citizen: Citizen
    profile: Profile
    card_status: str  # of the current card, overrides applied
    rule: SubsidyRule
    period: str
    identity: Identity | None
    today: dt.date
    claims: frozenset[tuple[str, str]]  # (subsidy, period) applied for and not rejected


_CARD_WORDS = {"reported-lost": "已挂失", "cancelled": "已注销", "blacklisted": "已列入黑名单",
               "replaced": "已换发新卡，旧卡停用"}


def check_character(citizen_id: str) -> list[Finding]:
    """The ID's GB 11643 check character (only for an ID of the right shape: anything else
    is simply not found)."""
    value = citizen_id.strip().upper()
    if len(value) == 18 and value[:17].isdigit() and cid_rules.check_char(value[:17]) != value[17]:
        return [Finding("check-character", "身份证号码校验位不正确，请核对号码。")]
    return []


def identity(case: Case) -> list[Finding]:
    """Name and the chip's identification code match the card on record; a card number given
    names one of this person's cards, and the one in use, not a replaced one."""
    ident = case.identity
    if ident is None:
        return []
    current = case.citizen.current_card
    mismatch = Finding("identity-mismatch", "姓名或社保卡识别码与登记信息不一致。")
    if ident.name is not None and ident.name.strip() != case.citizen.name:
        return [mismatch]
    if ident.card_number is not None:
        card = next((c for c in case.citizen.cards
                     if c.card_number == ident.card_number.strip().upper()), None)
        if card is None:
            return [mismatch]
        if card is not current:
            return [Finding("card-not-normal", "这张社保卡已换发新卡，旧卡停用，请使用新卡。")]
    if ident.card_id_code is not None and ident.card_id_code.strip().upper() != (
            current.card_id_code):
        return [mismatch]
    return []


def card_status(case: Case) -> list[Finding]:
    """The card in use is lost, cancelled or blacklisted."""
    if case.card_status == "normal":
        return []
    word = _CARD_WORDS.get(case.card_status, "状态异常")
    return [Finding("card-not-normal", f"社保卡{word}，不能办理，请到服务窗口咨询。")]


def household(case: Case) -> list[Finding]:
    need = case.rule.household
    home = case.profile.household
    if need == "low-income" and not home.low_income:
        return [Finding("household", f"{case.rule.name}只发给城乡低保家庭成员，"
                                     "申请人所在户籍家庭不符合。")]
    if need == "local" and not home.local:
        return [Finding("household", f"{case.rule.name}需本地户籍，申请人户籍不在本地。")]
    return []


def duplicate_claim(case: Case) -> list[Finding]:
    if (case.rule.code, case.period) not in case.claims:
        return []
    when = "已申请过" if case.period == "once" else f"本期（{case.period}）已申请过"
    return [Finding("duplicate-claim", f"{when}{case.rule.name}，不能重复申请。")]


def deceased(case: Case) -> list[Finding]:
    if case.profile.deceased_on is None:
        return []
    return [Finding("deceased", "登记信息显示该人员已身故，不能申请。如有疑问请到窗口核实。")]


def not_eligible(case: Case) -> list[Finding]:  # noqa: PLR0911 (one return per condition)
    """The rule's own conditions: the period asked for, age, employment, insurance."""
    rule, profile = case.rule, case.profile
    if case.period != rule.period(case.today):
        return [Finding("not-eligible", f"只能申请本期（{rule.period(case.today)}）的"
                                        f"{rule.name}。")]
    age = case.citizen.age(case.today)
    if not rule.min_age <= age <= rule.max_age:
        return [Finding("not-eligible", f"{rule.name}的申领年龄为{rule.min_age}至"
                                        f"{rule.max_age}周岁。")]
    if profile.employment not in rule.employment:
        need = {"employed": "在职参保职工", "unemployed": "失业人员",
                "self-employed": "自主创业人员", "none": "未就业人员"}
        who = "或".join(need[e] for e in sorted(rule.employment))
        return [Finding("not-eligible", f"{rule.name}只发给{who}。")]
    if profile.unemployment_insurance_months < rule.min_insurance_months:
        return [Finding("not-eligible", f"需参加失业保险满{rule.min_insurance_months}个月。")]
    if rule.needs_unemployment_registration and not profile.unemployment_registered:
        return [Finding("not-eligible", "需先办理失业登记。")]
    if rule.needs_recent_startup:
        started = profile.startup_registered_on
        if started is None or (case.today - started).days > 3 * 365:
            return [Finding("not-eligible", "需在三年内登记注册创业实体。")]
    return []


# The order findings are listed in: identity first, so a stranger learns nothing else.
VALIDATORS: tuple[Callable[[Case], list[Finding]], ...] = (
    identity, card_status, deceased, household, not_eligible, duplicate_claim,
)
# What decides eligibility in the catalogue: about the person, not the card in hand.
ELIGIBILITY: tuple[Callable[[Case], list[Finding]], ...] = (
    deceased, household, not_eligible, duplicate_claim,
)


def unknown_subsidy() -> Finding:
    return Finding("unknown-subsidy", "没有这项补贴，请重新选择。")


def run(case: Case, validators: Iterable[Callable[[Case], list[Finding]]] = VALIDATORS) -> list[
        Finding]:
    """Every validator's findings, one per code (the first one of each)."""
    out: dict[str, Finding] = {}
    for validator in validators:
        found = validator(case)
        if validator is identity and found:
            return found  # not the person on record: tell nothing about the person
        for finding in found:
            out.setdefault(finding.code, finding)
    return list(out.values())


def rule_for(code: str) -> SubsidyRule | None:
    return CATALOGUE.get(code)
