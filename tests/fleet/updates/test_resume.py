"""A download cut or stalled part-way over a real TCP peer (CuttingProxy in front of the real
server process): the bytes received are kept, the next fetch asks only for the rest with
Range, a kept part that is not a prefix of the file is thrown away, and a fetch ends by its
total deadline whatever the peer does."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from common.clock import Deadline
from tests.fleet.updates.support import CuttingProxy, Mirror, Store, elapsed, refusal, terminal

T14 = "kiosk/hrss-kiosk-1.4.0.tar.gz"
PAYLOAD = os.urandom(600_000)  # incompressible: the archive is about as long


def _published(store: Store, mirror: Mirror) -> Path:
    path = store.release("1.4.0", PAYLOAD)
    mirror.show(store.repo.directory)
    return path


def _parts(base: Path) -> list[Path]:
    return sorted((base / "downloads").glob("*.part"))


def test_a_download_cut_half_way_resumes_with_range_on_the_next_fetch(
        tmp_path: Path, store: Store, mirror: Mirror, url: str) -> None:
    path = _published(store, mirror)
    size = path.stat().st_size
    with CuttingProxy(url, after=size // 2) as proxy:
        client = terminal(tmp_path / "term", proxy.url, store)

        cut = refusal(client, T14)

        assert cut.reason == "download-failed", cut
        [part] = _parts(tmp_path / "term")
        kept = part.stat().st_size
        assert 0 < kept < size
        assert part.read_bytes() == path.read_bytes()[:kept]  # a prefix, byte for byte
        assert proxy.range_requests() == []  # the first try asked for the whole file

        got = client.fetch(T14, Deadline(20))

    assert proxy.range_requests() == [f"bytes={kept}-"]
    assert any(s.startswith("HTTP/1.1 206") for s in proxy.statuses), proxy.statuses
    assert got.path.read_bytes() == path.read_bytes()
    assert got.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert _parts(tmp_path / "term") == []


def test_a_kept_part_that_is_not_a_prefix_is_discarded_and_the_file_fetched_whole(
        tmp_path: Path, store: Store, mirror: Mirror, url: str) -> None:
    path = _published(store, mirror)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    downloads = tmp_path / "term" / "downloads"
    downloads.mkdir(parents=True)
    part = downloads / f"{digest}.{path.name}.part"
    part.write_bytes(b"\0" * 1000)  # what a disk fault left: right length range, wrong bytes
    with CuttingProxy(url, after=0, cuts=0) as proxy:
        client = terminal(tmp_path / "term", proxy.url, store)

        got = client.fetch(T14, Deadline(20))

    # It resumed from the part first (it cannot know better), saw the hash fail, and went
    # again from byte zero rather than refuse an honest store as "tampered".
    assert proxy.range_requests() == ["bytes=1000-"]
    target_gets = [h for h in proxy.heads if h.startswith("GET /targets/")]
    assert len(target_gets) == 2
    assert got.path.read_bytes() == path.read_bytes()
    assert not part.exists()


def test_a_stalled_download_ends_by_its_total_deadline_and_resumes_after(
        tmp_path: Path, store: Store, mirror: Mirror, url: str) -> None:
    path = _published(store, mirror)
    size = path.stat().st_size
    with CuttingProxy(url, after=size // 3, stall=True) as proxy:
        # Each socket read may stall up to 30 s; the whole fetch has 2 s.
        client = terminal(tmp_path / "term", proxy.url, store, timeout_s=30.0)
        started = time.monotonic()

        stalled = refusal(client, T14, seconds=2.0)

        took = elapsed(started)
        assert stalled.reason == "download-failed", stalled
        assert "deadline" in stalled.words, stalled.words
        assert 1.5 < took < 5.0, took
        [part] = _parts(tmp_path / "term")
        kept = part.stat().st_size
        assert 0 < kept < size

        got = client.fetch(T14, Deadline(20))

    assert proxy.range_requests() == [f"bytes={kept}-"]
    assert got.path.read_bytes() == path.read_bytes()
