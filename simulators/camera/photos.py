"""Real face photos for the simulated camera's personas, fetched at set-up time, never committed.

They ship in a registry package (shared/docs/vision-notes.md): the `face_recognition==1.3.0`
sdist's `tests/test_images/` holds five photos of one person and one of another (official US
government portraits; the package is MIT). `scripts/setup` runs `python -m
simulators.camera.photos` once per machine; where each file came from is written beside them
(`provenance.json`: package, version, archive hash, path inside it, file hash).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "face-recognition"
VERSION = "1.3.0"
# Identity -> the photos of it, inside the sdist's tests/test_images/. "a" has several photos
# (one enrols, the others are the live person); "b" is a second person (the impostor).
PHOTOS: dict[str, tuple[str, ...]] = {
    "a": ("obama.jpg", "obama2.jpg", "obama3.jpg"),
    "b": ("biden.jpg",),
}
ENV = "HRSS_FACE_PHOTOS"


def photo_dir() -> Path:
    """Where the photos are: `$HRSS_FACE_PHOTOS`, else the user's cache."""
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hrss-kiosk" / (
        f"face-photos-{VERSION}")


class PhotosMissing(RuntimeError):
    """The photos have not been fetched (run scripts/setup)."""


@dataclass(frozen=True)
class Photo:
    identity: str
    path: Path


def photos(identity: str, directory: Path | None = None) -> list[Photo]:
    """The fetched photos of `identity` ("a", "b"), in PHOTOS order."""
    base = directory or photo_dir()
    names = PHOTOS[identity]
    found = [Photo(identity, base / name) for name in names]
    missing = [p.path.name for p in found if not p.path.is_file()]
    if missing:
        raise PhotosMissing(f"face photos missing in {base}: {', '.join(missing)} "
                            f"(run scripts/setup, or python -m simulators.camera.photos)")
    return found


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(directory: Path | None = None) -> Path:
    """Download the sdist with pip, extract the photos and record their provenance. Does
    nothing when every photo is there with a matching hash."""
    target = directory or photo_dir()
    provenance = target / "provenance.json"
    if provenance.is_file():
        recorded = json.loads(provenance.read_text())
        if all((target / f["file"]).is_file() and
               _sha256((target / f["file"]).read_bytes()) == f["sha256"]
               for f in recorded["files"]):
            return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="face-photos-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
             "--no-deps", "--no-binary", ":all:", f"{PACKAGE}=={VERSION}", "-d", tmp],
            check=True, timeout=600)
        archive = next(Path(tmp).glob("face_recognition-*.tar.gz"))
        archive_bytes = archive.read_bytes()
        files = []
        with tarfile.open(archive) as tar:
            for identity, names in PHOTOS.items():
                for name in names:
                    inner = f"face_recognition-{VERSION}/tests/test_images/{name}"
                    member = tar.extractfile(inner)
                    if member is None:
                        raise RuntimeError(f"{inner} is not in {archive.name}")
                    data = member.read()
                    (target / name).write_bytes(data)
                    files.append({"file": name, "identity": identity, "path_in_archive": inner,
                                  "sha256": _sha256(data)})
    provenance.write_text(json.dumps({
        "package": PACKAGE, "version": VERSION, "archive": archive.name,
        "archive_sha256": _sha256(archive_bytes), "source": "https://pypi.org/project/"
        f"{PACKAGE}/{VERSION}/", "licence": "MIT (package); official US government portraits",
        "files": files}, indent=2) + "\n")
    return target


if __name__ == "__main__":
    sys.stdout.write(f"{fetch()}\n")
