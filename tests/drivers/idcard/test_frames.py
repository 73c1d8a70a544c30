"""The frame codec against the literal frames of shared/docs/idcard-notes.md, and the
simulator's independent codec against the driver's."""

from __future__ import annotations

import pytest

from drivers.idcard import frames
from drivers.idcard.frames import Command, FrameError, FrameProblem, FrameReader
from simulators.idcard import protocol


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(("command", "literal"), [
    (Command.RESET_SAM, "AA AA AA 96 69 00 03 10 FF EC"),
    (Command.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
    (Command.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
    (Command.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),
    (Command.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
    (Command.READ_BASE, "AA AA AA 96 69 00 03 30 01 32"),
    (Command.READ_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
    (Command.READ_BASE_FP, "AA AA AA 96 69 00 03 30 10 23"),
])
def test_requests_match_the_published_frames(command: Command, literal: str) -> None:
    assert frames.build_request(command) == h(literal)
    assert protocol.request(command.cmd, command.para) == h(literal)
    parsed = frames.parse_request(h(literal))
    assert (parsed.cmd, parsed.para, parsed.data) == (command.cmd, command.para, b"")


def test_a_request_with_data_matches_the_published_frame() -> None:
    # 61 FF 50: set the maximum RF frame to 80 bytes.
    assert frames.build_request(0x61FF, b"\x50") == h("AA AA AA 96 69 00 04 61 FF 50 CA")


@pytest.mark.parametrize(("literal", "sw3", "data"), [
    ("AA AA AA 96 69 00 04 00 00 80 84", 0x80, b""),  # no card
    ("AA AA AA 96 69 00 04 00 00 41 45", 0x41, b""),  # read failed
    ("AA AA AA 96 69 00 04 00 00 81 85", 0x81, b""),  # select failed
    ("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", 0x9F, b"\x00" * 4),  # find: IIN
])
def test_captured_answers_parse(literal: str, sw3: int, data: bytes) -> None:
    answer = frames.parse_response(h(literal))
    assert (answer.sw1, answer.sw2, answer.sw3, answer.data) == (0, 0, sw3, data)
    assert frames.build_response(sw3, data) == h(literal) == protocol.response(sw3, data)


def test_a_full_read_answer_has_the_published_shape() -> None:
    text, photo = b"\x20\x00" * 128, bytes(range(256)) * 4
    frame = protocol.response(0x90, protocol.base_info(text, photo))
    assert len(frame) == 1295 and frame[5:7] == h("0508") and frame[7:10] == h("000090")
    assert frame[10:12] == h("0100") and frame[12:14] == h("0400")
    assert frame[14:270] == text and frame[270:1294] == photo
    answer = frames.parse_response(frame)
    assert answer.ok and answer.data[4:260] == text


def test_the_reader_reassembles_frames_fed_a_byte_at_a_time() -> None:
    frame = protocol.response(0x90, protocol.base_info(b"\x20\x00" * 128, b"\x01" * 1024))
    reader = FrameReader()
    found = []
    for i in range(len(frame)):
        reader.feed(frame[i : i + 1])
        got = reader.next_frame()
        if got is not None:
            found.append(got)
    assert found == [frame] and reader.skipped == 0 and reader.pending == 0


def test_garbage_before_a_frame_is_skipped_and_counted() -> None:
    reader = FrameReader()
    reader.feed(b"\x00\x13noise\xaa\xaa" + h("AA AA AA 96 69 00 04 00 00 80 84"))
    assert reader.next_frame() == h("AA AA AA 96 69 00 04 00 00 80 84")
    assert reader.skipped == 9


def test_a_bad_checksum_is_refused_and_a_frame_after_it_still_found() -> None:
    bad = h("AA AA AA 96 69 00 04 00 00 80 85")
    good = h("AA AA AA 96 69 00 04 00 00 41 45")
    reader = FrameReader()
    reader.feed(bad + good)
    with pytest.raises(FrameError) as refused:
        reader.next_frame()
    assert refused.value.problem is FrameProblem.BAD_CHECKSUM
    assert reader.next_frame() == good


@pytest.mark.parametrize("length", ["0000", "0003", "FFFF", "0A01"])
def test_impossible_lengths_are_refused_at_once(length: str) -> None:
    reader = FrameReader()
    reader.feed(h("AA AA AA 96 69") + h(length) + b"\x00" * 8)
    with pytest.raises(FrameError) as refused:
        reader.next_frame()
    assert refused.value.problem is FrameProblem.BAD_LENGTH


def test_endless_noise_ends_with_garbage_and_the_buffer_stays_small() -> None:
    reader = FrameReader()
    with pytest.raises(FrameError) as refused:
        for _ in range(100):
            reader.feed(b"\x55" * 1000)
            reader.next_frame()
            assert reader.pending < 8
    assert refused.value.problem is FrameProblem.GARBAGE


@pytest.mark.parametrize("frame", [
    "", "AAAAAA9669", "AAAAAA9669 0004 000080",  # short
    "AAAAAA9669 0004 00008084 00",  # longer than its length
    "AAAAAA9668 0004 00008084",  # not the preamble
])
def test_parse_refuses_anything_but_one_whole_frame(frame: str) -> None:
    with pytest.raises(FrameError):
        frames.parse_response(h(frame))


def test_status_texts_name_known_and_unknown_codes() -> None:
    assert frames.status_text(0x80) == "no card"
    assert frames.status_text(0x77) == "status 0x77"
