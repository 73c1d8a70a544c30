"""Each attack the issue names is refused by the terminal's client, with its reason code, over
real HTTP from the artifact server process. The repository is real; attackers forge files with
the tuf API and stolen (or revoked) key files, and the server serves what they forged."""

from __future__ import annotations

import datetime as dt
import hashlib

from tuf.api.metadata import Metadata

from common.clock import Deadline, utc_now
from fleet.updates.keys import KeyStore
from fleet.updates.repository import Repository
from tests.fleet.updates.support import Mirror, Store, refusal, terminal

T14 = "kiosk/hrss-kiosk-1.4.0.tar.gz"
T15 = "kiosk/hrss-kiosk-1.5.0.tar.gz"


def test_an_honest_release_is_fetched_verified_and_named_by_its_signed_version(
        tmp_path, store: Store, mirror: Mirror, url: str):
    path = store.release("1.4.0")
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)

    got = client.fetch(T14, Deadline(20))

    assert got.version == "1.4.0" and got.target == T14
    assert got.path.read_bytes() == path.read_bytes()
    assert got.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert got.length == path.stat().st_size
    # Fetched again (a restart after the download): the verified file is reused as it is.
    assert client.fetch(T14, Deadline(20)) == got


def test_a_tampered_artifact_is_refused_and_its_bytes_never_kept(tmp_path, store: Store,
                                                                 mirror: Mirror, url: str):
    store.release("1.4.0")
    mirror.show(store.repo.directory)
    served = mirror.target_file(T14)
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same length
    served.write_bytes(bytes(data))
    client = terminal(tmp_path / "term", url, store)

    refused = refusal(client, T14)

    assert refused.reason == "tampered", refused
    assert not list((tmp_path / "term" / "downloads").glob("*"))  # nothing to resume from

    served.write_bytes(bytes(data) + b"more")  # longer than signed
    assert refusal(client, T14).reason == "tampered"


def test_an_artifact_signed_with_an_unknown_key_is_refused(tmp_path, store: Store,
                                                           mirror: Mirror, url: str):
    store.release("1.4.0")
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)
    client.fetch(T14, Deadline(20))
    # The attacker holds the online keys (the repository host was broken into) and a key of
    # their own, which no root lists as a targets key.
    evil = store.build("1.5.0", b"evil" * 1000)
    forged = mirror.targets_with(evil, "1.5.0")
    forged.sign(KeyStore(tmp_path / "attacker").generate("targets"))
    mirror.forge(forged, snapshot_key=store.signer("snapshot"),
                 timestamp_key=store.signer("timestamp"))

    refused = refusal(client, T15)

    assert refused.reason == "unknown-key", refused
    assert "targets" in refused.words


def test_an_artifact_not_signed_at_all_is_refused(tmp_path, store: Store, mirror: Mirror,
                                                  url: str):
    store.release("1.4.0")
    mirror.show(store.repo.directory)
    evil = store.build("1.5.0", b"unsigned" * 1000)
    forged = mirror.targets_with(evil, "1.5.0")  # no signature
    mirror.forge(forged, snapshot_key=store.signer("snapshot"),
                 timestamp_key=store.signer("timestamp"))
    client = terminal(tmp_path / "term", url, store)

    refused = refusal(client, T15)

    assert refused.reason == "unsigned", refused


def test_a_target_no_signed_metadata_lists_is_not_found(tmp_path, store: Store,
                                                        mirror: Mirror, url: str):
    store.release("1.4.0")
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)

    refused = refusal(client, T15)

    assert refused.reason == "not-found", refused


def test_a_revoked_targets_key_is_refused_after_rotation(tmp_path, store: Store,
                                                         mirror: Mirror, url: str):
    store.release("1.4.0")
    old_targets_key = store.signer("targets")
    store.repo.rotate("targets", store.offline, store.online)
    store.repo.publish([store.online])
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)
    assert client.fetch(T14, Deadline(20)).version == "1.4.0"  # the rotation is honest
    # Someone who kept the old targets key signs a release with it.
    evil = store.build("1.5.0", b"old key" * 1000)
    forged = mirror.targets_with(evil, "1.5.0")
    forged.sign(old_targets_key)
    assert old_targets_key.public_key.keyid == store.signer("targets", revoked=True
                                                            ).public_key.keyid
    mirror.forge(forged, snapshot_key=store.signer("snapshot"),
                 timestamp_key=store.signer("timestamp"))

    refused = refusal(client, T15)

    assert refused.reason == "unknown-key", refused


