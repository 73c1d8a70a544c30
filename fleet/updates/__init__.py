"""Signed fleet updates with The Update Framework (python-tuf): the artifact store and the
terminal's verifying client (docs/fleet-updates.md).

- `keys`: Ed25519 keys per role (offline root and targets, online snapshot and timestamp),
  thresholds, rotation and revocation as new root versions.
- `repository`: the TUF repository on disk: init, sign a release (targets), publish it
  (checked on upload, then snapshot and timestamp), re-sign before expiry.
- `build`: a release .tar.gz (VERSION + the slot's contents), byte-for-byte reproducible.
- `server`: metadata and targets over HTTP with Range (the manager side).
- `client`: `ArtifactClient.fetch` over tuf.ngclient with resume; refusals as reason codes
  (docs/contracts/fleet-mqtt.md). The agent imports only this module and `build`.
"""
