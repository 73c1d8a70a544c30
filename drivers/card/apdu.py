"""ISO 7816-4 command APDUs, status-word checking and a T=0-aware transmit.

The status-word checkers follow pyscard's ErrorCheckingChain: each checker maps the status
words it knows to a typed exception, and a chain runs them in order. `transmit` answers the
T=0 procedure bytes itself (61xx: GET RESPONSE, 6Cxx: resend with Le = xx) because pcsc-lite
leaves them to the application, and vpcd passes every byte through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

SW_OK = 0x9000

INS_SELECT = 0xA4
INS_READ_RECORD = 0xB2
INS_GET_RESPONSE = 0xC0


# -- commands -------------------------------------------------------------------------------------
def select_by_name(df_name: bytes) -> bytes:
    """SELECT by DF name, first occurrence, FCI returned (case 4, Le = 00)."""
    if not 1 <= len(df_name) <= 16:
        raise ValueError("a DF name has 1 to 16 bytes")
    return bytes([0x00, INS_SELECT, 0x04, 0x00, len(df_name)]) + df_name + b"\x00"


def read_record_by_tag(tag: int, sfi: int, le: int = 0) -> bytes:
    """READ RECORD, first occurrence of the record whose identifier (TLV tag) is `tag`.

    P2 = SFI << 3 with b3..b1 = 000 selects "read by record identifier" in the file `sfi`.
    """
    if not 1 <= sfi <= 30:
        raise ValueError("a short file identifier is 1..30")
    return bytes([0x00, INS_READ_RECORD, tag & 0xFF, (sfi << 3) & 0xFF, le & 0xFF])


def get_response(le: int) -> bytes:
    return bytes([0x00, INS_GET_RESPONSE, 0x00, 0x00, le & 0xFF])


def with_le(apdu: bytes, le: int) -> bytes:
    """The same command with its Le byte replaced (or appended for a case 1/3 command)."""
    header = apdu[:4]
    if len(apdu) <= 5:  # case 1 or 2
        return header + bytes([le & 0xFF])
    lc = apdu[4]
    return apdu[: 5 + lc] + bytes([le & 0xFF])


def as_t0_tpdu(apdu: bytes) -> bytes:
    """T=0 cannot carry both Lc and Le: a case 4 command goes out as case 3 and the card
    answers 61xx. Reader firmware does this mapping; vpcd does not, so we do."""
    if len(apdu) > 5 and len(apdu) == 5 + apdu[4] + 1:
        return apdu[:-1]
    return apdu


# -- responses ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    @classmethod
    def parse(cls, rapdu: bytes) -> Response:
        if len(rapdu) < 2:
            raise MalformedResponse(f"a response APDU has at least 2 bytes, got {len(rapdu)}")
        return cls(data=bytes(rapdu[:-2]), sw=int.from_bytes(rapdu[-2:], "big"))

    def __repr__(self) -> str:  # data may be citizen data: only its length is shown
        return f"Response(sw={self.sw:04X}, {len(self.data)} bytes)"


# -- errors ---------------------------------------------------------------------------------------
class ApduError(Exception):
    """The card answered a status word other than 9000."""

    def __init__(self, sw: int, message: str = "") -> None:
        super().__init__(f"SW {sw:04X}" + (f": {message}" if message else ""))
        self.sw = sw


class WarningStatus(ApduError):
    """62xx / 63xx: processed with a warning (e.g. 63Cx: a wrong PIN, x tries left)."""


class EndOfRecord(WarningStatus):
    """6282: the end of the record came before Le bytes; the data that exists came back."""


class FileInvalidated(WarningStatus):
    """6283: the selected file or application is deactivated (invalidated)."""


class WrongLength(ApduError):
    """67xx, or a 6Cxx / 61xx that reached the checker because transmit was bypassed."""


class SecurityStatusError(ApduError):
    """6982 / 6985: security status or conditions of use not satisfied.

    On a social security card this means the data sits behind PSAM authentication."""


class ReferenceBlocked(SecurityStatusError):
    """6983 / 6984: the authentication method or its reference data (key, PIN) is blocked:
    no authentication can ever succeed, so this is a locked card, not a missing PSAM."""


class CommandNotAllowed(ApduError):
    """6981 / 6986 / 6987 / 6988 and other 69xx: the command does not fit the card's state
    (no current EF, incompatible file structure, secure messaging). Not about authentication."""


class FileNotFound(ApduError):
    """6A82: no such file or application."""


class RecordNotFound(ApduError):
    """6A83: no such record (an optional field the card does not carry)."""


class WrongParameters(ApduError):
    """6Axx / 6Bxx other than 6A82 and 6A83."""


class FunctionNotSupported(WrongParameters):
    """6A81: function not supported. Social security and PBOC cards answer it to SELECT of an
    application that is blocked (drivers.card.ssc reads it so)."""


class UnsupportedCommand(ApduError):
    """6Dxx instruction or 6Exx class not supported."""


class MalformedResponse(Exception):
    """Fewer than two bytes came back: on vpcd and most readers the card has gone."""


# -- the checker chain ----------------------------------------------------------------------------
class ErrorChecker(Protocol):
    def __call__(self, response: Response) -> None:
        """Raise an ApduError subclass for the status words this checker knows."""
        ...


# Exact status words first, then the class of SW1 (ISO 7816-4 section 5.1.3).
_ISO_EXACT: dict[int, tuple[type[ApduError], str]] = {
    0x6282: (EndOfRecord, "end of record before Le bytes"),
    0x6283: (FileInvalidated, "selected file deactivated"),
    0x6982: (SecurityStatusError, "security status not satisfied"),
    0x6985: (SecurityStatusError, "conditions of use not satisfied"),
    0x6983: (ReferenceBlocked, "authentication method blocked"),
    0x6984: (ReferenceBlocked, "reference data not usable"),
    0x6A81: (FunctionNotSupported, "function not supported"),
    0x6A82: (FileNotFound, "file or application not found"),
    0x6A83: (RecordNotFound, "record not found"),
}
_ISO_SW1: dict[int, tuple[type[ApduError], str]] = {
    0x62: (WarningStatus, "warning"),
    0x63: (WarningStatus, "warning"),
    0x61: (WrongLength, "wrong length"),
    0x67: (WrongLength, "wrong length"),
    0x6C: (WrongLength, "wrong length"),
    0x69: (CommandNotAllowed, "command not allowed"),
    0x6A: (WrongParameters, "wrong parameters"),
    0x6B: (WrongParameters, "wrong parameters"),
    0x6D: (UnsupportedCommand, "instruction not supported"),
    0x6E: (UnsupportedCommand, "class not supported"),
}


def iso7816_4_checker(response: Response) -> None:
    """The interindustry status words of ISO 7816-4 section 5.1.3."""
    if response.sw == SW_OK:
        return
    found = _ISO_EXACT.get(response.sw) or _ISO_SW1.get(response.sw1)
    if found is not None:
        error, message = found
        raise error(response.sw, message)


def catch_all_checker(response: Response) -> None:
    """Last in a chain: anything that is not 9000 and no earlier checker claimed."""
    if response.sw != SW_OK:
        raise ApduError(response.sw, "unexpected status")


class ErrorCheckingChain:
    """Runs checkers in order; the first to raise decides. Exceptions of a type in `ignore`
    are swallowed, so that e.g. a read of an optional record can accept 6A83."""

    def __init__(
        self,
        checkers: Iterable[ErrorChecker],
        ignore: tuple[type[ApduError], ...] = (),
    ) -> None:
        self.checkers = tuple(checkers)
        self.ignore = ignore

    def __call__(self, response: Response) -> None:
        if response.sw == SW_OK:  # what nearly every answer is: no checker raises for it
            return
        try:
            for checker in self.checkers:
                checker(response)
        except self.ignore:
            return

    def ignoring(self, *errors: type[ApduError]) -> ErrorCheckingChain:
        return ErrorCheckingChain(self.checkers, self.ignore + errors)


DEFAULT_CHAIN = ErrorCheckingChain([iso7816_4_checker, catch_all_checker])


# -- transmission ---------------------------------------------------------------------------------
class Transport(Protocol):
    """Sends one command APDU and returns the raw response APDU (data followed by SW1 SW2).

    Transport failures (card gone, reader gone) are the transport's own exceptions."""

    def transmit(self, apdu: bytes) -> bytes: ...


