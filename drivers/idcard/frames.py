"""The SAM-module frame protocol (GA 467 style), without I/O: build requests, parse answers.

    host -> reader:  AA AA AA 96 69 | Len1 Len2 | CMD | Para | Data... | CHK
    reader -> host:  AA AA AA 96 69 | Len1 Len2 | SW1 SW2 SW3 | Data... | CHK

Len is a big-endian u16 counting the bytes after itself, CHK included; CHK is the XOR of every
byte from Len1 to the last data byte. SW3 is the reader's status (0x90 success, 0x9F card
found); SW1/SW2 pass the card's own status through and are normally 00 00.

`FrameReader` takes bytes as they arrive (in any chunks) and yields whole frames, or a
`FrameError` with the reason the bytes were refused: garbage before the preamble is skipped and
counted, a length no answer can have and a wrong checksum reject the frame. Every buffer is
bounded, so a chattering line cannot make it grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

PREAMBLE = bytes.fromhex("AAAAAA9669")
HEADER = len(PREAMBLE) + 2  # preamble + length
# The largest answer the protocol has is read-with-fingerprint (30 10): Len 0x090A, 2321 bytes
# in all. Anything longer is no frame of this protocol.
MAX_LEN = 0x0A00
MIN_RESPONSE_LEN = 4  # SW1 SW2 SW3 CHK
MIN_REQUEST_LEN = 3  # CMD Para CHK
# Bytes skipped while looking for a preamble before the stream counts as garbage for good.
MAX_GARBAGE = 4096


class Command(IntEnum):
    """(CMD << 8) | Para of the requests the driver and simulator know."""

    RESET_SAM = 0x10FF
    SAM_STATUS = 0x11FF
    SAM_ID = 0x12FF
    FIND_CARD = 0x2001
    SELECT_CARD = 0x2002
    READ_BASE = 0x3001  # text + photo
    READ_ADDRESS = 0x3003  # newest appended address
    READ_BASE_FP = 0x3010  # text + photo + fingerprint

    @property
    def cmd(self) -> int:
        return self >> 8

    @property
    def para(self) -> int:
        return self & 0xFF


class Status(IntEnum):
    """SW3 values (the reader's and SAM's status)."""

    SUCCESS = 0x90
    FIND_OK = 0x9F
    BAD_CHECKSUM = 0x10  # the reader got a frame of ours with a wrong checksum
    BAD_LENGTH = 0x11
    BAD_COMMAND = 0x21
    UNAUTHORISED_OPERATION = 0x23
    UNKNOWN_ERROR = 0x24
    CARD_REJECTED_SAM = 0x31  # the card failed to authenticate the reader/SAM
    SAM_REJECTED_CARD = 0x32  # the reader/SAM failed to authenticate the card
    VERIFICATION_ERROR = 0x33
    WRONG_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60  # accepts no commands
    SAM_NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81
    NO_CONTENT = 0x91


STATUS_TEXT: dict[int, str] = {
    0x90: "success", 0x9F: "card found", 0x10: "the reader saw a bad checksum",
    0x11: "the reader saw a bad length", 0x21: "bad command or parameters",
    0x23: "unauthorised operation", 0x24: "unrecognised error",
    0x31: "the card failed to authenticate the SAM",
    0x32: "the SAM failed to authenticate the card", 0x33: "information verification error",
    0x40: "wrong card type", 0x41: "read card failed", 0x47: "get-random failed",
    0x60: "SAM self-test failed", 0x66: "SAM not authorised", 0x80: "no card",
    0x81: "select card failed", 0x91: "the card holds no content for this item",
}


def status_text(sw3: int) -> str:
    return STATUS_TEXT.get(sw3, f"status 0x{sw3:02X}")


class FrameProblem(StrEnum):
    GARBAGE = "garbage"  # bytes that are no frame (nothing like a preamble)
    BAD_LENGTH = "bad-length"  # a length no frame of this protocol has
    BAD_CHECKSUM = "bad-checksum"


class FrameError(ValueError):
    def __init__(self, problem: FrameProblem, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else str(problem))
        self.problem = problem
        self.detail = detail


def checksum(body: bytes) -> int:
    """XOR of every byte from Len1 up to the last data byte."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def _frame(payload: bytes) -> bytes:
    length = len(payload) + 1  # + CHK
    if length > MAX_LEN:
        raise ValueError(f"a frame carries at most {MAX_LEN - 1} bytes")
    body = length.to_bytes(2, "big") + payload
    return PREAMBLE + body + bytes([checksum(body)])


