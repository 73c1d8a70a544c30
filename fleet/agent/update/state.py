"""The durable state of the update in progress, and what to do with it after a restart.

One file, `<state_dir>/update/update.json`, replaced atomically (common.files) *before* each
phase starts: whatever a power cut or a kill -9 interrupts, the next start finds the phase it
was in and `resume_action` says how to go on. Every phase can be redone from its start:

| phase (kept) | on resume | why |
|---|---|---|
| download, verify | download again | the artifact client resumes a partial file |
| install | install again | the slot (never current) is wiped first; no marker, no switch |
| wait-lock | wait again | the installed slot stays as it is |
| switch | switch again, then the health gate | the link points at one slot or the other |
| commit | health gate till the deadline (once if past) | healthy: commit, else roll back |
| rollback | roll back again | switching back to the old slot is idempotent |
| committed, rolled-back, refused | report the outcome again | its end may not have been saved |

A phase resumed `max_attempts` times gives up: before the switch the update is refused
(nothing changed on the terminal), after it the terminal rolls back. That ends a loop in which
the update itself kills the agent (a crash, the OOM killer) at the same point every time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from common.files import write_atomically

log = logging.getLogger(__name__)


class Phase(StrEnum):
    DOWNLOAD = "download"
    VERIFY = "verify"
    INSTALL = "install"
    WAIT_LOCK = "wait-lock"
    SWITCH = "switch"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    # final
    COMMITTED = "committed"
    ROLLED_BACK = "rolled-back"
    REFUSED = "refused"

    @property
    def final(self) -> bool:
        return self in (Phase.COMMITTED, Phase.ROLLED_BACK, Phase.REFUSED)

    @property
    def switched(self) -> bool:
        """From here on `current` may point at the new slot."""
        return self in (Phase.SWITCH, Phase.COMMIT, Phase.ROLLBACK)


class Kind(StrEnum):
    UPDATE = "update"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Artifact:
    """The verified artifact, as the client vouched for it (re-checked offline before install)."""

    path: str
    sha256: str
    length: int


@dataclass(frozen=True)
class UpdateState:
    job_id: str
    kind: Kind
    phase: Phase
    version: str  # the version being installed (update) or gone back to (rollback)
    target: str = ""
    from_version: str | None = None  # what ran when the job began
    from_slot: str | None = None
    to_slot: str | None = None
    deadline: float | None = None  # Unix time by which the new release must be healthy
    attempt: int = 0  # how often this phase was resumed after a restart
    restarted: bool = False  # the restart hook was started in this phase
    artifact: Artifact | None = None
    # What answered before the switch: the health gate asks the same of the new release.
    baseline: dict[str, Any] = field(default_factory=dict)
    force: bool = False
    rollout_id: str | None = None
    reason: str = ""  # final: the reason code of a refusal or rollback
    detail: str = ""
    running_version: str | None = None  # final: what runs now

    def at(self, phase: Phase, **changes: Any) -> UpdateState:
        """This state in `phase` (a new phase starts with no attempts and no restart yet)."""
        return replace(self, **{"phase": phase, "attempt": 0, "restarted": False, **changes})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> UpdateState:
        artifact = raw.get("artifact")
        return cls(**{
            **raw,
            "kind": Kind(raw["kind"]),
            "phase": Phase(raw["phase"]),
            "artifact": Artifact(**artifact) if isinstance(artifact, dict) else None,
        })


class UpdateStateStore:
    """Unlike the agent's other files, a failed write raises: no phase starts unrecorded."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "update.json"

    def load(self) -> UpdateState | None:
        try:
            return UpdateState.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError):
            # Written atomically, so only an edit or a disk fault gets here; the slots say what
            # runs (`current` never points at a half-written slot), so starting afresh is safe.
            log.error("unreadable %s; the update it described is forgotten", self.path)
            return None

    def save(self, state: UpdateState) -> None:
        write_atomically(self.path, json.dumps(state.to_json(), ensure_ascii=False))


class Action(StrEnum):
    DOWNLOAD = "download"
    INSTALL = "install"
    WAIT_LOCK = "wait-lock"
    SWITCH = "switch"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    GIVE_UP = "give-up"  # refuse (before the switch), nothing changed
    REPORT = "report"  # final already: say so again


MAX_ATTEMPTS = 3

_RESUME = {
    Phase.DOWNLOAD: Action.DOWNLOAD,
    Phase.VERIFY: Action.DOWNLOAD,
    Phase.INSTALL: Action.INSTALL,
    Phase.WAIT_LOCK: Action.WAIT_LOCK,
    Phase.SWITCH: Action.SWITCH,
    Phase.COMMIT: Action.COMMIT,
    Phase.ROLLBACK: Action.ROLLBACK,
}


def resume_action(state: UpdateState, current_slot: str | None,
                  max_attempts: int = MAX_ATTEMPTS) -> Action:
    """What to do with `state` found at start-up (pure: the decision table above)."""
    if state.phase.final:
        return Action.REPORT
    if state.kind is Kind.ROLLBACK:  # going back to a known release: always finish it
        return Action.SWITCH if state.phase.switched else Action.WAIT_LOCK
    if state.phase is Phase.ROLLBACK:
        return Action.ROLLBACK
    switched = state.phase.switched or (
        state.to_slot is not None and current_slot == state.to_slot)
    if state.attempt >= max_attempts:
        return Action.ROLLBACK if switched else Action.GIVE_UP
    if switched and not state.phase.switched:  # the link moved, whatever the file says
        return Action.SWITCH
    return _RESUME[state.phase]


#: Reason codes of docs/contracts/fleet-mqtt.md, "Updates", that a download may end in.
REFUSALS = frozenset({"tampered", "unsigned", "unknown-key", "rollback", "freeze",
                      "mix-and-match", "not-found", "download-failed"})
DOWNLOAD_TRIES = 3
#: The job's progress when each phase starts.
PROGRESS = {Phase.DOWNLOAD: 0.05, Phase.VERIFY: 0.3, Phase.INSTALL: 0.4, Phase.WAIT_LOCK: 0.6,
            Phase.SWITCH: 0.7, Phase.COMMIT: 0.8, Phase.ROLLBACK: 0.9}


@dataclass(frozen=True)
class JobEnd:
    """How the job ended: `error` empty on success, "<reason>: <words>" on failure."""

    error: str
    output: dict[str, Any]


def outcome(state: UpdateState) -> JobEnd:
    """The job's end as the contract reports it, from its final state."""
    if state.phase is Phase.COMMITTED:
        out: dict[str, Any] = {"phase": "committed", "version": state.version}
        return JobEnd("", {**out, "reason": state.reason} if state.reason else out)
    if state.kind is Kind.ROLLBACK and state.phase is Phase.ROLLED_BACK:
        return JobEnd("", {"phase": "rolled-back", "version": state.running_version})
    output = {"phase": state.phase.value, "reason": state.reason,
              "running_version": state.running_version}
    return JobEnd(f"{state.reason}: {state.detail}"[:512], output)
