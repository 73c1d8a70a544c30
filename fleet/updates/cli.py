"""`kioskctl fleet artifacts …`: build, sign, publish, rotate and serve signed releases
(docs/fleet-updates.md). Only typer at module level (`kioskctl --help` stays light)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

artifacts_app = typer.Typer(
    help="The artifact store: a TUF repository of signed releases (docs/fleet-updates.md).",
    no_args_is_help=True)

RepoOption = Annotated[Path, typer.Option("--repo", help="The repository directory.",
                                          file_okay=False)]
OfflineKeys = Annotated[Path, typer.Option(
    "--offline-keys", help="Key store of the root and targets keys (removable media).",
    file_okay=False)]
OnlineKeys = Annotated[Path, typer.Option(
    "--online-keys", help="Key store of the snapshot and timestamp keys (repository host).",
    file_okay=False)]


@contextmanager
def _errors() -> Iterator[None]:
    """Refusals exit 1 with their reason; unusable input or state exits 2."""
    from fleet.updates.build import BuildError
    from fleet.updates.keys import KeysError
    from fleet.updates.reasons import Refused
    from fleet.updates.repository import RepositoryStateError

    try:
        yield
    except Refused as exc:
        typer.echo(f"refused ({exc.reason}): {exc.words}", err=True)
        raise typer.Exit(1) from None
    except (BuildError, KeysError, RepositoryStateError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _stores(*dirs: Path | None) -> list[Any]:
    from fleet.updates.keys import KeyStore

    return [KeyStore(d) for d in dirs if d is not None]


@artifacts_app.command("init")
def init(
    repo: RepoOption,
    offline_keys: OfflineKeys,
    online_keys: OnlineKeys,
    root_keys: Annotated[int, typer.Option(min=1, max=9)] = 3,
    root_threshold: Annotated[int, typer.Option(min=1, max=9)] = 2,
    targets_keys: Annotated[int, typer.Option(min=1, max=9)] = 1,
    targets_threshold: Annotated[int, typer.Option(min=1, max=9)] = 1,
    timestamp_days: Annotated[float, typer.Option(min=0.01, help="Validity of a timestamp; "
                                                  "re-sign well within it.")] = 1.0,
    snapshot_days: Annotated[float, typer.Option(min=0.01)] = 7.0,
    targets_days: Annotated[float, typer.Option(min=1)] = 90.0,
    root_days: Annotated[float, typer.Option(min=1)] = 365.0,
) -> None:
    """Create a repository: new Ed25519 keys for every role, root v1, no targets yet.

    Prints the root.json to provision on every terminal (its trust anchor).
    """
    import datetime as dt

    from fleet.updates.keys import DEFAULT_POLICY, KeyStore, RolePolicy
    from fleet.updates.repository import Repository

    counts = {"root": (root_keys, root_threshold, root_days),
              "targets": (targets_keys, targets_threshold, targets_days),
              "snapshot": (1, 1, snapshot_days), "timestamp": (1, 1, timestamp_days)}
    policy = {}
    for role, (keys, threshold, days) in counts.items():
        if threshold > keys:
            typer.echo(f"error: {role} threshold {threshold} is over its {keys} keys", err=True)
            raise typer.Exit(2)
        policy[role] = RolePolicy(keys, threshold, dt.timedelta(days=days))
    assert policy.keys() == DEFAULT_POLICY.keys()
    with _errors():
        made = Repository.init(repo, KeyStore(offline_keys), KeyStore(online_keys),
                               policy=policy)
    typer.echo(f"repository at {repo}; provision terminals with {made.metadata_dir / 'root.json'}")


@artifacts_app.command("build")
def build(
    source: Annotated[Path, typer.Argument(help="The slot's contents.", file_okay=False,
                                           exists=True)],
    version: Annotated[str, typer.Option(help="The release's version, e.g. 1.4.0.")],
    out: Annotated[Path | None, typer.Option(help="Default: ./<product>-<version>.tar.gz",
                                             dir_okay=False)] = None,
    product: Annotated[str, typer.Option()] = "hrss-kiosk",
) -> None:
    """Build a release archive (VERSION + the slot's contents), reproducibly."""
    import hashlib

    from fleet.updates.build import build_release, check_version, release_name

    with _errors():
        check_version(version)
        path = build_release(source, version, out or Path(release_name(version, product)))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    typer.echo(f"{path}  {path.stat().st_size} bytes  sha256 {digest}")


@artifacts_app.command("sign")
def sign(
    repo: RepoOption,
    offline_keys: OfflineKeys,
    artifacts: Annotated[list[Path] | None, typer.Argument(
        help="Release archives to add.", dir_okay=False, exists=True)] = None,
    prefix: Annotated[str, typer.Option(help="Target directory in the repository.")] = "kiosk",
    remove: Annotated[list[str] | None, typer.Option(
        help="A target to drop (old releases); repeat for several.")] = None,
) -> None:
    """Offline: stage a new targets version listing ARTIFACTS, signed with the targets keys.

    With nothing to add or remove and targets already staged, co-sign them (a targets
    threshold above one: each key holder runs sign).
    """
    from fleet.updates.repository import Repository

    with _errors():
        md, count = Repository(repo).sign(_stores(offline_keys), artifacts or [], prefix=prefix,
                                          remove=remove or [])
        threshold = Repository(repo).trusted_root().roles["targets"].threshold
    typer.echo(f"targets v{md.signed.version} staged, signed by {count} of the {threshold} "
               "keys needed" + ("" if count >= threshold else "; another key holder must sign"))


@artifacts_app.command("publish")
def publish(
    repo: RepoOption,
    online_keys: OnlineKeys,
    artifacts: Annotated[list[Path] | None, typer.Argument(
        help="The signed release archives (uploaded).", dir_okay=False, exists=True)] = None,
) -> None:
    """Online: check and publish what is staged, with the artifacts; new snapshot, timestamp.

    Each artifact is checked against the hash and length its targets entry signs, and what
    is staged against the trusted root. With nothing staged it only re-signs snapshot and
    timestamp: run it from a timer, well within the timestamp's validity.
    """
    from fleet.updates.repository import Repository

    with _errors():
        done = Repository(repo).publish(_stores(online_keys), artifacts or [])
    added = f"; added {', '.join(done.added)}" if done.added else ""
    typer.echo(f"published root v{done.root}, targets v{done.targets}, snapshot "
               f"v{done.snapshot}, timestamp v{done.timestamp}{added}")


@artifacts_app.command("rotate")
def rotate(
    repo: RepoOption,
    role: Annotated[str, typer.Option(help="root, targets, snapshot or timestamp.")],
    offline_keys: OfflineKeys,
    online_keys: Annotated[Path | None, typer.Option(
        "--online-keys", help="Where new snapshot/timestamp keys go.", file_okay=False)] = None,
    revoke: Annotated[list[str] | None, typer.Option(
        help="Key id to revoke (repeat); default: all of the role's keys.")] = None,
    add: Annotated[int | None, typer.Option(min=0, max=9, help="New keys (default: as many "
                                            "as are revoked).")] = None,
    threshold: Annotated[int | None, typer.Option(min=1, max=9)] = None,
) -> None:
    """Offline: stage a new root that replaces (or revokes) a role's keys.

    The new root is signed by the old and the new root keys; `publish` makes it live.
    """
    from fleet.updates.repository import Repository

    stores = _stores(offline_keys, online_keys)
    with _errors():
        md = Repository(repo).rotate(role, stores[0], stores[1] if len(stores) > 1 else None,
                                     revoke=revoke, add=add, threshold=threshold)
    keyids = md.signed.roles[role].keyids
    typer.echo(f"root v{md.signed.version} staged: {role} keys now "
               f"{', '.join(k[:12] for k in keyids)} (threshold "
               f"{md.signed.roles[role].threshold}); run publish to make it live")


@artifacts_app.command("serve")
def serve(
    repo: RepoOption,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0: any free port (printed).")] =
        8400,
    request_deadline_s: Annotated[float, typer.Option(min=0.1, help="Total time for one "
                                                      "request; a cut client resumes.")] = 600.0,
) -> None:
    """Serve the repository's metadata and targets over HTTP (Range for targets)."""
    from common.logs import setup_logging
    from fleet.updates.server import run

    setup_logging("INFO")
    with _errors():
        run(repo, host, port, request_deadline_s=request_deadline_s, announce=typer.echo)
