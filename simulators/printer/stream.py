"""An incremental ESC/POS parser: bytes in, operations out, at command boundaries.

The subset receipt printers in 人社 halls get from drivers (Epson TM-T88 family and the
Chinese clones): ESC @ ! E - a d J t 2 3 M, GS ! V v0 ( k B L W, FS & . !, DLE EOT, text in
GB18030 while Chinese mode is on (FS &, the power-on default of mainland printers) or CP437
when it is off. Commands with a payload (GS v 0, GS ( k, ESC *) are skipped by their length,
so a DLE EOT inside image data is not taken for a status query (print-notes.md 2). Unknown
commands are skipped by their usual length and counted, never fatal.

`feed(data)` returns the operations parsed so far; an incomplete command at the end waits for
the next call. The buffer is bounded: a payload longer than MAX_PAYLOAD is skipped unread.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAYLOAD = 1 << 20  # one raster image or QR store; a receipt is ~10 KB (print-notes.md 2)
MAX_LINE_BYTES = 1024  # text without a line feed beyond this is wrapped


@dataclass(frozen=True)
class Op:
    name: str  # init, text, newline, feed, align, mode, bold, underline, size, chinese, cut,
    #            qr-store, qr-print, qr-size, image, status, unknown
    value: int = 0
    text: str = ""
    data: bytes = b""
    width: int = 0  # image: bytes per row (×8 dots)
    height: int = 0


class EscPosStream:
    def __init__(self, *, chinese: bool = True) -> None:
        self.chinese = chinese
        self._buf = bytearray()
        self._text = bytearray()
        self._skip = 0  # bytes of an oversized payload still to drop
        self.unknown = 0

    def feed(self, data: bytes) -> list[Op]:
        ops: list[Op] = []
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buf += data
        while self._buf:
            consumed = self._one(ops)
            if consumed == 0:
                break
            del self._buf[:consumed]
        return ops

    def flush_text(self, ops: list[Op]) -> None:
        if self._text:
            ops.append(Op("text", text=self._decode(bytes(self._text))))
            self._text.clear()

    def _decode(self, raw: bytes) -> str:
        return raw.decode("gb18030" if self.chinese else "cp437", errors="replace")

    def _need(self, n: int) -> bool:
        return len(self._buf) >= n

    def _payload(self, header: int, length: int, ops: list[Op], make: str, **kw: int) -> int:
        if length > MAX_PAYLOAD:
            self.unknown += 1
            available = len(self._buf) - header
            self._skip = max(0, length - available)
            return min(len(self._buf), header + length)
        if not self._need(header + length):
            return 0
        self.flush_text(ops)
        ops.append(Op(make, data=bytes(self._buf[header:header + length]), **kw))
        return header + length

    def _one(self, ops: list[Op]) -> int:  # noqa: PLR0911 (a command table)
        buf = self._buf
        b = buf[0]
        if b == 0x0A:
            self.flush_text(ops)
            ops.append(Op("newline"))
            return 1
        if b in (0x0D, 0x00):
            return 1
        if b == 0x10:
            return self._dle(ops)
        if b == 0x1B:
            return self._esc(ops)
        if b == 0x1C:
            return self._fs(ops)
        if b == 0x1D:
            return self._gs(ops)
        if b < 0x20:
            return 1
        return self._char(ops)

    def _char(self, ops: list[Op]) -> int:
        buf = self._buf
        size = 1
        if self.chinese and buf[0] >= 0x81:
            if not self._need(2):
                return 0
            size = 4 if 0x30 <= buf[1] <= 0x39 else 2
            if not self._need(size):
                return 0
        self._text += buf[:size]
        if len(self._text) >= MAX_LINE_BYTES:
            self.flush_text(ops)
            ops.append(Op("newline"))
        return size

    def _simple(self, ops: list[Op], name: str, length: int, value_at: int | None = 2) -> int:
        if not self._need(length):
            return 0
        self.flush_text(ops)
        ops.append(Op(name, value=self._buf[value_at] if value_at is not None else 0))
        return length

    def _dle(self, ops: list[Op]) -> int:
        if not self._need(2):
            return 0
        second = self._buf[1]
        if second == 0x04:  # DLE EOT n: real-time status; answered here, at a boundary
            return self._simple(ops, "status", 3)
        if second == 0x14:  # DLE DC4 fn m t: real-time pulse / power-off
            return 5 if self._need(5) else 0
        if second == 0x05:
            return 3 if self._need(3) else 0
        self.unknown += 1
        return 2

    def _esc(self, ops: list[Op]) -> int:  # noqa: PLR0911
        if not self._need(2):
            return 0
        c = chr(self._buf[1])
        table = {"!": "mode", "E": "bold", "-": "underline", "a": "align", "d": "feed"}
        if c == "@":
            self.flush_text(ops)
            self.chinese = True
            ops.append(Op("init"))
            return 2
        if c in table:
            return self._simple(ops, table[c], 3)
        if c == "J":
            return self._simple(ops, "feed-dots", 3)
        if c in "t3MG RV{cU":
            return 3 if self._need(3) else 0
        if c in "2im<":
            if c in "im":
                return self._simple(ops, "cut", 2, None)
            return 2
        if c == "p":
            return 5 if self._need(5) else 0
        if c == "$":
            return 4 if self._need(4) else 0
        if c == "*":  # ESC * m nL nH d...: bit image, 1 or 3 bytes per column
            if not self._need(5):
                return 0
            m, columns = self._buf[2], self._buf[3] | self._buf[4] << 8
            return self._payload(5, columns * (3 if m in (32, 33) else 1), ops, "bit-image")
        self.unknown += 1
        return 2

    def _fs(self, ops: list[Op]) -> int:
        if not self._need(2):
            return 0
        c = chr(self._buf[1])
        if c in "&.":
            self.flush_text(ops)
            self.chinese = c == "&"
            ops.append(Op("chinese", value=int(self.chinese)))
            return 2
        if c in "!-CW":
            return 3 if self._need(3) else 0
        if c == "S":
            return 4 if self._need(4) else 0
        self.unknown += 1
        return 2

    def _gs(self, ops: list[Op]) -> int:  # noqa: PLR0911, PLR0912 (a command table)
        if not self._need(2):
            return 0
        buf = self._buf
        c = chr(buf[1])
        if c == "!":
            return self._simple(ops, "size", 3)
        if c == "V":  # GS V m / GS V m n
            if not self._need(3):
                return 0
            length = 4 if buf[2] in (65, 66) else 3
            return self._simple(ops, "cut", length, 2) if self._need(length) else 0
        if c == "v":  # GS v 0 m xL xH yL yH data
            if not self._need(8):
                return 0
            width, height = buf[4] | buf[5] << 8, buf[6] | buf[7] << 8
            return self._payload(8, width * height, ops, "image", width=width, height=height)
        if c == "(":  # GS ( X pL pH ...
            if not self._need(5):
                return 0
            length = buf[3] | buf[4] << 8
            if chr(buf[2]) != "k":
                return self._payload(5, length, ops, "unknown")
            if not self._need(5 + length):
                return 0 if length <= MAX_PAYLOAD else self._payload(5, length, ops, "unknown")
            body = bytes(buf[5:5 + length])
            self.flush_text(ops)
            if len(body) >= 2 and body[0] == 49:  # cn 49: QR code
                fn = body[1]
                if fn == 80:
                    ops.append(Op("qr-store", data=body[3:]))
                elif fn == 81:
                    ops.append(Op("qr-print"))
                elif fn == 67 and len(body) >= 3:
                    ops.append(Op("qr-size", value=body[2]))
            return 5 + length
        if c in "LWP":
            return 4 if self._need(4) else 0
        if c in "BHhwfaIr/b":
            return 3 if self._need(3) else 0
        if c == "k":  # GS k m ...: barcodes, NUL-terminated (m < 65) or length-prefixed
            if not self._need(4):
                return 0
            if buf[2] >= 65:
                return self._payload(4, buf[3], ops, "barcode")
            end = buf.find(b"\x00", 3)
            return 0 if end < 0 else end + 1
        self.unknown += 1
        return 2
