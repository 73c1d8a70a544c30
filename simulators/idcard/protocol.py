"""The reader's side of the SAM frame protocol, and the card's 256-byte text block.

Written apart from drivers/idcard (simulators may not import the drivers they exist to test),
so that a misreading of the protocol in one is caught by the other and by the tests, which
check both against the literal frames of shared/docs/idcard-notes.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
MAX_REQUEST_LEN = 0x0100  # requests are a few bytes; anything longer is noise
MAX_BUFFER = 4096

# Commands as (CMD, Para).
RESET_SAM = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_BASE = (0x30, 0x01)
READ_ADDRESS = (0x30, 0x03)

# SW3 answers.
SUCCESS = 0x90
FIND_OK = 0x9F
HOST_BAD_CHECKSUM = 0x10
HOST_BAD_LENGTH = 0x11
BAD_COMMAND = 0x21
READ_FAILED = 0x41
SAM_SELF_TEST_FAILED = 0x60
NO_CARD = 0x80
SELECT_FAILED = 0x81
NO_CONTENT = 0x91

TEXT_BYTES = 256
PHOTO_BYTES = 1024
# offset, bytes
LAYOUT: Mapping[str, tuple[int, int]] = {
    "name": (0, 30), "gender": (30, 2), "ethnicity": (32, 4), "birth": (36, 16),
    "address": (52, 70), "citizen_id": (122, 36), "authority": (158, 30),
    "valid_from": (188, 16), "valid_until": (204, 16), "type_flag": (248, 2),
}


def xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def response(sw3: int, data: bytes = b"", *, corrupt_checksum: bool = False) -> bytes:
    body = (len(data) + 4).to_bytes(2, "big") + bytes([0, 0, sw3]) + data
    chk = xor(body) ^ (0xFF if corrupt_checksum else 0)
    return PREAMBLE + body + bytes([chk])


def request(cmd: int, para: int, data: bytes = b"") -> bytes:
    body = (len(data) + 3).to_bytes(2, "big") + bytes([cmd, para]) + data
    return PREAMBLE + body + bytes([xor(body)])


@dataclass(frozen=True)
class Incoming:
    """A request frame as received, or why it was refused (`error` is then an SW3 to answer)."""

    cmd: int = 0
    para: int = 0
    data: bytes = b""
    error: int | None = None


class RequestParser:
    """Bytes from the host in, requests out. A real module answers a frame with a wrong checksum
    with SW3 10 and one with an impossible length with SW3 11; noise is dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.noise = 0

    def feed(self, data: bytes) -> list[Incoming]:
        self._buffer += data
        out: list[Incoming] = []
        while True:
            start = self._buffer.find(PREAMBLE)
            if start < 0:
                keep = len(PREAMBLE) - 1
                self.noise += max(len(self._buffer) - keep, 0)
                del self._buffer[: max(len(self._buffer) - keep, 0)]
                return out
            self.noise += start
            del self._buffer[:start]
            if len(self._buffer) < 7:
                return out
            length = int.from_bytes(self._buffer[5:7], "big")
            if not 3 <= length <= MAX_REQUEST_LEN:
                del self._buffer[: len(PREAMBLE)]
                out.append(Incoming(error=HOST_BAD_LENGTH))
                continue
            if len(self._buffer) < 7 + length:
                if len(self._buffer) > MAX_BUFFER:
                    self._buffer.clear()
                return out
            frame = bytes(self._buffer[: 7 + length])
            del self._buffer[: 7 + length]
            if xor(frame[5:-1]) != frame[-1]:
                out.append(Incoming(error=HOST_BAD_CHECKSUM))
                continue
            out.append(Incoming(frame[7], frame[8], frame[9:-1]))


def text_block(fields: Mapping[str, str]) -> bytes:
    """Fields (LAYOUT names) as UCS-2 LE, each padded with spaces; longer text is cut, as an
    issuer cuts a name longer than the card holds."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_BYTES // 2))
    for name, text in fields.items():
        offset, size = LAYOUT[name]
        raw = text[: size // 2].encode("utf-16-le")[:size]
        block[offset : offset + len(raw)] = raw
    return bytes(block)


def base_info(text: bytes, photo: bytes) -> bytes:
    """The data of a 30 01 answer: text length, photo length (u16 BE), text, photo."""
    return len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo
