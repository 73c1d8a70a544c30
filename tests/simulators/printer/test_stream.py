"""The virtual printer's ESC/POS parser: commands, GB18030 text, payloads skipped by length."""

from __future__ import annotations

from drivers.printer.compose import compose
from drivers.printer.interface import ReceiptDocument, ReceiptLine
from simulators.printer.stream import EscPosStream


def names(ops) -> list[str]:
    return [op.name for op in ops]


def test_gb18030_text_lines_and_commands() -> None:
    stream = EscPosStream()
    ops = stream.feed(b"\x1b@\x1c&\x1ba\x01" + "参保证明".encode("gb18030") + b"\n\x1dV\x00")
    assert names(ops) == ["init", "chinese", "align", "text", "newline", "cut"]
    assert ops[3].text == "参保证明"


def test_a_command_or_character_split_across_reads_waits_for_the_rest() -> None:
    stream = EscPosStream()
    data = "张".encode("gb18030") + b"\n\x10\x04\x04"
    ops = []
    for i in range(len(data)):
        ops += stream.feed(data[i:i + 1])
    assert names(ops) == ["text", "newline", "status"]
    assert ops[0].text == "张" and ops[2].value == 4


def test_four_byte_gb18030_and_chinese_mode_off() -> None:
    stream = EscPosStream()
    ops = stream.feed("𠮷".encode("gb18030") + b"\n\x1c.\xfa\n")
    assert ops[0].text == "𠮷"
    assert ops[-2].text == "·"  # CP437 0xFA once Chinese mode is off


def test_status_bytes_inside_an_image_are_data_not_queries() -> None:
    stream = EscPosStream()
    raster = b"\x10\x04\x01" * 8  # 24 bytes: 3 bytes per row, 8 rows
    ops = stream.feed(b"\x1dv0\x00\x03\x00\x08\x00" + raster + b"\x10\x04\x02")
    assert names(ops) == ["image", "status"]
    assert ops[0].width == 3 and ops[0].height == 8 and ops[0].data == raster


def test_a_native_qr_code_is_stored_and_printed() -> None:
    blocks = compose(ReceiptDocument("t", (), qr="https://v.example/abc"))
    ops = EscPosStream().feed(b"".join(blocks))
    stored = next(op for op in ops if op.name == "qr-store")
    assert stored.data == b"https://v.example/abc"
    assert "qr-print" in names(ops) and names(ops)[-1] == "cut"


def test_unknown_commands_are_skipped_and_counted() -> None:
    stream = EscPosStream()
    ops = stream.feed(b"\x1b\x7f" + b"ok\n")
    assert stream.unknown == 1 and ops[0].text == "ok"


def test_an_oversized_payload_is_dropped_unread() -> None:
    stream = EscPosStream()
    # GS v 0 announcing 65535 x 65535 bytes: far beyond MAX_PAYLOAD
    ops = stream.feed(b"\x1dv0\x00\xff\xff\xff\xff" + b"\x00" * 100)
    assert ops == [] and stream.unknown == 1


def test_the_drivers_receipt_parses_to_its_lines() -> None:
    document = ReceiptDocument("参保证明", (ReceiptLine("姓名：张三"), ReceiptLine("¥5")))
    ops = EscPosStream().feed(b"".join(compose(document)))
    assert [op.text for op in ops if op.name == "text"] == ["参保证明", "姓名：张三", "￥5"]
