"""A virtual social security card: answers APDUs the way the public reader implementations say
a real one does (shared/docs/ssc-card.md).

Written from the specification, independently of drivers/card, so that a driver test against
it checks the driver against the spec rather than against itself.

- SELECT by DF name `sx1.sh.社会保障` returns an FCI; anything else is 6A82.
- READ RECORD by record identifier (P1 = tag, P2 = SFI << 3) returns one TLV of EF05 or EF06;
  by record number (P2 b3..b1 = 100) works too.
- T=0: a case 4 command is answered 61xx and the data fetched with GET RESPONSE; a case 2
  command whose Le is not the exact length gets 6Cxx. T=1 answers directly.
- Generation 1 has no tag 4E (6A83). Generation 3 keeps EF06, and tag 04 of EF05, behind PSAM
  authentication: 6982 without it (which EF05 items a real card protects is not public; tag 04
  is this simulator's choice).
- Names are written in GB18030 (GBK's superset: 䶮 and CJK Ext-B need it), cut at a character
  boundary where they do not fit: 30 bytes on generation 1, 30 + 20 on generation 2/3.
- A locked card (`locked="6283"` or `"6A81"`) answers SELECT of the application with that SW.
- PIN (LD/T 32/33, PBOC style): VERIFY `00 20 00 00 Lc <BCD PIN>` with a retry counter
  (63Cx wrong, x tries left; 6983 locked); VERIFY with no data asks the tries left without
  using one (63Cx, or 9000 once verified in this session); CHANGE PIN `80 5E 01 00 Lc
  old || FF || new` and ISO CHANGE REFERENCE DATA `00 24 00 00 Lc old || new` (equal lengths);
  RELOAD PIN `80 5E 00 00 Lc new || MAC4` and PIN UNBLOCK `84 24 00 00 04 MAC4`, each right
  after GET CHALLENGE and with a MAC under the card's reload key (simulators/card/keys.py).
- SELECT by file ID (`00 A4 00 00 02 EF05`) makes an EF current; READ RECORD with SFI 0 in P2
  then reads it.
- Card authentication for generation 3: INTERNAL AUTHENTICATE `00 88 00 00 08 <challenge>`
  answers the card's cryptogram (IAK); GET CHALLENGE then EXTERNAL AUTHENTICATE `00 82 00 00
  10 <cryptogram>` with the terminal's answer (EAK, computed by a PSAM) opens EF06 until reset.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol

from common.masking import mask_citizen_id, mask_name
from simulators.card import keys
from simulators.card.transmission import (
    SW_CONDITIONS,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    answer,
    get_response,
)
from simulators.central.population import SPEC_VERSION, Citizen, SimCard

Transmission = Literal["T=0", "T=1"]

SSSE_DF_NAME = "sx1.sh.".encode("ascii") + "社会保障".encode("gbk")
EF05, EF06 = 5, 6
NAME_BYTES = 30  # tag 09
NAME_EXTENSION_BYTES = 20  # tag 4E
DEFAULT_PIN = "123456"
PIN_TRIES = 3
PIN_DIGITS = (4, 12)  # shortest and longest PIN the card takes (ISO 9564 bounds)

NAME_ENCODING = "gb18030"
LOCKED_SWS = {"6283": b"\x62\x83", "6A81": b"\x6a\x81"}  # deactivated / blocked application

SW_WRONG_LENGTH = b"\x67\x00"
SW_AUTH_FAILED = b"\x63\x00"
SW_WRONG_DATA = b"\x6a\x80"
SW_MAC_WRONG = b"\x69\x88"
SW_SECURITY = b"\x69\x82"
SW_AUTH_BLOCKED = b"\x69\x83"
SW_NO_CURRENT_EF = b"\x69\x86"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_RECORD_NOT_FOUND = b"\x6a\x83"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"


class VirtualCard(Protocol):
    """What the vpcd link needs from a card."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def process(self, command: bytes) -> bytes: ...


# -- ATRs -----------------------------------------------------------------------------------------
def _with_tck(atr: bytes) -> bytes:
    """Append TCK (XOR of T0..the last historical byte), required when T=1 is offered."""
    tck = 0
    for b in atr[1:]:
        tck ^= b
    return atr + bytes([tck])