# A card that keeps answering 61xx/6Cxx must not loop us forever; a 256-byte record is at most
# a couple of rounds, so this is generous.
MAX_PROCEDURE_ROUNDS = 16


def transmit(
    transport: Transport,
    apdu: bytes,
    *,
    t0: bool,
    check: ErrorChecker | None = DEFAULT_CHAIN,
    on_exchange: Callable[[bytes, Response], None] | None = None,
) -> Response:
    """Send `apdu`, complete the T=0 procedure, then run `check` on the final response.

    61xx: GET RESPONSE with Le = xx, repeated while the card says more is waiting.
    6Cxx: the card wants Le = xx; the same command is sent again with it (once).
    The data of every GET RESPONSE round is concatenated. `on_exchange` sees every
    command/response pair (for tracing and the benchmark's replay); pass check=None to get
    the raw final status.
    """
    command = as_t0_tpdu(apdu) if t0 else apdu
    data = b""
    resent = False  # 6Cxx is answered once per command, so a confused card cannot loop us
    rounds = 0
    response = _exchange(transport, command, on_exchange)
    while True:
        if response.sw1 == 0x6C and not resent:
            resent = True
            command = with_le(command, response.sw2)
        elif response.sw1 == 0x61:
            data += response.data
            resent = False
            command = get_response(response.sw2)
        else:
            break
        # Checked before sending, so that a final 9000 in the last allowed round still counts.
        if rounds == MAX_PROCEDURE_ROUNDS:
            raise WrongLength(response.sw, "the card kept asking for another round")
        rounds += 1
        response = _exchange(transport, command, on_exchange)
    final = Response(data + response.data, response.sw)
    if check is not None:
        check(final)
    return final


def _exchange(
    transport: Transport, command: bytes, on_exchange: Callable[[bytes, Response], None] | None
) -> Response:
    response = Response.parse(transport.transmit(command))
    if on_exchange is not None:
        on_exchange(command, response)
    return response
