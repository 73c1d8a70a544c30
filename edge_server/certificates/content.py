"""What a certificate says, as data: rendered to the A4 PDF, to the receipt and (masked) to the
public verify page from one `CertificateContent`, so the three can never disagree.

- 参保证明 (participation): who the person is and each scheme with its status and start.
- 个人权益记录 (rights record): the same, plus contributions of the last 24 months summed per
  scheme and year (central's contributions query), and the pension payments of that window.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.clock import CHINA_TZ
from common.masking import mask_account, mask_citizen_id, mask_name
from edge_server.central import CentralPayment, CentralPerson
from edge_server.central.errors import BadAnswer
from edge_server.central.validation import MAX_CLOCK_SKEW
from edge_server.central.wire import Period, Slug

Kind = Literal["participation", "rights-record"]
TITLES: dict[str, str] = {"participation": "参保证明", "rights-record": "个人权益记录"}
CONTRIBUTIONS_PATH = "/central/v1/contributions/query"
MAX_CONTRIBUTIONS = 24 * 8  # 24 months of at most 8 schemes; the edge asks for 24 months

_STATUS = {"contributing": "参保缴费", "receiving": "领取待遇", "suspended": "暂停缴费",
           "ended": "终止参保"}
_GENDER = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}
_PAYMENT_STATUS = {"paid": "已发放", "pending": "待发放", "returned": "银行退回"}
_CONTRIBUTION_STATUS = {"paid": "已缴", "arrears": "欠缴"}


# -- central's contributions answer (central-api.md, "contributions/query") -------------------
class CentralContribution(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    period: Period
    scheme: Slug
    base: Decimal = Field(ge=0, le=Decimal("10000000"), decimal_places=2, allow_inf_nan=False)
    personal: Decimal = Field(ge=0, le=Decimal("10000000"), decimal_places=2,
                              allow_inf_nan=False)
    employer: Decimal = Field(ge=0, le=Decimal("10000000"), decimal_places=2,
                              allow_inf_nan=False)
    status: Literal["paid", "arrears"]


class ContributionsAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    as_of: AwareDatetime
    items: list[CentralContribution] = Field(max_length=MAX_CONTRIBUTIONS)


def check_contributions(answer: ContributionsAnswer, now: dt.datetime) -> ContributionsAnswer:
    if abs(answer.as_of - now) > MAX_CLOCK_SKEW:
        raise BadAnswer("as_of: too far from the edge's clock")
    keys = [(item.period, item.scheme) for item in answer.items]
    if len(set(keys)) != len(keys):
        raise BadAnswer("items: a period and scheme repeated")
    return answer


# -- the content --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    heading: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class CertificateContent:
    kind: str
    title: str
    code: str
    issued_at: str  # ISO UTC
    issued_on: str  # the China date, as the document says it
    office_name: str
    office_id: str
    name: str = field(repr=False)
    citizen_id: str = field(repr=False)
    gender: str
    birth_date: str = field(repr=False)
    as_of: str
    stale: bool
    statement: str = field(repr=False)
    sections: list[Section] = field(default_factory=list)
    verify_url: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertificateContent:
        sections = [Section(**s) for s in data.get("sections", [])]
        return cls(**{**data, "sections": sections})

    # -- the masked forms (verify page; receipt identity line) -------------------------------
    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    @property
    def citizen_id_masked(self) -> str:
        return mask_citizen_id(self.citizen_id)

    def masked_lines(self) -> list[str]:
        """The content rows as text, with nothing that identifies the person: what the public
        verify page shows next to the masked name and ID (accounts are masked already)."""
        lines: list[str] = []
        for section in self.sections:
            lines.append(f"【{section.heading}】")
            lines.extend("  ".join(row) for row in section.rows)
            if not section.rows:
                lines.append("（无记录）")
        return lines


def build(
    *, kind: str, code: str, issued_at: dt.datetime, office_name: str, office_id: str,
    person: CentralPerson, as_of: dt.datetime, stale: bool,
    payments: list[CentralPayment] | None = None,
    contributions: list[CentralContribution] | None = None,
    verify_url: str = "",
) -> CertificateContent:
    from common.clock import iso_utc

    issued_on = issued_at.astimezone(CHINA_TZ).date()
    schemes = {p.scheme: p.scheme_name for p in person.participation}
    participation = Section(
        heading="参保情况", columns=["险种", "参保状态", "参保起始年月"],
        rows=[[p.scheme_name, _STATUS.get(p.status, p.status), p.since]
              for p in sorted(person.participation, key=lambda p: (p.since, p.scheme))],
    )
    sections = [participation]
    if kind == "participation":
        statement = (f"兹证明 {person.name}（公民身份号码：{person.citizen_id}）"
                     f"截至 {issued_on:%Y年%m月%d日} 在本地参加社会保险的情况如下。")
    else:
        statement = (f"{person.name}（公民身份号码：{person.citizen_id}）"
                     f"截至 {issued_on:%Y年%m月%d日} 的社会保险个人权益记录如下"
                     "（近24个月）。")
        sections.append(_contribution_section(contributions or [], schemes))
        sections.append(_payment_section(payments or []))
    return CertificateContent(
        kind=kind, title=TITLES[kind], code=code, issued_at=iso_utc(issued_at),
        issued_on=issued_on.isoformat(), office_name=office_name, office_id=office_id,
        name=person.name, citizen_id=person.citizen_id,
        gender=_GENDER.get(person.gender, ""), birth_date=person.birth_date.isoformat(),
        as_of=iso_utc(as_of), stale=stale, statement=statement, sections=sections,
        verify_url=verify_url,
    )


def _contribution_section(items: list[CentralContribution],
                          schemes: dict[str, str]) -> Section:
    # Per scheme and year: a page of 24 months x schemes would not fit a receipt.
    sums: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, Decimal(0), Decimal(0)])
    for item in items:
        acc = sums[(item.scheme, item.period[:4])]
        acc[0] += 1 if item.status == "paid" else 0
        acc[1] += 1 if item.status == "arrears" else 0
        acc[2] += item.personal
        acc[3] += item.employer
    rows = [
        [schemes.get(scheme, scheme), f"{year}年", f"已缴{paid}期"
         + (f" 欠缴{arrears}期" if arrears else ""), f"{personal:.2f}", f"{employer:.2f}"]
        for (scheme, year), (paid, arrears, personal, employer) in sorted(sums.items())
    ]
    return Section(heading="缴费记录", columns=["险种", "年度", "缴费情况", "个人缴费(元)",
                                              "单位缴费(元)"], rows=rows)


def _payment_section(items: list[CentralPayment]) -> Section:
    rows = [[p.period, f"{p.amount:.2f}", _PAYMENT_STATUS.get(p.status, p.status), p.bank,
             mask_account(p.account)]
            for p in sorted(items, key=lambda p: p.period, reverse=True)[:24]]
    return Section(heading="待遇发放", columns=["发放年月", "金额(元)", "状态", "银行", "账号"],
                   rows=rows)
