"""The terminal's artifact client: TUF-verified downloads that resume (fleet-contract, "tuf").

`ArtifactClient.fetch(target, deadline)` refreshes the TUF metadata with tuf.ngclient (root
chain, timestamp, snapshot, targets: signatures and thresholds against the trusted root in
`metadata_dir`, versions only forward, nothing expired, each role matching the hash and length
the one above it signed), looks the target up, and downloads it with HTTP Range into
`download_dir`: a cut download keeps its `.part` file, and the next fetch, in this process or
the next, asks only for the rest. The finished file is checked against the signed length and
SHA-256 before it is returned. Every refusal is an `UpdateRefused` with the contract's reason
code; a failure of the network is `download-failed`, which the caller may retry.

Bounds: every socket operation ends by `deadline` (common.http.within) and stalls after
`timeout_s`; each metadata file has a size cap (`Limits`), a target never grows past its
signed length. ngclient has no locks: one Updater per fetch, behind a thread lock and an
flock on the metadata directory (a CLI and the daemon may share it).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

from common.clock import Deadline
from common.files import write_atomically
from common.http import DeadlinePassed, deadline_transport, within
from common.version import __version__
from fleet.updates import reasons
from fleet.updates.build import TARGET_PATH_RE, VERSION_RE

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
PART_SUFFIX = ".part"
_UNSIGNED_RE = re.compile(r"^(\S+) was signed by \d+/\d+ keys")
# "Expected targets v2, got v1." (a role not matching its snapshot entry) and "Expected
# snapshot version 2, got 1" (the snapshot not matching the timestamp): files from two states.
_MIX_RE = re.compile(r"^(Expected \S+ v\d+, got v\d+|Expected snapshot version \d+, got \d+)")


@dataclass(frozen=True)
class Limits:
    """Largest metadata accepted (bytes), however the peer behaves; and the largest artifact."""

    root: int = 512_000
    timestamp: int = 16_384
    snapshot: int = 1_000_000
    targets: int = 5_000_000
    artifact: int = 4 * 1024**3
    root_rotations: int = 32


class UpdateRefused(reasons.Refused):
    """The update is refused; `reason` is one of the contract's codes, str() says why."""


@dataclass(frozen=True)
class VerifiedArtifact:
    path: Path
    target: str
    version: str
    sha256: str
    length: int