def make_atr(protocol: Transmission, historical: bytes) -> bytes:
    """An ATR that makes pcscd pick `protocol`.

    T=0: TB1 = 00, TC1 = 00 and no TD1, so T=0 is the only (implicit) protocol.
    T=1: TD1 = 81 announces T=1 and TD2 = 31 carries TA3 = FE (IFSC 254), TB3 = 45 (BWI 4,
    CWI 5); T=1 is the first offered protocol, so pcscd selects it.
    """
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    k = len(historical)
    if protocol == "T=0":
        return bytes([0x3B, 0x60 | k, 0x00, 0x00]) + historical
    if protocol == "T=1":
        return _with_tck(bytes([0x3B, 0x80 | k, 0x81, 0x31, 0xFE, 0x45]) + historical)
    raise ValueError(f"unknown protocol {protocol!r}")


# -- encodings ------------------------------------------------------------------------------------
def bcd(digits: str, size: int) -> bytes:
    """Packed BCD, right-padded with F to `size` bytes (the cn encoding)."""
    if not digits.isdigit() or len(digits) > size * 2:
        raise ValueError("digits do not fit")
    return bytes.fromhex(digits.ljust(size * 2, "F"))


def bcd_date(d: dt.date) -> bytes:
    return bcd(d.strftime("%Y%m%d"), 4)


def an(text: str, size: int) -> bytes:
    """ASCII, right-padded with 0x00 (the an encoding)."""
    raw = text.encode("ascii")
    if len(raw) > size:
        raise ValueError("text does not fit")
    return raw.ljust(size, b"\x00")


def split_name(name: str, first: int, second: int) -> tuple[bytes, bytes]:
    """The name in GB18030 split at a character boundary into at most `first` + `second`
    bytes; what does not fit is dropped, as a card personaliser would truncate it."""
    head, tail = b"", b""
    for ch in name:
        raw = ch.encode(NAME_ENCODING)
        if not tail and len(head) + len(raw) <= first:
            head += raw
        elif len(tail) + len(raw) <= second:
            tail += raw
        else:
            break
    return head, tail


split_gbk = split_name  # the old name; every GBK name encodes the same in GB18030


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


# -- the card's content ---------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class CardProfile:
    """Everything the chip holds, in plain values. Build it from the population or by hand."""

    card_id_code: str  # 32 hex
    card_type: str
    generation: int
    init_org_code: str  # 24 hex
    issue_date: dt.date
    expiry_date: dt.date
    card_number: str
    citizen_id: str
    name: str
    gender: str
    ethnicity: str
    birthplace: str
    birth_date: dt.date
    # Tag 09 exactly as given (up to 30 bytes) instead of the encoded name: to test bytes
    # that are no GB18030 text. Generation 2/3 then carry an empty tag 4E.
    raw_name: bytes | None = None

    def __post_init__(self) -> None:
        if self.raw_name is not None and len(self.raw_name) > NAME_BYTES:
            raise ValueError(f"a raw name has at most {NAME_BYTES} bytes")

    @property
    def name_truncated(self) -> bool:
        """Whether the chip holds less of the name than the profile's name."""
        if self.raw_name is not None:
            return False
        head, tail = self._name_fields()
        return (head + tail).decode(NAME_ENCODING) != self.name

    def _name_fields(self) -> tuple[bytes, bytes]:
        if self.raw_name is not None:
            return self.raw_name, b""
        return split_name(
            self.name, NAME_BYTES, NAME_EXTENSION_BYTES if self.generation >= 2 else 0
        )

    @property
    def spec_version(self) -> str:
        return SPEC_VERSION[self.generation]

    def __repr__(self) -> str:  # a stray log line must not leak the holder
        return (
            f"CardProfile(citizen_id={mask_citizen_id(self.citizen_id)},"
            f" name={mask_name(self.name)}, generation={self.generation})"
        )

    @classmethod
    def from_citizen(
        cls, citizen: Citizen, card: SimCard | None = None, generation: int | None = None,
        *, name: str | None = None, raw_name: bytes | None = None,
    ) -> CardProfile:
        card = card or citizen.current_card
        return cls(
            card_id_code=card.card_id_code,
            card_type=card.card_type,
            generation=generation or card.generation,
            init_org_code=card.init_org_code or "00" * 12,
            issue_date=card.issued_on,
            expiry_date=card.expires_on,
            card_number=card.card_number,
            citizen_id=citizen.citizen_id,
            name=citizen.name if name is None else name,
            gender=citizen.gender,
            ethnicity=citizen.ethnicity,
            birthplace=citizen.region,
            birth_date=citizen.birth_date,
            raw_name=raw_name,
        )

    def records(self) -> dict[int, dict[int, bytes]]:
        """SFI -> tag -> the record (a whole TLV), in the card's record order."""
        name, extension = self._name_fields()
        ef05 = {
            0x01: bytes.fromhex(self.card_id_code),
            0x02: an(self.card_type, 1),
            0x03: an(self.spec_version, 4),
            0x04: bytes.fromhex(self.init_org_code),
            0x05: bcd_date(self.issue_date),
            0x06: bcd_date(self.expiry_date),
            0x07: an(self.card_number, 9),
        }
        ef06 = {
            0x08: an(self.citizen_id, 18),
            0x09: name.ljust(NAME_BYTES, b"\x00"),
            0x0A: an(self.gender, 1),
            0x0B: bcd(self.ethnicity, 1),
            0x0C: bcd(self.birthplace, 3),
            0x0D: bcd_date(self.birth_date),
        }
        if self.generation >= 2:
            # The record exists on every gen 2/3 card; short names leave it zero-filled.
            ef06[0x4E] = extension.ljust(NAME_EXTENSION_BYTES, b"\x00")
        return {
            EF05: {tag: tlv(tag, value) for tag, value in ef05.items()},
            EF06: {tag: tlv(tag, value) for tag, value in ef06.items()},
        }