def build_request(command: Command | int, data: bytes = b"") -> bytes:
    """A host->reader frame: `command` is (CMD << 8) | Para."""
    return _frame(bytes([(command >> 8) & 0xFF, command & 0xFF]) + data)


def build_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A reader->host frame (the simulator's side, and tests)."""
    return _frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class Request:
    cmd: int
    para: int
    data: bytes

    @property
    def command(self) -> int:
        return (self.cmd << 8) | self.para


@dataclass(frozen=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @property
    def ok(self) -> bool:
        return self.sw3 in (Status.SUCCESS, Status.FIND_OK)


def _payload(frame: bytes, minimum: int) -> bytes:
    """The bytes between the length and the checksum of one whole frame, checked."""
    if len(frame) < HEADER or frame[: len(PREAMBLE)] != PREAMBLE:
        raise FrameError(FrameProblem.GARBAGE, "no preamble")
    length = int.from_bytes(frame[5:7], "big")
    if not minimum <= length <= MAX_LEN or len(frame) != HEADER + length:
        raise FrameError(FrameProblem.BAD_LENGTH, f"length {length} in a {len(frame)}-byte frame")
    if checksum(frame[5:-1]) != frame[-1]:
        raise FrameError(FrameProblem.BAD_CHECKSUM)
    return frame[7:-1]


def parse_response(frame: bytes) -> Response:
    payload = _payload(frame, MIN_RESPONSE_LEN)
    return Response(payload[0], payload[1], payload[2], payload[3:])


def parse_request(frame: bytes) -> Request:
    payload = _payload(frame, MIN_REQUEST_LEN)
    return Request(payload[0], payload[1], payload[2:])


class FrameReader:
    """Reassembles frames from a byte stream. Bounded: it never holds more than one frame plus
    one preamble's worth of bytes.

    `feed(data)` then `next_frame()` until it returns None (needs more bytes). A frame with a
    bad length or checksum raises FrameError once and is dropped; the search then resumes just
    after its preamble, so that a frame hidden behind a false start is still found. Garbage
    before a preamble is counted in `skipped` (and raises FrameError once it passes
    MAX_GARBAGE without any preamble, so a stream of noise ends the exchange early).
    """

    def __init__(self, minimum_len: int = MIN_RESPONSE_LEN) -> None:
        self._buffer = bytearray()
        self._minimum = minimum_len
        self.skipped = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        # Without a preamble only its possible start can matter: keep at most 4 bytes.
        if len(self._buffer) > MAX_LEN + HEADER and self._buffer.find(PREAMBLE) < 0:
            self._skip(len(self._buffer) - (len(PREAMBLE) - 1))

    def reset(self) -> None:
        self._buffer.clear()
        self.skipped = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _skip(self, count: int) -> None:
        del self._buffer[:count]
        self.skipped += count

    def next_frame(self) -> bytes | None:
        start = self._buffer.find(PREAMBLE)
        if start < 0:
            keep = len(PREAMBLE) - 1
            if len(self._buffer) > keep:
                self._skip(len(self._buffer) - keep)
            if self.skipped > MAX_GARBAGE:
                raise FrameError(FrameProblem.GARBAGE, f"{self.skipped} bytes without a frame")
            return None
        if start:
            self._skip(start)
        if len(self._buffer) < HEADER:
            return None
        length = int.from_bytes(self._buffer[5:7], "big")
        if not self._minimum <= length <= MAX_LEN:
            self._skip(len(PREAMBLE))
            raise FrameError(FrameProblem.BAD_LENGTH, f"length {length}")
        if len(self._buffer) < HEADER + length:
            return None
        frame = bytes(self._buffer[: HEADER + length])
        if checksum(frame[5:-1]) != frame[-1]:
            self._skip(len(PREAMBLE))
            raise FrameError(FrameProblem.BAD_CHECKSUM)
        del self._buffer[: HEADER + length]
        return frame
