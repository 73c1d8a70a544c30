"""A virtual terminal driven on the test's thread, its update jobs on the simulator's real worker
pool: what `BrokerFleet`'s loop thread does for one terminal, without a broker."""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from common.clock import utc_now
from fleet.agent.core import Publish
from fleet.protocol import Channel, Command, JobUpdate, decode_for_channel, device_topic, encode
from simulators.fleet.terminal import VirtualTerminal
from simulators.fleet.updates import JobWorkers

TICK_S = 0.05


class OneTerminal:
    """One online terminal: commands in, what it publishes kept in `sent`."""

    def __init__(self, terminal: VirtualTerminal, workers: JobWorkers) -> None:
        self.t = terminal
        self.workers = workers
        self.sent: list[Publish] = []
        self.crashes = 0
        self._ops: queue.SimpleQueue[Callable[[], list[Publish]]] = queue.SimpleQueue()
        terminal.on_run = lambda t, job: workers.submit(t, job, self._ops.put, self._crashed)
        self._online()

    def _online(self) -> None:
        now = utc_now()
        self.t.connecting(now)
        self.sent += self.t.connected(now)

    def _crashed(self) -> None:  # on a worker thread: the restart happens on ours
        def restart() -> list[Publish]:
            self.crashes += 1
            self.t.restart()
            self._online()
            return []

        self._ops.put(restart)

    def command(self, name: str, args: dict[str, Any], command_id: str) -> None:
        command = Command(device_id=self.t.device_id, id=command_id, name=name,
                          expires_at=utc_now() + timedelta(minutes=5), args=args)
        self.sent += self.t.command(encode(command), utc_now())

    def jobs(self, job_id: str) -> list[JobUpdate]:
        topic = device_topic(self.t.device_id, Channel.JOB)
        out = []
        for p in self.sent:
            if p.topic == topic:
                job = decode_for_channel(Channel.JOB, p.payload)
                if isinstance(job, JobUpdate) and job.job_id == job_id:
                    out.append(job)
        return out

    def final(self, job_id: str, timeout: float = 30.0) -> JobUpdate:
        """Drive the terminal (ticks, the workers' reports) until the job ends."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sent += self.t.jobs_due(utc_now())
            with contextlib.suppress(queue.Empty):
                self.sent += self._ops.get(timeout=TICK_S)()
            done = [j for j in self.jobs(job_id) if j.state.final]
            if done:
                return done[-1]
        raise AssertionError(f"job {job_id} did not end: {[j.output for j in self.jobs(job_id)]}")

    def phases(self, job_id: str) -> list[str]:
        return [str(j.output.get("phase")) for j in self.jobs(job_id)
                if j.output.get("phase")]
