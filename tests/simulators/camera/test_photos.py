"""The personas' photos: fetched at set-up from a registry package, with their provenance."""

import hashlib
import json

import pytest

from simulators.camera import photos


def test_the_fetched_photos_match_their_recorded_provenance():
    base = photos.photo_dir()
    recorded = json.loads((base / "provenance.json").read_text())
    assert recorded["package"] == photos.PACKAGE and recorded["version"] == photos.VERSION
    for entry in recorded["files"]:
        data = (base / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["path_in_archive"].endswith("/tests/test_images/" + entry["file"])
    assert [p.path.name for p in photos.photos("a")] == list(photos.PHOTOS["a"])


def test_missing_photos_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv(photos.ENV, str(tmp_path))
    with pytest.raises(photos.PhotosMissing, match="scripts/setup"):
        photos.photos("b")
