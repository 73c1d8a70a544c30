"""How citizen data may appear outside its owner's screen: masked forms and log redaction."""

from __future__ import annotations

import re

# An 18-character ID, a 15-digit first-generation ID, or a long digit run such as a bank
# account or card identification code: anything of 15+ digits is treated as an identifier.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{5,}(\d{3}[\dXx]|\d{4})(?![0-9A-Za-z])")
# Names are Chinese in this domain and log messages are written in English, so any run of
# Han characters in a log line is data. Keep its first character only.
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f·]{2,}")


def mask_citizen_id(value: str) -> str:
    """110105********002X -> '110105********002X' keeps region and last four, as banks do."""
    v = value.strip()
    if len(v) <= 8:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***: the form Chinese government services show. At most
    three stars, so a long name neither overflows a screen nor shows its length."""
    n = name.strip()
    if not n:
        return n
    return n[0] + "*" * min(len(n) - 1, 3) if len(n) > 1 else "*"


def mask_card_number(value: str) -> str:
    v = value.strip()
    return v[:1] + "*" * max(len(v) - 3, 0) + v[-2:] if len(v) > 3 else "*" * len(v)


def mask_account(account: str) -> str:
    """6222020200001234 -> 6222****1234: the form a bank statement shows."""
    a = account.strip()
    return a[:4] + "****" + a[-4:] if len(a) > 8 else "*" * len(a)


def redact(text: str) -> str:
    """Mask anything in free text that looks like an ID number or a Chinese name."""
    text = _ID_LIKE.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 10) + m.group(2), text)
    return _HAN_RUN.sub(lambda m: m.group(0)[0] + "*" * (len(m.group(0)) - 1), text)
