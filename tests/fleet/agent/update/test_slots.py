"""Slots: atomic switch of `current`, `previous` kept, hostile archives refused."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from fleet.agent.update.slots import Limits, SlotError, Slots, UnsafeArchive
from tests.fleet.agent.update.support import release


def _archive(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        version = tarfile.TarInfo("VERSION")
        version.size = 4
        tar.addfile(version, io.BytesIO(b"1.0\n"))
        for m in members:
            tar.addfile(m, io.BytesIO(data) if m.isreg() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 1
            ) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = size if kind == tarfile.REGTYPE else 0
    return info


def test_install_switch_and_previous(tmp_path: Path) -> None:
    slots = Slots(tmp_path / "root")
    slots.install("a", release(tmp_path / "r1.tar.gz", "1.0.0"), "1.0.0")
    assert slots.current() is None and slots.runnable("a")
    slots.switch("a")
    assert (slots.current(), slots.current_version(), slots.previous()) == ("a", "1.0.0", None)

    slots.install(slots.other("a"), release(tmp_path / "r2.tar.gz", "1.1.0"), "1.1.0")
    slots.switch("b")
    assert (slots.current(), slots.previous(), slots.current_version()) == ("b", "a", "1.1.0")
    assert os.readlink(slots.root / "current") == "b"  # relative: the root may move
    assert (slots.root / "current" / "app" / "run.sh").stat().st_mode & 0o111
    slots.switch("b")  # idempotent
    assert (slots.current(), slots.previous()) == ("b", "a")
    # No temporary links are left behind.
    assert sorted(p.name for p in slots.root.iterdir()) == ["a", "b", "current", "previous"]


def test_the_current_slot_is_never_written(tmp_path: Path) -> None:
    slots = Slots(tmp_path / "root")
    slots.install("a", release(tmp_path / "r1.tar.gz", "1.0.0"), "1.0.0")
    slots.switch("a")
    with pytest.raises(SlotError, match="current"):
        slots.install("a", release(tmp_path / "r2.tar.gz", "1.1.0"), "1.1.0")
    assert slots.current_version() == "1.0.0"


def test_a_half_written_slot_is_not_runnable_and_cannot_be_switched_to(tmp_path: Path) -> None:
    slots = Slots(tmp_path / "root")
    slots.install("a", release(tmp_path / "r1.tar.gz", "1.0.0"), "1.0.0")
    slots.switch("a")
    slots.install("b", release(tmp_path / "r2.tar.gz", "1.1.0"), "1.1.0")

    def crash() -> None:
        raise KeyboardInterrupt  # stands in for the power cut half-way

    with pytest.raises(KeyboardInterrupt):
        slots.install("b", release(tmp_path / "r3.tar.gz", "1.2.0"), "1.2.0", on_member=crash)
    assert not slots.runnable("b")  # the marker went first
    with pytest.raises(SlotError, match="no installed release"):
        slots.switch("b")
    assert slots.current() == "a"


def test_version_must_match(tmp_path: Path) -> None:
    slots = Slots(tmp_path / "root")
    with pytest.raises(SlotError, match=r"VERSION is '1\.0\.0', not '2\.0\.0'"):
        slots.install("a", release(tmp_path / "r.tar.gz", "1.0.0"), "2.0.0")
    assert not slots.runnable("a")


@pytest.mark.parametrize("member", [
    _member("../evil"),
    _member("/etc/evil"),
    _member("app/../../evil"),
    _member("ln", tarfile.SYMTYPE, "/etc/passwd"),
    _member("app/ln", tarfile.SYMTYPE, "../../outside"),
    _member("hard", tarfile.LNKTYPE, "VERSION"),
    _member("dev", tarfile.CHRTYPE),
    _member("fifo", tarfile.FIFOTYPE),
], ids=["dotdot", "absolute", "nested-dotdot", "abs-link", "rel-link-out", "hardlink",
        "device", "fifo"])
def test_hostile_members_are_refused(tmp_path: Path, member: tarfile.TarInfo) -> None:
    slots = Slots(tmp_path / "root")
    with pytest.raises(UnsafeArchive):
        slots.install("a", _archive(tmp_path / "bad.tar.gz", [member]), "1.0")
    assert not slots.runnable("a")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()


def test_writing_through_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    members = [_member("d", tarfile.SYMTYPE, "."), _member("d/x")]
    slots = Slots(tmp_path / "root")
    with pytest.raises(UnsafeArchive, match="through a link"):
        slots.install("a", _archive(tmp_path / "bad.tar.gz", members), "1.0")


def test_links_inside_the_slot_are_kept(tmp_path: Path) -> None:
    members = [_member("lib/real"), _member("lib/alias", tarfile.SYMTYPE, "real")]
    slots = Slots(tmp_path / "root")
    slots.install("a", _archive(tmp_path / "ok.tar.gz", members), "1.0")
    assert os.readlink(slots.path("a") / "lib" / "alias") == "real"


def test_oversize_archives_are_refused(tmp_path: Path) -> None:
    slots = Slots(tmp_path / "root", Limits(max_bytes=1000, max_members=100))
    big = [_member("big", size=2000)]
    with pytest.raises(UnsafeArchive, match="more than 1000 bytes"):
        slots.install("a", _archive(tmp_path / "big.tar.gz", big, b"0" * 2000), "1.0")
    many = Slots(tmp_path / "root2", Limits(max_members=3))
    with pytest.raises(UnsafeArchive, match="more than 3 members"):
        many.install("a", _archive(tmp_path / "many.tar.gz",
                                   [_member(f"f{i}") for i in range(5)]), "1.0")


def test_a_corrupt_archive_fails_the_install(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.tar.gz"
    bad.write_bytes(release(tmp_path / "r.tar.gz", "1.0.0").read_bytes()[:100])
    with pytest.raises(SlotError):
        Slots(tmp_path / "root").install("a", bad, "1.0.0")
