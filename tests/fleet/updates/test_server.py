"""`kioskctl fleet artifacts serve` as its own process over real HTTP: Range as RFC 9110 has
it (one range; several served whole), nothing outside metadata/ and targets/ (staged files,
policy, keys, dot files, links out, `..`), a total deadline on each request however slowly the
peer reads, and problem+json for every error, never a 5xx for what a client sends."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fleet.updates.support import Store, elapsed, served

DEADLINE_S = 2.0
BIG = 48 * 1024 * 1024  # more than loopback socket buffers hold: the reader sets the pace


@dataclass(frozen=True)
class Served:
    url: str
    store: Store
    target: Path  # a release archive, as served (hash-named)
    big: Path

    @property
    def target_url(self) -> str:
        rel = self.target.relative_to(self.store.repo.directory)
        return f"{self.url}/{rel.as_posix()}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("server")
    store = Store.create(base / "store")
    store.release("1.4.0", os.urandom(5000))
    repo = store.repo.directory
    [target] = (repo / "targets" / "kiosk").iterdir()
    big = repo / "targets" / "kiosk" / "big.bin"
    with big.open("wb") as fh:
        fh.truncate(BIG)  # sparse: quick to make, served like any file
    # What lies beside the served trees, and links that would lead a client to it.
    (repo / "targets" / "kiosk" / ".hidden").write_bytes(b"secret")
    (repo / "targets" / "kiosk" / "policy-link").symlink_to(repo / "policy.json")
    (repo / "targets" / "kiosk" / "key-link").symlink_to(
        next((base / "store" / "keys" / "online").rglob("*.pem")))
    (repo / "metadata" / "9.root.json").symlink_to(repo / "policy.json")
    store.build("1.5.0")
    store.repo.sign([store.offline], [store.built["1.5.0"]])  # staged, not published
    with served(repo, deadline_s=DEADLINE_S) as url:
        yield Served(url, store, target, big)


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    return body


def _raw(url: str, request: bytes) -> bytes:
    """One request exactly as written (no client normalising its path); the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        answer = b""
        try:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # closed on us with our bytes unread: what it said before is the answer
    return answer


# -- Range -------------------------------------------------------------------------------------


def test_a_single_range_is_answered_206_with_those_bytes(server: Served) -> None:
    data = server.target.read_bytes()
    size = len(data)
    cases = {"bytes=10-19": (10, 19), "bytes=100-": (100, size - 1),
             f"bytes=0-{size * 10}": (0, size - 1), "bytes=0-0": (0, 0)}
    for header, (first, last) in cases.items():
        r = httpx.get(server.target_url, headers={"Range": header}, timeout=10)
        assert r.status_code == 206, (header, r.status_code)
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}", header
        assert r.content == data[first:last + 1], header


def test_a_suffix_range_is_the_last_bytes(server: Served) -> None:
    data = server.target.read_bytes()
    r = httpx.get(server.target_url, headers={"Range": "bytes=-50"}, timeout=10)
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {len(data) - 50}-{len(data) - 1}/{len(data)}"
    assert r.content == data[-50:]
    whole = httpx.get(server.target_url, headers={"Range": f"bytes=-{len(data) * 2}"},
                      timeout=10)
    assert whole.status_code == 206 and whole.content == data


@pytest.mark.parametrize("header", ["start-at-end", "start-past-end", "bytes=-0"])
def test_an_unsatisfiable_range_is_416_problem_with_the_size(server: Served,
                                                             header: str) -> None:
    size = server.target.stat().st_size
    header = {"start-at-end": f"bytes={size}-", "start-past-end": f"bytes={size + 99}-{size + 199}"
              }.get(header, header)
    r = httpx.get(server.target_url, headers={"Range": header}, timeout=10)
    body = _problem(r, 416)
    assert body["type"].endswith("/range-not-satisfiable"), body
    assert r.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=0-1, -5", "items=0-5", "bytes=50-10",
                                    "bytes=abc", "bytes=99999999999999999999-", "bytes=",
                                    "bytes=--1"])
def test_several_or_malformed_ranges_are_served_whole(server: Served, header: str) -> None:
    r = httpx.get(server.target_url, headers={"Range": header}, timeout=10)
    assert r.status_code == 200, (header, r.status_code, r.text[:200])
    assert "content-range" not in r.headers
    assert r.content == server.target.read_bytes()


def test_head_tells_the_length_and_metadata_is_served_uncached_where_it_changes(
        server: Served) -> None:
    r = httpx.head(server.target_url, timeout=10)
    assert r.status_code == 200 and int(r.headers["content-length"]) == server.target.stat(
        ).st_size
    assert "immutable" in r.headers["cache-control"]
    ts = httpx.get(f"{server.url}/metadata/timestamp.json", timeout=10)
    assert ts.status_code == 200 and ts.headers["cache-control"] == "no-cache"
    assert ts.content == (server.store.repo.metadata_dir / "timestamp.json").read_bytes()
    first = httpx.get(f"{server.url}/metadata/1.root.json", timeout=10)
    assert first.status_code == 200 and "immutable" in first.headers["cache-control"]


