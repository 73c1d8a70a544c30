import contextlib
import os
import stat
import threading

from common.files import create_once, write_atomically


def test_write_atomically_replaces_content_with_the_mode_given(tmp_path):
    path = tmp_path / "sub" / "state.json"
    write_atomically(path, "old")
    write_atomically(path, b"new", mode=0o640)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_content_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    write_atomically(path, "old")
    with contextlib.suppress(TypeError, AttributeError):
        write_atomically(path, object())  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_create_once_keeps_the_first_content_under_a_race(tmp_path):
    path = tmp_path / "key"
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(create_once(path, bytes([i]) * 32)))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    content = path.read_bytes()
    assert len(content) == 32 and len(set(content)) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert create_once(path, b"other") is False and path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["key"]