class _Fetcher(FetcherInterface):
    """ngclient's downloads over our httpx client: deadline-bound, identity-encoded, and
    remembering the metadata it fetched (to tell "unsigned" from "unknown key")."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self.seen: dict[str, bytes] = {}

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._http.send(self._http.build_request("GET", url), stream=True)
        except (httpx.HTTPError, DeadlinePassed) as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: {exc!r}") from exc
        if response.status_code != 200:
            response.close()
            raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {response.status_code}",
                                               response.status_code)
        return self._chunks(url, response)

    @staticmethod
    def _chunks(url: str, response: httpx.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_raw(CHUNK)
        except (httpx.HTTPError, DeadlinePassed) as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: {exc!r}") from exc
        finally:
            response.close()

    def download_bytes(self, url: str, max_length: int) -> bytes:
        data = super().download_bytes(url, max_length)
        self.seen[url.rpartition("/")[2]] = data
        return data

    def raw_of(self, role: str) -> bytes | None:
        """The last bytes fetched for `role` (N.role.json or role.json)."""
        found = None
        for name, data in self.seen.items():
            if name == f"{role}.json" or re.fullmatch(rf"\d+\.{re.escape(role)}\.json", name):
                found = data
        return found


def _refusal(exc: BaseException, fetcher: _Fetcher, *,  # noqa: PLR0911 (a table)
             target_stage: bool) -> UpdateRefused:
    """The contract's reason for what tuf (or the network) raised."""
    words = str(exc) or type(exc).__name__
    if isinstance(exc, UpdateRefused):
        return exc
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        match = _UNSIGNED_RE.match(words)
        raw = fetcher.raw_of(match.group(1)) if match else None
        return UpdateRefused(reasons.signature_reason(raw), words)
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return UpdateRefused(reasons.FREEZE, words)
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return UpdateRefused(reasons.MIX_AND_MATCH if _MIX_RE.match(words) else reasons.ROLLBACK,
                             words)
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        # Of a target: its bytes are not the signed ones. Of metadata: a role that is not the
        # one the role above signed, i.e. files from two repository states.
        return UpdateRefused(reasons.TAMPERED if target_stage else reasons.MIX_AND_MATCH, words)
    if isinstance(exc, tuf_errors.RepositoryError):
        if "missing info for" in words or "does not contain information" in words:
            return UpdateRefused(reasons.MIX_AND_MATCH, words)
        return UpdateRefused(reasons.TAMPERED, f"metadata not readable as TUF: {words}")
    if isinstance(exc, tuf_errors.DownloadLengthMismatchError):
        return UpdateRefused(reasons.TAMPERED, words)
    if isinstance(exc, tuf_errors.DownloadHTTPError) and exc.status_code == 404 and target_stage:
        return UpdateRefused(reasons.NOT_FOUND, f"the store has no file for it: {words}")
    cause = exc.__cause__
    detail = f"{words} ({cause!r})" if cause is not None and str(cause) not in words else words
    return UpdateRefused(reasons.DOWNLOAD_FAILED, detail[:500])


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextlib.contextmanager
def _exclusive(directory: Path, deadline: Deadline) -> Iterator[None]:
    """This process's threads, then other processes, one at a time; waiting ends by the
    deadline too."""
    busy = UpdateRefused(reasons.DOWNLOAD_FAILED, f"{directory} stayed busy (another fetch) "
                         "until the deadline")
    with _locks_guard:
        lock = _locks.setdefault(directory.resolve(), threading.Lock())
    if not lock.acquire(timeout=deadline.remaining()):
        raise busy
    try:
        with (directory / ".lock").open("a") as fh:
            pace = threading.Event()  # paces the retries; never set
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline.expired:
                        raise busy from None
                    pace.wait(min(0.05, deadline.remaining()))
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        lock.release()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactClient:
    def __init__(self, metadata_dir: Path, repository_url: str, download_dir: Path, *,
                 timeout_s: float = 30.0, limits: Limits | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        """`metadata_dir` holds the trusted root.json (provisioned) and TUF's cache;
        `repository_url` the store's base (…/metadata/ and …/targets/ below it);
        `timeout_s` bounds one stalled socket operation (the deadline bounds a fetch)."""
        self.metadata_dir = Path(metadata_dir)
        base = repository_url.rstrip("/") + "/"
        self.metadata_url = base + "metadata/"
        self.targets_url = base + "targets/"
        self.download_dir = Path(download_dir)
        self.timeout_s = timeout_s
        self.limits = limits or Limits()
        self._transport = transport

    def _http(self) -> httpx.Client:
        return httpx.Client(
            transport=self._transport or deadline_transport(max_connections=4, max_keepalive=2),
            timeout=httpx.Timeout(self.timeout_s), follow_redirects=False,
            # Identity: offsets in a Range are the file's bytes, and nothing inflates.
            headers={"User-Agent": f"hrss-kiosk-agent/{__version__}",
                     "Accept-Encoding": "identity"})

    def _config(self) -> UpdaterConfig:
        lim = self.limits
        return UpdaterConfig(max_root_rotations=lim.root_rotations, root_max_length=lim.root,
                             timestamp_max_length=lim.timestamp,
                             snapshot_max_length=lim.snapshot, targets_max_length=lim.targets,
                             app_user_agent=f"hrss-kiosk-agent/{__version__}")

    def fetch(self, target: str, deadline: Deadline) -> VerifiedArtifact:
        if not TARGET_PATH_RE.match(target):
            raise UpdateRefused(reasons.NOT_FOUND, f"{target[:80]!r} is not a target path")
        if not (self.metadata_dir / "root.json").exists():
            raise UpdateRefused(reasons.DOWNLOAD_FAILED, f"no trusted root.json in "
                                f"{self.metadata_dir} (provision the terminal)")
        self.download_dir.mkdir(parents=True, exist_ok=True)
        with self._http() as http, within(deadline), _exclusive(self.metadata_dir, deadline):
            fetcher = _Fetcher(http)
            try:
                info = self._target_info(target, fetcher)
            except Exception as exc:
                raise self._refused(exc, fetcher, deadline, target_stage=False) from None
            try:
                return self._download(info, http, deadline)
            except Exception as exc:
                raise self._refused(exc, fetcher, deadline, target_stage=True) from None

    @staticmethod
    def _refused(exc: BaseException, fetcher: _Fetcher, deadline: Deadline, *,
                 target_stage: bool) -> UpdateRefused:
        refusal = _refusal(exc, fetcher, target_stage=target_stage)
        if refusal.reason == reasons.DOWNLOAD_FAILED and deadline.expired:
            refusal = UpdateRefused(reasons.DOWNLOAD_FAILED,
                                    f"the deadline passed: {refusal.words}"[:500])
        log.warning("update refused (%s): %s", refusal.reason, refusal.words)
        return refusal

    def _target_info(self, target: str, fetcher: _Fetcher) -> TargetFile:
        updater = Updater(str(self.metadata_dir), self.metadata_url,
                          target_base_url=self.targets_url, fetcher=fetcher,
                          config=self._config(), bootstrap=None)
        updater.refresh()
        info = updater.get_targetinfo(target)
        if info is None:
            raise UpdateRefused(reasons.NOT_FOUND, f"{target} is not in the signed targets")
        return info

    def _download(self, info: TargetFile, http: httpx.Client,
                  deadline: Deadline) -> VerifiedArtifact:
        custom = info.custom if isinstance(info.custom, dict) else {}
        version = custom.get("version")
        if not isinstance(version, str) or not VERSION_RE.match(version):
            raise UpdateRefused(reasons.NOT_FOUND, f"{info.path} is signed without a release "
                                "version: not a release of ours")
        sha256 = info.hashes.get("sha256")
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise UpdateRefused(reasons.TAMPERED, f"{info.path} is signed without a SHA-256")
        if info.length > self.limits.artifact:
            raise UpdateRefused(reasons.DOWNLOAD_FAILED, f"{info.path} has {info.length} bytes, "
                                f"over this terminal's limit of {self.limits.artifact}")
        basename = info.path.rpartition("/")[2]
        final = self.download_dir / f"{sha256}.{basename}"
        part = final.with_name(final.name + PART_SUFFIX)
        artifact = VerifiedArtifact(final, info.path, version, sha256, info.length)
        if self._matches(info, final):
            return artifact
        dirname, sep, _ = info.path.rpartition("/")
        url = f"{self.targets_url}{dirname}{sep}{sha256}.{basename}"
        resumed = part.exists() and part.stat().st_size > 0
        self._resume(url, part, info.length, http, deadline)
        if resumed and not self._matches(info, part):
            # The kept part was no prefix of this file (a disk fault, a file from elsewhere):
            # that is our fault, not the store's. Once more from byte zero before refusing.
            log.warning("a resumed download of %s did not verify; downloading it whole",
                        info.path)
            part.unlink(missing_ok=True)
            self._resume(url, part, info.length, http, deadline)
        try:
            with part.open("rb") as fh:
                info.verify_length_and_hashes(fh)
        except tuf_errors.LengthOrHashMismatchError:
            part.unlink(missing_ok=True)  # bad bytes are never resumed from
            raise
        os.replace(part, final)
        _fsync_dir(self.download_dir)
        self._prune(keep=final)
        return artifact

    @staticmethod
    def _matches(info: TargetFile, path: Path) -> bool:
        try:
            with path.open("rb") as fh:
                info.verify_length_and_hashes(fh)
        except (OSError, tuf_errors.LengthOrHashMismatchError):
            return False
        return True

    def _resume(self, url: str, part: Path, length: int, http: httpx.Client,
                deadline: Deadline) -> None:
        """Bring `part` to `length` bytes from `url`, asking only for what it lacks."""
        have = part.stat().st_size if part.exists() else 0
        if have > length:
            have = 0
        if have == length:
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response = http.send(http.build_request("GET", url, headers=headers), stream=True)
        except (httpx.HTTPError, DeadlinePassed) as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: {exc!r}") from exc
        with contextlib.closing(response):
            if response.status_code == 206 and have:
                self._check_content_range(response, have, length, url)
                mode = "ab"
            elif response.status_code == 200:
                have, mode = 0, "wb"  # the server ignored the range: start again
            elif response.status_code == 416 and have:
                part.unlink(missing_ok=True)  # the part is not a prefix of this file
                raise tuf_errors.DownloadError(f"{url}: HTTP 416 for bytes {have}-; restarting")
            else:
                raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {response.status_code}",
                                                   response.status_code)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and have + int(declared) > length:
                raise tuf_errors.DownloadLengthMismatchError(
                    f"{url} announces {have + int(declared)} bytes; {length} are signed")
            with part.open(mode) as out:
                self._copy(response, out, have, length, url, deadline)

    @staticmethod
    def _check_content_range(response: httpx.Response, have: int, length: int,
                             url: str) -> None:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)",
                             response.headers.get("content-range", "").strip())
        if match is None or int(match.group(1)) != have:
            raise tuf_errors.DownloadError(f"{url}: a 206 without the asked range "
                                           f"({response.headers.get('content-range', '')[:60]!r})")
        if match.group(3) != "*" and int(match.group(3)) != length:
            raise tuf_errors.DownloadLengthMismatchError(
                f"{url} has {match.group(3)} bytes; {length} are signed")

    @staticmethod
    def _copy(response: httpx.Response, out: IO[bytes], have: int, length: int, url: str,
              deadline: Deadline) -> None:
        # Written as it comes, so a cut leaves every byte received for the next try.
        try:
            for chunk in response.iter_raw(CHUNK):
                have += len(chunk)
                if have > length:
                    raise tuf_errors.DownloadLengthMismatchError(
                        f"{url} sent more than the {length} bytes signed")
                out.write(chunk)
                if deadline.expired:
                    raise tuf_errors.SlowRetrievalError(f"{url}: deadline passed at {have} of "
                                                        f"{length} bytes")
        except (httpx.HTTPError, DeadlinePassed) as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: cut at {have} of {length} bytes: "
                                                f"{exc!r}") from exc
        finally:
            out.flush()
            os.fsync(out.fileno())

    def _prune(self, keep: Path) -> None:
        """Earlier downloads and abandoned parts: only the newest verified artifact stays."""
        for path in self.download_dir.iterdir():
            if path != keep and path.is_file() and (
                    path.name.endswith(PART_SUFFIX) or path.name.endswith(".tar.gz")):
                with contextlib.suppress(OSError):
                    path.unlink()

    def __repr__(self) -> str:
        return f"ArtifactClient({self.metadata_url!r})"


def provision_root(metadata_dir: Path, root_json: bytes) -> None:
    """Make `root_json` (the store's metadata/root.json) this terminal's trust anchor, unless
    one is there already: a newer cached root must never be replaced by an older one."""
    metadata_dir.mkdir(parents=True, exist_ok=True)
    if not (metadata_dir / "root.json").exists():
        write_atomically(metadata_dir / "root.json", root_json, mode=0o644)


__all__ = ["ArtifactClient", "Limits", "UpdateRefused", "VerifiedArtifact", "provision_root"]