# -- what is never served ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/metadata/policy.json", "/policy.json", "/staged/targets.json", "/metadata/2.root.json",
    "/metadata/0.root.json", "/metadata/9.root.json", "/metadata/.lock",
    "/targets/kiosk/.hidden", "/targets/kiosk/policy-link", "/targets/kiosk/key-link",
    "/targets/kiosk/hrss-kiosk-1.5.0.tar.gz", "/targets/..%2fpolicy.json",
    "/targets/%2e%2e/policy.json", "/targets/kiosk/%2e%2e/%2e%2e/policy.json",
    "/metadata/..%2fstaged%2ftargets.json", "/keys/online", "/targets/", "/targets//kiosk",
    "/targets/kiosk/%00", "/targets/" + "a/" * 10 + "b", "/targets/" + "x" * 5000, "/",
])
def test_names_outside_the_served_trees_are_404_problems(server: Served, path: str) -> None:
    _problem(httpx.get(server.url + path, timeout=10), 404)


@pytest.mark.parametrize("raw_path", [
    b"/targets/../policy.json", b"/targets/kiosk/../../policy.json",
    b"/metadata/../staged/root.json", b"/targets/./kiosk/.hidden"])
def test_dot_segments_sent_raw_never_leave_the_tree(server: Served, raw_path: bytes) -> None:
    answer = _raw(server.url, b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
    status = answer.split(b"\r\n", 1)[0]
    assert status.split()[1] in {b"400", b"404"}, status
    assert b"expires_days" not in answer and b"signatures" not in answer  # nothing leaked


def test_a_publish_makes_files_appear_and_staged_ones_stay_hidden(server: Served) -> None:
    staged = server.store.repo.staged_dir / "targets.json"
    assert staged.is_file()
    r = httpx.get(f"{server.url}/metadata/targets.json", timeout=10)
    _problem(r, 404)  # only N.targets.json is served, and the staged version is not among them
    version = server.store.repo.targets().signed.version
    assert httpx.get(f"{server.url}/metadata/{version}.targets.json", timeout=10).status_code \
        == 200
    _problem(httpx.get(f"{server.url}/metadata/{version + 1}.targets.json", timeout=10), 404)


# -- errors, bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("POST", "/targets/kiosk/big.bin", {}),
    ("PUT", "/metadata/root.json", {}),
    ("DELETE", "/metadata/timestamp.json", {}),
    ("GET", "/metadata/root.json", {"Range": "bytes=" + "9" * 5000}),
    ("GET", "/targets/kiosk/big.bin", {"Range": "bytes=-" + "9" * 19}),
    ("GET", "/metadata/root.json", {"If-Modified-Since": "yesterday", "Accept": "*/*;q=x"}),
    ("GET", "/metadata/%ff%fe.json", {}),
    ("GET", "/targets/%c0%ae%c0%ae/policy.json", {}),
    ("OPTIONS", "/", {}),
])
def test_nothing_a_client_sends_gives_a_5xx(server: Served, method: str, path: str,
                                            headers: dict[str, str]) -> None:
    r = httpx.request(method, server.url + path, headers=headers, timeout=10)
    assert r.status_code < 500, (r.status_code, r.text[:200])
    if r.status_code >= 400:
        _problem(r, r.status_code)


def test_a_head_larger_than_the_limit_is_refused_and_the_server_goes_on(
        server: Served) -> None:
    answer = _raw(server.url, b"GET /metadata/root.json HTTP/1.1\r\nHost: x\r\nX-Pad: "
                  + b"a" * 200_000 + b"\r\nConnection: close\r\n\r\n")
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:80]
    assert httpx.get(f"{server.url}/metadata/root.json", timeout=10).status_code == 200


def test_a_slow_reader_is_cut_off_at_the_total_deadline_and_resumes_with_range(
        server: Served) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # a small window: a slow link
    pace = threading.Event()  # never set: paces the reads
    started = time.monotonic()
    answer = b""
    with sock:
        sock.settimeout(10)
        sock.connect((host, int(port)))
        sock.sendall(b"GET /targets/kiosk/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        # Slowly (~1.6 MB/s: half a minute for the file) until past the deadline, reading all
        # along: no idle timeout can be what cuts it.
        while elapsed(started) < DEADLINE_S + 1 and (chunk := sock.recv(16384)):
            answer += chunk
            pace.wait(0.01)
        # Then as fast as loopback goes: an uncut answer would now arrive whole, in a moment.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        while chunk := sock.recv(1 << 20):
            answer += chunk
        took = elapsed(started)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    assert 0 < len(body) < BIG // 2, len(body)  # what went out before the cut, and no more
    assert took < DEADLINE_S + 10, took
    # The next request goes on where the cut left it.
    rest = httpx.get(f"{server.url}/targets/kiosk/big.bin", timeout=30,
                     headers={"Range": f"bytes={BIG - 1000}-"})
    assert rest.status_code == 206 and rest.content == b"\0" * 1000
    assert rest.headers["content-range"] == f"bytes {BIG - 1000}-{BIG - 1}/{BIG}"


def test_a_server_that_is_not_a_repository_refuses_to_start(tmp_path: Path) -> None:
    import subprocess

    from tests.fleet.updates.support import KIOSKCTL

    proc = subprocess.run([KIOSKCTL, "fleet", "artifacts", "serve", "--repo", str(tmp_path),
                           "--port", "0"], capture_output=True, text=True, timeout=30,
                          check=False)
    assert proc.returncode == 2, proc
    assert "holds no repository" in proc.stderr