def test_a_revoked_timestamp_key_is_refused_after_rotation(tmp_path, store: Store,
                                                           mirror: Mirror, url: str):
    store.release("1.4.0")
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)
    client.fetch(T14, Deadline(20))
    stolen = store.signer("timestamp")
    store.repo.rotate("timestamp", store.offline, store.online)
    store.repo.publish([store.online])
    mirror.show(store.repo.directory)
    assert client.fetch(T14, Deadline(20)).version == "1.4.0"  # new root and key accepted
    # The thief fast-forwards the timestamp with the revoked key.
    evil = store.build("1.5.0", b"ts" * 1000)
    forged = mirror.targets_with(evil, "1.5.0")
    forged.sign(store.signer("targets"))
    mirror.forge(forged, snapshot_key=store.signer("snapshot"), timestamp_key=stolen, bump=1000)

    refused = refusal(client, T15)

    assert refused.reason == "unknown-key", refused
    assert "timestamp" in refused.words


def test_a_root_signed_by_revoked_root_keys_is_refused(tmp_path, store: Store, mirror: Mirror,
                                                       url: str):
    store.release("1.4.0")
    old_root = store.repo.root().signed
    store.repo.rotate("root", store.offline, store.online)  # all three root keys replaced
    store.repo.publish([store.online])
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)  # walks 1.root.json -> 2.root.json
    assert client.fetch(T14, Deadline(20)).version == "1.4.0"
    # A root v3 made by whoever kept the old root keys.
    forged = Metadata(store.repo.root().signed)
    forged.signed.version = 3
    forged.signed.roles["targets"].keyids = []
    for keyid in old_root.roles["root"].keyids:
        signer = store.offline.signer(keyid, revoked=True)
        assert signer is not None
        forged.sign(signer, append=True)
    mirror.write("3.root.json", forged)

    refused = refusal(client, T14)

    assert refused.reason == "unknown-key", refused
    assert "root" in refused.words


def test_replayed_older_metadata_is_refused_as_rollback(tmp_path, store: Store,
                                                        mirror: Mirror, url: str):
    store.release("1.4.0")
    old_state = store.freeze_state("with-1.4.0")  # validly signed, not expired
    store.release("1.5.0")
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)
    assert client.fetch(T15, Deadline(20)).version == "1.5.0"
    # The mirror replays the repository of a week ago, where 1.4.0 was the newest release.
    mirror.show(old_state)

    refused = refusal(client, T14)

    assert refused.reason == "rollback", refused
    assert "timestamp" in refused.words


def test_an_expired_timestamp_is_refused_as_a_freeze(tmp_path, store: Store, mirror: Mirror,
                                                     url: str):
    store.release("1.4.0")
    mirror.show(store.repo.directory)
    client = terminal(tmp_path / "term", url, store)
    client.fetch(T14, Deadline(20))
    # The mirror withholds what came since and keeps serving a timestamp that has expired.
    two_days_ago = utc_now() - dt.timedelta(days=2)
    Repository(store.repo.directory, clock=lambda: two_days_ago).publish([store.online])
    mirror.show(store.repo.directory)

    refused = refusal(client, T14)

    assert refused.reason == "freeze", refused
    assert "expired" in refused.words
    # A fresh terminal is not fooled either.
    assert refusal(terminal(tmp_path / "fresh", url, store), T14).reason == "freeze"


def test_targets_from_another_release_under_the_snapshot_are_mix_and_match(
        tmp_path, store: Store, mirror: Mirror, url: str):
    store.release("1.4.0")
    a = store.freeze_state("a")
    store.release("1.5.0")
    mirror.show(store.repo.directory)
    # Release B's timestamp and snapshot; under B's targets name, release A's targets.
    b_targets = mirror.current_targets_version()
    a_mirror = Mirror(a)
    a_targets = a_mirror.current_targets_version()
    (mirror.metadata / f"{b_targets}.targets.json").write_bytes(
        (a / "metadata" / f"{a_targets}.targets.json").read_bytes())
    client = terminal(tmp_path / "term", url, store)

    refused = refusal(client, T14)

    assert refused.reason == "mix-and-match", refused


def test_a_snapshot_from_another_release_under_the_timestamp_is_mix_and_match(
        tmp_path, store: Store, mirror: Mirror, url: str):
    store.release("1.4.0")
    a = store.freeze_state("a")
    store.release("1.5.0")
    mirror.show(store.repo.directory)
    b_snap = mirror.read("timestamp.json").signed.snapshot_meta.version
    a_snap = Mirror(a).read("timestamp.json").signed.snapshot_meta.version
    (mirror.metadata / f"{b_snap}.snapshot.json").write_bytes(
        (a / "metadata" / f"{a_snap}.snapshot.json").read_bytes())
    client = terminal(tmp_path / "term", url, store)

    refused = refusal(client, T15)

    assert refused.reason == "mix-and-match", refused