# -- APDU parsing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None  # None: no Le; 0 means 256 (short APDUs only)

    @classmethod
    def parse(cls, raw: bytes) -> Command | None:
        """Short APDU cases 1-4 (a T=0 TPDU is always case 1-3); None if malformed."""
        if len(raw) < 4:
            return None
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0]
        elif body:
            lc = body[0]
            if lc == 0 or len(body) not in (1 + lc, 2 + lc):
                return None  # extended length (not on these cards) or a wrong Lc
            data = body[1 : 1 + lc]
            le = body[1 + lc] if len(body) == 2 + lc else None
        return cls(cla, ins, p1, p2, data, le)

    @property
    def expected(self) -> int:
        return 256 if self.le == 0 else (self.le or 0)


# -- the applets ----------------------------------------------------------------------------------
@dataclass
class _Session:
    selected: bool = False
    pending: bytes = b""  # T=0: response data waiting for GET RESPONSE
    current_ef: int | None = None  # SELECT by file ID
    challenge: bytes = b""  # GET CHALLENGE: good for the next command only
    authenticated: bool = False  # EXTERNAL AUTHENTICATE succeeded (generation 3 holder data)
    pin_verified: bool = False


def pin_digits(value: bytes) -> str | None:
    """The digits of a BCD PIN block (F-padded when odd); None when it is no such block."""
    digits = value.hex().upper()
    if digits.endswith("F"):
        digits = digits[:-1]
    low, high = PIN_DIGITS
    if not digits.isdigit() or not low <= len(digits) <= high:
        return None
    return digits


def pin_bcd(digits: str) -> bytes:
    """The BCD form the card takes: two digits a byte, F-padded when odd."""
    return bytes.fromhex(digits + ("F" if len(digits) % 2 else ""))


# (CLA, INS) pairs the card knows; an INS it knows with another CLA answers 6E00.
_CLASSES = {
    0xA4: {0x00}, 0xB2: {0x00}, 0xC0: {0x00}, 0x20: {0x00}, 0x84: {0x00}, 0x88: {0x00},
    0x82: {0x00}, 0x5E: {0x80}, 0x24: {0x00, 0x84},
}
# Commands that consume the challenge of the GET CHALLENGE just before them.
_USES_CHALLENGE = frozenset({0x82, 0x5E, 0x24})


