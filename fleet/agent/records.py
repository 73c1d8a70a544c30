"""Plain records the agent core hands to its shell to keep (answered commands, jobs).

Frozen data with a JSON form: the core decides what to keep, the shell (`fleet.agent.state`)
writes it down.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from fleet.protocol.messages import JobState


@dataclass(frozen=True)
class AnsweredCommand:
    status: str
    output: dict[str, Any]
    keep_until: float  # Unix time; after it the record may be forgotten

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "output": self.output, "keep_until": self.keep_until}

    @classmethod
    def from_json(cls, raw: Any) -> AnsweredCommand:
        return cls(str(raw["status"]), dict(raw["output"]), float(raw["keep_until"]))


@dataclass(frozen=True)
class JobRecord:
    """One job as the agent knows it; `update` rises with every change (the wire's `update`)."""

    job_id: str
    name: str
    args: dict[str, Any]
    state: JobState
    update: int = 0
    progress: float = 0.0
    # Seconds of work done so far, kept across restarts (time while the agent is down does not
    # count: a job resumes where it stopped).
    done_s: float = 0.0
    output: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    changed_at: float = 0.0  # Unix time of the last change

    def advanced(self, now: float, **changes: Any) -> JobRecord:
        return replace(self, update=self.update + 1, changed_at=now, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "name": self.name, "args": self.args,
            "state": self.state.value, "update": self.update, "progress": self.progress,
            "done_s": self.done_s, "output": self.output, "error": self.error,
            "changed_at": self.changed_at,
        }

    @classmethod
    def from_json(cls, raw: Any) -> JobRecord:
        return cls(
            job_id=str(raw["job_id"]), name=str(raw["name"]), args=dict(raw["args"]),
            state=JobState(raw["state"]), update=int(raw["update"]),
            progress=float(raw["progress"]), done_s=float(raw["done_s"]),
            output=dict(raw["output"]), error=str(raw["error"]),
            changed_at=float(raw["changed_at"]),
        )
