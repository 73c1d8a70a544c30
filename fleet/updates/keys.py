"""Signing keys of the artifact store: Ed25519 per TUF role, kept in key stores (directories).

Where each key lives (docs/fleet-updates.md): root and targets keys are OFFLINE (a store on
removable media or an HSM, used only at a signing ceremony); snapshot and timestamp keys are
ONLINE (a store on the repository host, used by `publish` and the re-signing timer).

A store is `<dir>/<role>/<keyid>.pem` (PKCS#8, mode 0600) beside `<keyid>.pub` (the public key
as TUF writes it). A revoked key moves to `<dir>/revoked/`, so nothing signs with it again; the
root that no longer lists it is what makes terminals refuse it.

Rotation and revocation are a new root version: signed by a threshold of the OLD root keys
(terminals trust it only so) and of the NEW ones (it must meet its own threshold).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Key, SSlibKey
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Signed

from common.files import write_atomically

ROLES = ("root", "targets", "snapshot", "timestamp")
OFFLINE_ROLES = frozenset({"root", "targets"})
ONLINE_ROLES = frozenset({"snapshot", "timestamp"})
REVOKED = "revoked"


@dataclass(frozen=True)
class RolePolicy:
    keys: int
    threshold: int
    expires: dt.timedelta


# tuf-notes §4: timestamp re-signed every few hours (the freeze window), snapshot weekly
# online, targets at the offline ceremony's cadence, root yearly.
DEFAULT_POLICY: dict[str, RolePolicy] = {
    "root": RolePolicy(keys=3, threshold=2, expires=dt.timedelta(days=365)),
    "targets": RolePolicy(keys=1, threshold=1, expires=dt.timedelta(days=90)),
    "snapshot": RolePolicy(keys=1, threshold=1, expires=dt.timedelta(days=7)),
    "timestamp": RolePolicy(keys=1, threshold=1, expires=dt.timedelta(days=1)),
}


class KeysError(Exception):
    """A signing step cannot be done with the keys at hand (say which, and how many)."""


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise KeysError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


class KeyStore:
    """A directory of private keys, grouped by role."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r})"

    def generate(self, role: str) -> CryptoSigner:
        _check_role(role)
        signer = CryptoSigner.generate_ed25519()
        keyid = signer.public_key.keyid
        folder = self.directory / role
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(folder / f"{keyid}.pem", signer.private_bytes, mode=0o600)
        write_atomically(folder / f"{keyid}.pub",
                         json.dumps(signer.public_key.to_dict(), sort_keys=True) + "\n",
                         mode=0o644)
        return signer

    def _pem(self, keyid: str, *, revoked: bool = False) -> Path | None:
        if not keyid.isalnum():  # a key id is hex; never a path
            return None
        bases = [self.directory, self.directory / REVOKED] if revoked else [self.directory]
        for base in bases:
            for role in ROLES:
                path = base / role / f"{keyid}.pem"
                if path.is_file():
                    return path
        return None

    def signer(self, keyid: str, *, revoked: bool = False) -> CryptoSigner | None:
        """The signer of `keyid`, if this store holds it; a revoked key only if `revoked`
        (the root that revokes a root key is still signed by it, as terminals require)."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        pem = self._pem(keyid, revoked=revoked)
        if pem is None:
            return None
        public: dict[str, Any] = json.loads(pem.with_suffix(".pub").read_text())
        key = SSlibKey.from_dict(keyid, public)
        return CryptoSigner(load_pem_private_key(pem.read_bytes(), None), key)

    def keyids(self, role: str) -> list[str]:
        _check_role(role)
        folder = self.directory / role
        return sorted(p.stem for p in folder.glob("*.pem")) if folder.is_dir() else []

    def revoke(self, keyid: str) -> bool:
        """Move `keyid`'s files to revoked/; True if this store held it."""
        pem = self._pem(keyid)
        if pem is None:
            return False
        dest = self.directory / REVOKED / pem.parent.name
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (pem, pem.with_suffix(".pub")):
            if path.exists():
                os.replace(path, dest / path.name)
        return True


def find_signer(keyid: str, stores: Iterable[KeyStore], *,
                revoked: bool = False) -> CryptoSigner | None:
    for store in stores:
        signer = store.signer(keyid, revoked=revoked)
        if signer is not None:
            return signer
    return None


def sign_role(md: Metadata[Any], role: str, delegator: Root, stores: Sequence[KeyStore],
              *, append: bool = False, partial: bool = False) -> int:
    """Sign `md` with every key of `role` (as `delegator` lists them) found in `stores`.

    Raises KeysError unless the signatures then meet the role's threshold (with `partial`,
    unless at least one of the role's keys signed: a co-signer completes it); returns how
    many of the role's keys have signed.
    """
    if not append:
        md.signatures.clear()
    role_info = delegator.roles[role]
    for keyid in role_info.keyids:
        if keyid in md.signatures:
            continue
        signer = find_signer(keyid, stores)
        if signer is not None:
            md.sign(signer, append=True)
    have = sum(1 for k in role_info.keyids if k in md.signatures)
    if partial and have:
        return have
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError:
        raise KeysError(
            f"{role} needs {role_info.threshold} of its {len(role_info.keyids)} keys; "
            f"{have} found in {', '.join(str(s.directory) for s in stores) or 'no key store'}"
        ) from None
    return have


def new_root(root: Root, role: str, *, version: int, expires: dt.datetime,
             add: Sequence[Key] = (), revoke: Iterable[str] = (),
             threshold: int | None = None) -> Root:
    """Root `version`, from `root`: `role` gains `add`, loses `revoke`, perhaps a new
    threshold."""
    _check_role(role)
    nxt = copy.deepcopy(root)
    nxt.version = version
    nxt.expires = expires
    for keyid in revoke:
        if keyid not in nxt.roles[role].keyids:
            raise KeysError(f"{keyid[:12]}… is not a {role} key")
        nxt.revoke_key(keyid, role)
    for key in add:
        nxt.add_key(key, role)
    if threshold is not None:
        nxt.roles[role].threshold = threshold
    left = len(nxt.roles[role].keyids)
    if left < nxt.roles[role].threshold:
        raise KeysError(f"{role} would keep {left} keys, below its threshold of "
                        f"{nxt.roles[role].threshold}")
    return nxt


def sign_root(new: Root, old: Root, stores: Sequence[KeyStore]) -> Metadata[Root]:
    """`new` signed as terminals check it: a threshold of `old`'s root keys AND of its own."""
    md = Metadata(new)
    for keyid in dict.fromkeys([*old.roles["root"].keyids, *new.roles["root"].keyids]):
        signer = find_signer(keyid, stores, revoked=keyid not in new.roles["root"].keyids)
        if signer is not None:
            md.sign(signer, append=True)
    checks = [(new, "the root")] if old is new else [(old, "the old root"), (new, "the new root")]
    for trusted, which in checks:
        try:
            trusted.verify_delegate("root", md.signed_bytes, md.signatures)
        except UnsignedMetadataError:
            info = trusted.roles["root"]
            raise KeysError(f"root v{new.version} needs {info.threshold} keys of {which}; "
                            "too few of them are in the key stores given") from None
    return md


def expiry(now: dt.datetime, policy: RolePolicy) -> dt.datetime:
    # TUF stores seconds; a fraction would be dropped on the wire anyway.
    return (now + policy.expires).replace(microsecond=0)


def bump(signed: Signed, now: dt.datetime, policy: RolePolicy) -> None:
    signed.version += 1
    signed.expires = expiry(now, policy)