@dataclass(repr=False)
class SscCard:
    """The social security application on a T=0 or T=1 chip."""

    profile: CardProfile
    protocol: Transmission = "T=0"
    pin: str = DEFAULT_PIN  # digits
    pin_tries: int = PIN_TRIES  # 0: the PIN is locked (6983)
    locked: str | None = None  # "6283" or "6A81": SELECT of the application answers it
    keys_label: str = keys.DEFAULT_LABEL  # another label: a card from a foreign key set
    commands: list[bytes] = field(default_factory=list)  # every C-APDU received, for tests
    _session: _Session = field(default_factory=_Session)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    kind = "ssc"

    def __post_init__(self) -> None:
        if self.protocol not in ("T=0", "T=1"):
            raise ValueError("protocol must be 'T=0' or 'T=1'")
        if self.locked is not None and self.locked not in LOCKED_SWS:
            raise ValueError(f"locked must be one of {sorted(LOCKED_SWS)}")
        self.set_pin(pin=self.pin, tries=self.pin_tries)
        self._records = self.profile.records()
        card_id = bytes.fromhex(self.profile.card_id_code)
        self._keys = {
            purpose: keys.card_key(purpose, card_id, self.keys_label)
            for purpose in ("IAK", "EAK", "RLK")
        }

    def set_pin(self, *, pin: str | None = None, tries: int | None = None) -> None:
        """Set the PIN and/or the tries left (0 locks it): the simulator's control API."""
        with self._lock:
            if pin is not None:
                low, high = PIN_DIGITS
                if not pin.isdigit() or not low <= len(pin) <= high:
                    raise ValueError(f"a PIN has {low} to {high} digits")
                self.pin = pin
            if tries is not None:
                if not 0 <= tries <= PIN_TRIES:
                    raise ValueError(f"tries left is 0 to {PIN_TRIES}")
                self.pin_tries = tries

    @classmethod
    def from_citizen(
        cls,
        citizen: Citizen,
        *,
        generation: int | None = None,
        protocol: Transmission = "T=0",
        card: SimCard | None = None,
        name: str | None = None,
        raw_name: bytes | None = None,
        locked: str | None = None,
        pin: str = DEFAULT_PIN,
        pin_tries: int = PIN_TRIES,
        keys_label: str = keys.DEFAULT_LABEL,
    ) -> SscCard:
        profile = CardProfile.from_citizen(citizen, card, generation, name=name, raw_name=raw_name)
        return cls(
            profile, protocol=protocol, locked=locked, pin=pin, pin_tries=pin_tries,
            keys_label=keys_label,
        )

    @property
    def generation(self) -> int:
        return self.profile.generation

    def __repr__(self) -> str:
        return f"SscCard({self.profile!r}, protocol={self.protocol})"

    @property
    def atr(self) -> bytes:
        return make_atr(self.protocol, f"HRSS SSC {self.generation}".encode("ascii"))

    @property
    def t0(self) -> bool:
        return self.protocol == "T=0"

    def fci(self) -> bytes:
        # 84: the DF name; A5 (proprietary) holds 88, the SFI of a directory EF.
        return tlv(0x6F, tlv(0x84, SSSE_DF_NAME) + tlv(0xA5, tlv(0x88, b"\x01")))

    # -- power ------------------------------------------------------------------------------------
    def power_on(self) -> None:
        self.reset()

    def power_off(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._session = _Session()

    # -- commands ---------------------------------------------------------------------------------
    def process(self, raw: bytes) -> bytes:
        with self._lock:
            self.commands.append(bytes(raw))
            command = Command.parse(raw)
            if command is None:
                return SW_WRONG_LENGTH
            classes = _CLASSES.get(command.ins)
            if classes is None:
                return SW_INS_NOT_SUPPORTED if command.cla == 0x00 else SW_CLA_NOT_SUPPORTED
            if command.cla not in classes:
                return SW_CLA_NOT_SUPPORTED
            if command.ins != 0xC0:
                self._session.pending = b""  # any other command discards waiting data
            challenge = self._session.challenge
            if command.ins != 0xC0:
                self._session.challenge = b""  # a challenge is good for one command only
            if command.ins in _USES_CHALLENGE:
                return self._with_challenge(command, challenge)
            handler = {
                0xA4: self._select,
                0xB2: self._read_record,
                0xC0: self._get_response,
                0x20: self._verify,
                0x84: self._get_challenge,
                0x88: self._internal_authenticate,
            }[command.ins]
            return handler(command)

    def _outgoing(self, command: Command, data: bytes, case4: bool) -> bytes:
        return answer(self._session, command, data, t0=self.t0, case4=case4)

    def _select(self, command: Command) -> bytes:  # noqa: PLR0911 (one return per SW)
        if command.p1 == 0x04:  # by DF name
            if command.data != SSSE_DF_NAME:
                self._session.selected = False
                return SW_FILE_NOT_FOUND
            if self.locked is not None:  # a blocked application cannot be selected
                self._session.selected = False
                return LOCKED_SWS[self.locked]
            self._session.selected = True
            self._session.current_ef = None
            if command.p2 & 0x0C == 0x0C:  # no FCI wanted
                return SW_OK
            return self._outgoing(command, self.fci(), case4=True)
        if command.p1 == 0x00 and command.data in (b"", b"\x3f\x00"):  # the MF
            self._session = _Session()
            return SW_OK
        if command.p1 in (0x00, 0x02) and len(command.data) == 2 and self._session.selected:
            # An EF of the application by file ID: EF05 -> SFI 5, EF06 -> SFI 6.
            file_id = int.from_bytes(command.data, "big")
            if file_id >> 8 == 0xEF and (file_id & 0xFF) in self._records:
                self._session.current_ef = file_id & 0xFF
                return SW_OK
        return SW_FILE_NOT_FOUND if command.p1 in (0x00, 0x02) else SW_WRONG_P1P2

    def _read_record(self, command: Command) -> bytes:
        found = self._locate(command)
        if isinstance(found, bytes):
            return found  # a status word
        sfi, tag, record = found
        if self._protected(sfi, tag):
            return SW_SECURITY
        return self._outgoing(command, record, case4=False)

    def _locate(self, command: Command) -> tuple[int, int, bytes] | bytes:  # noqa: PLR0911
        """(SFI, tag, record) that READ RECORD addresses, or the status word saying why not."""
        if not self._session.selected:
            return SW_NO_CURRENT_EF
        sfi, mode = command.p2 >> 3, command.p2 & 0x07
        if sfi == 0:  # the current EF, made so by SELECT by file ID
            if self._session.current_ef is None:
                return SW_NO_CURRENT_EF
            sfi = self._session.current_ef
        records = self._records.get(sfi)
        if records is None:
            return SW_FILE_NOT_FOUND
        if mode == 0x00:  # P1 is the record identifier (the tag)
            record = records.get(command.p1)
            return SW_RECORD_NOT_FOUND if record is None else (sfi, command.p1, record)
        if mode == 0x04:  # P1 is the record number
            ordered = list(records.items())
            if not 1 <= command.p1 <= len(ordered):
                return SW_RECORD_NOT_FOUND
            tag, record = ordered[command.p1 - 1]
            return sfi, tag, record
        return SW_WRONG_P1P2

    def _protected(self, sfi: int, tag: int) -> bool:
        """Generation 3: holder data and part of EF05 need the terminal's authentication with
        a PSAM (EXTERNAL AUTHENTICATE), which lasts until the card is reset."""
        if self.generation < 3 or self._session.authenticated:
            return False
        return sfi == EF06 or (sfi == EF05 and tag == 0x04)

    def _get_response(self, command: Command) -> bytes:
        return get_response(self._session, command, t0=self.t0)

    # -- PIN ------------------------------------------------------------------------------------
    def _tries_sw(self) -> bytes:
        return SW_AUTH_BLOCKED if self.pin_tries == 0 else bytes([0x63, 0xC0 | self.pin_tries])

    def _check_pin(self, offered: str) -> bytes | None:
        """Compare a PIN and count the try; None when it matched, else the status word."""
        if self.pin_tries == 0:
            return SW_AUTH_BLOCKED
        # Counted before comparing, as cards do against tearing: a card pulled mid-command has
        # either used the try or not received the command at all.
        self.pin_tries -= 1
        if hmac.compare_digest(offered.encode(), self.pin.encode()):
            self.pin_tries = PIN_TRIES
            self._session.pin_verified = True
            return None
        self._session.pin_verified = False
        return self._tries_sw()

    def _verify(self, command: Command) -> bytes:
        # P2 = 00: the card's global PIN, kept at MF level, so no application need be selected.
        if (command.p1, command.p2) != (0x00, 0x00):
            return SW_WRONG_P1P2
        if not command.data:  # the tries-left query: no try is used
            if self.pin_tries == 0:
                return SW_AUTH_BLOCKED
            return SW_OK if self._session.pin_verified else self._tries_sw()
        offered = pin_digits(command.data)
        if offered is None:
            return SW_WRONG_DATA
        return self._check_pin(offered) or SW_OK

    def _change_pin(self, command: Command) -> bytes:
        """CHANGE PIN (80 5E 01 00: old FF new) or CHANGE REFERENCE DATA (00 24 00 00)."""
        if command.cla == 0x80:
            old_raw, sep, new_raw = command.data.partition(b"\xff")
            if not sep:
                return SW_WRONG_DATA
        else:
            half = len(command.data) // 2
            if len(command.data) % 2:
                return SW_WRONG_DATA
            old_raw, new_raw = command.data[:half], command.data[half:]
        old, new = pin_digits(old_raw), pin_digits(new_raw)
        if old is None or new is None:
            return SW_WRONG_DATA
        refused = self._check_pin(old)
        if refused is not None:
            return refused
        self.pin = new
        return SW_OK

    def _with_challenge(self, command: Command, challenge: bytes) -> bytes:  # noqa: PLR0911
        if command.ins == 0x24 and command.cla == 0x00:
            if (command.p1, command.p2) != (0x00, 0x00):
                return SW_WRONG_P1P2
            return self._change_pin(command)
        if command.ins == 0x5E and command.p1 == 0x01 and command.p2 == 0x00:
            return self._change_pin(command)
        if command.ins == 0x82:
            return self._external_authenticate(command, challenge)
        # RELOAD PIN (80 5E 00 00) or PIN UNBLOCK (84 24 00 00): staff commands with a MAC.
        if (command.p1, command.p2) != (0x00, 0x00):
            return SW_WRONG_P1P2
        if not challenge:
            return SW_CONDITIONS
        if len(command.data) < keys.MAC_BYTES:
            return SW_WRONG_LENGTH
        body, mac = command.data[: -keys.MAC_BYTES], command.data[-keys.MAC_BYTES :]
        header = bytes([command.cla, command.ins, command.p1, command.p2])
        card_id = bytes.fromhex(self.profile.card_id_code)
        expected = keys.reload_mac(self._keys["RLK"], header, card_id, challenge)
        if not hmac.compare_digest(mac, expected):
            return SW_MAC_WRONG
        if command.ins == 0x5E:  # reload: a new PIN and a fresh counter
            new = pin_digits(body)
            if new is None:
                return SW_WRONG_DATA
            self.pin = new
        elif body:
            return SW_WRONG_LENGTH
        self.pin_tries = PIN_TRIES
        return SW_OK

    # -- card authentication ----------------------------------------------------------------------
    def _get_challenge(self, command: Command) -> bytes:
        if (command.p1, command.p2) != (0x00, 0x00) or command.data:
            return SW_WRONG_P1P2
        if command.le is None or command.expected != keys.CHALLENGE_BYTES:
            return b"\x6c" + bytes([keys.CHALLENGE_BYTES])
        self._session.challenge = os.urandom(keys.CHALLENGE_BYTES)
        return self._session.challenge + SW_OK

    def _internal_authenticate(self, command: Command) -> bytes:
        """The card proves itself: its cryptogram of the terminal's (the PSAM's) challenge."""
        if not self._session.selected:
            return SW_CONDITIONS
        if len(command.data) != keys.CHALLENGE_BYTES:
            return SW_WRONG_LENGTH
        answer = keys.cryptogram(self._keys["IAK"], command.data)
        return self._outgoing(command, answer, case4=True)

    def _external_authenticate(self, command: Command, challenge: bytes) -> bytes:
        """The terminal proves itself with the PSAM's cryptogram of our challenge."""
        if not self._session.selected:
            return SW_CONDITIONS
        if not challenge:
            return SW_CONDITIONS
        if len(command.data) != keys.CRYPTOGRAM_BYTES:
            return SW_WRONG_LENGTH
        expected = keys.cryptogram(self._keys["EAK"], challenge)
        if not hmac.compare_digest(command.data, expected):
            self._session.authenticated = False
            return SW_AUTH_FAILED
        self._session.authenticated = True
        return SW_OK


@dataclass
class ForeignCard:
    """A card without the social security application (a bank or transit card)."""

    protocol: Transmission = "T=1"
    commands: list[bytes] = field(default_factory=list)

    kind = "non-ssc"

    @property
    def atr(self) -> bytes:
        return make_atr(self.protocol, b"OTHER CARD")

    def power_on(self) -> None:
        return None

    def power_off(self) -> None:
        return None

    def reset(self) -> None:
        return None

    def process(self, raw: bytes) -> bytes:
        self.commands.append(bytes(raw))
        command = Command.parse(raw)
        if command is None:
            return SW_WRONG_LENGTH
        if command.ins == 0xA4:
            return SW_FILE_NOT_FOUND
        return SW_INS_NOT_SUPPORTED

