"""N virtual terminals against a real MQTT broker, each with its own connection.

One connection per terminal, not a few multiplexed ones: presence rests on the broker's Will,
which belongs to a connection, and a broker's ACL keys on the client id. So a killed terminal
is a socket closed without DISCONNECT and the broker itself publishes its Will, exactly as for
a real agent. To hold thousands of connections in one process, terminals are spread over a few
loop threads, each driving its paho clients through paho's external-loop API (one selector
over many sockets) instead of paho's thread per client; the fleet notes measured ~16 KB per
paho connection, and Mosquitto ~3 KB.

Each terminal is touched only by its own loop thread (callbacks, ticks and the operations that
`kill`/`restart`/`stop` queue), so its `AgentCore` needs no lock. Update and rollback jobs run
on a small worker pool (`simulators.fleet.updates.JobWorkers`); their reports are queued back to
the terminal's loop thread, which hands them to the core.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.subscribeoptions import SubscribeOptions

from common.clock import Deadline, utc_now
from fleet.agent.core import JobRecord, Publish
from fleet.protocol import Channel, device_topic
from simulators.fleet.memory_fleet import device_ids
from simulators.fleet.terminal import MODELS, VirtualTerminal
from simulators.fleet.updates import (
    Downloads,
    JobWorkers,
    ReleaseHealth,
    SimulatedRunner,
    UpdateConfig,
)

log = logging.getLogger(__name__)

TICK_S = 0.2  # how often due health and jobs are looked at
MISC_S = 1.0  # paho keepalive bookkeeping


#: Descriptors a fleet needs besides one socket per terminal (logs, HTTP pool, selectors).
FD_MARGIN = 256


def raise_fd_limit(needed: int = 0) -> int:
    """Lift this process's open-file limit to its hard limit (one socket per terminal); a
    broker started from this process afterwards inherits it. Raises OSError when even the hard
    limit is below `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if needed > limit:
        raise OSError(f"{needed} open files needed, the hard limit is {limit} "
                      "(raise it: ulimit -Hn, or LimitNOFILE= in a unit)")
    return limit


@dataclass
class _Slot:
    terminal: VirtualTerminal
    client: paho.Client | None = None
    online: bool = False
    closing: bool = False


class _Loop(threading.Thread):
    def __init__(self, fleet: BrokerFleet, index: int) -> None:
        super().__init__(name=f"sim-fleet-{index}", daemon=True)
        self.fleet = fleet
        self.slots: dict[str, _Slot] = {}
        self.ops: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        # Operations waiting for a condition (e.g. "after the new birth"); True when done.
        self.deferred: list[Callable[[], bool]] = []
        self.sel = selectors.DefaultSelector()
        self.stopping = threading.Event()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        next_tick = next_misc = time.monotonic()
        while not self.stopping.is_set():
            while True:
                try:
                    self.ops.get_nowait()()
                except queue.Empty:
                    break
            for key, _ in self.sel.select(timeout=0.02) if self.sel.get_map() else ():
                self._client_op(key.data, "loop_read")
            for device_id, slot in list(self.slots.items()):
                if slot.client is not None and slot.client.want_write():
                    self._client_op(device_id, "loop_write")
            now = time.monotonic()
            if now >= next_misc:
                next_misc = now + MISC_S
                for device_id in list(self.slots):
                    self._client_op(device_id, "loop_misc")
            if now >= next_tick:
                next_tick = now + TICK_S
                self._tick()
            if not self.sel.get_map():
                self.stopping.wait(0.02)  # nothing connected: do not spin

    def _client_op(self, device_id: str, op: str) -> None:
        slot = self.slots.get(device_id)
        if slot is None or slot.client is None:
            return
        rc = getattr(slot.client, op)()
        if rc not in (paho.MQTT_ERR_SUCCESS, None) and slot.client is not None:
            self._lost(device_id)

    def _tick(self) -> None:
        self.deferred = [op for op in self.deferred if not op()]
        now = utc_now()
        for device_id, slot in self.slots.items():
            if slot.online:
                t = slot.terminal
                self._send(device_id, [*t.health_due(now), *t.jobs_due(now)])

    # -- connections ---------------------------------------------------------------------------

    def run_job(self, t: VirtualTerminal, job: JobRecord) -> None:
        """A `RunJob` of the core (on this thread): the job goes to the worker pool."""
        d = t.device_id

        def post(work: Callable[[], list[Publish]]) -> None:
            self.ops.put(lambda: self._send(d, work()))

        self.fleet.workers.submit(t, job, post, lambda: self.fleet.restart([d]))

    def flap(self, device_id: str, down_s: float) -> None:
        """The link drops (no DISCONNECT: the broker publishes the Will) and comes back after
        `down_s`; the agent process lives on (same core, a new session)."""
        self.kill(device_id)
        back_at = time.monotonic() + down_s

        def again() -> bool:
            if self.fleet.stopped.is_set():
                return True  # shutting down: the link stays down
            if time.monotonic() < back_at:
                return False
            if self.slots[device_id].client is None:
                self.connect(device_id)
            return True

        self.deferred.append(again)

    def connect(self, device_id: str) -> None:
        slot = self.slots[device_id]
        t = slot.terminal
        will = t.connecting(utc_now())
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=device_id,
                             protocol=paho.MQTTv5, reconnect_on_failure=False)
        client.will_set(will.topic, will.payload, qos=1)
        client.on_connect = lambda _c, _u, _f, rc, _p: self._on_connect(device_id, rc)
        client.on_subscribe = lambda *_a: self._on_subscribed(device_id)
        client.on_message = lambda _c, _u, m: self._on_message(device_id, m)
        client.on_disconnect = lambda *_a: self._on_disconnect(device_id)
        client.on_socket_open = lambda _c, _u, sock: self.sel.register(
            sock, selectors.EVENT_READ, device_id)
        client.on_socket_close = lambda _c, _u, sock: self._unregister(sock)
        slot.client, slot.online, slot.closing = client, False, False
        try:
            client.connect(self.fleet.host, self.fleet.port, keepalive=60, clean_start=True)
        except OSError as exc:
            log.warning("%s cannot connect: %s", device_id, exc)
            slot.client = None
            self.fleet.note("connect_errors")

    def _unregister(self, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(sock)

    def _on_connect(self, device_id: str, rc: Any) -> None:
        slot = self.slots[device_id]
        if rc.is_failure or slot.client is None:
            self.fleet.note("refused")
            return
        slot.client.subscribe([(device_topic(device_id, Channel.COMMAND),
                                SubscribeOptions(qos=1))])

    def _on_subscribed(self, device_id: str) -> None:
        slot = self.slots[device_id]
        slot.online = True
        now = utc_now()
        self._send(device_id, [*slot.terminal.connected(now), *slot.terminal.health_due(now)])
        self.fleet.note("online", +1)

    def _on_message(self, device_id: str, message: paho.MQTTMessage) -> None:
        self.fleet.note("commands")
        self._send(device_id, self.slots[device_id].terminal.command(message.payload, utc_now()))

    def _on_disconnect(self, device_id: str) -> None:
        self._lost(device_id)

    def _lost(self, device_id: str) -> None:
        slot = self.slots.get(device_id)
        if slot is None:
            return
        if slot.online:
            self.fleet.note("online", -1)
        slot.online = False
        slot.terminal.disconnected()
        if slot.client is not None:
            sock = slot.client.socket()
            if sock is not None:
                self._unregister(sock)
        slot.client = None

    def _send(self, device_id: str, effects: Iterable[Any]) -> None:
        client = self.slots[device_id].client
        for e in effects:
            if client is not None:
                client.publish(e.topic, e.payload, qos=1)
                self.fleet.note("published")

    # -- operations queued by the fleet --------------------------------------------------------

    def kill(self, device_id: str) -> None:
        """Close the socket without DISCONNECT: the broker publishes the Will."""
        slot = self.slots[device_id]
        client = slot.client
        if client is None:
            return
        sock = client.socket()
        self._lost(device_id)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def stop_terminal(self, device_id: str) -> None:
        """A clean shutdown: death, then DISCONNECT (flushed by the loop)."""
        slot = self.slots[device_id]
        if slot.client is None:
            return
        self._send(device_id, slot.terminal.stopping(utc_now()))
        slot.closing = True
        slot.client.disconnect()


class BrokerFleet:
    def __init__(self, host: str, port: int, count: int, *, loops: int = 4,
                 prefix: str = "SIM", health_interval_s: float = 30, seed: int = 0,
                 app_version: str = "2.3.4", models: Sequence[str] = MODELS,
                 updates: UpdateConfig | None = None,
                 release_health: ReleaseHealth | None = None) -> None:
        self.host, self.port = host, port
        models = list(models) or list(MODELS)
        self.terminals = {
            d: VirtualTerminal(d, health_interval_s=health_interval_s, seed=seed,
                               app_version=app_version, model=models[i % len(models)])
            for i, d in enumerate(device_ids(count, prefix))
        }
        self._loops = [_Loop(self, i) for i in range(max(1, loops))]
        self._home: dict[str, _Loop] = {}
        for i, (device_id, t) in enumerate(self.terminals.items()):
            loop = self._loops[i % len(self._loops)]
            loop.slots[device_id] = _Slot(t)
            self._home[device_id] = loop
            t.on_run = loop.run_job
        self._cond = threading.Condition()
        self.stopped = threading.Event()
        self.counters: dict[str, int] = {"online": 0, "published": 0, "commands": 0,
                                         "refused": 0, "connect_errors": 0}
        config = updates or UpdateConfig()
        self.workers = JobWorkers(SimulatedRunner(config, Downloads(config, self.note),
                                                  release_health, note=self.note),
                                  note=self.note)

    def note(self, counter: str, delta: int = 1) -> None:
        with self._cond:
            self.counters[counter] = self.counters.get(counter, 0) + delta
            self._cond.notify_all()

    def wait(self, predicate: Callable[[dict[str, int]], bool], timeout: float) -> bool:
        deadline = Deadline(timeout)
        with self._cond:
            while not predicate(self.counters):
                if deadline.expired:
                    return False
                self._cond.wait(deadline.remaining())
            return True

    def _on_home(self, device_id: str, op: Callable[[], None]) -> None:
        self._home[device_id].ops.put(op)

    def start(self) -> None:
        raise_fd_limit(len(self.terminals) + FD_MARGIN)
        for loop in self._loops:
            loop.start()
        for device_id in self.terminals:
            loop = self._home[device_id]
            self._on_home(device_id, lambda d=device_id, lp=loop: lp.connect(d))

    def kill(self, ids: Iterable[str]) -> None:
        for d in ids:
            self._on_home(d, lambda d=d: self._home[d].kill(d))

    def restart(self, ids: Iterable[str]) -> None:
        """kill -9 of the agent, then a new agent process on the same disk."""
        for d in ids:
            loop = self._home[d]

            def again(d: str = d, lp: _Loop = loop) -> None:
                lp.kill(d)
                self.terminals[d].restart()
                lp.connect(d)

            self._on_home(d, again)

    def flap(self, ids: Iterable[str], down_s: float = 1.0) -> None:
        """Each link drops and is made again after `down_s` (see `_Loop.flap`)."""
        for d in ids:
            self._on_home(d, lambda d=d: self._home[d].flap(d, down_s))

    def set_fault(self, ids: Iterable[str], fault: str, on: bool = True) -> None:
        """A peripheral fault (`terminal.FAULTS`) starts (or ends); health says so at once."""
        def apply(t: VirtualTerminal) -> None:
            (t.faults.add if on else t.faults.discard)(fault)
            t.next_health_at = 0.0

        for d in ids:
            self._on_home(d, lambda t=self.terminals[d]: apply(t))

    def inject(self, device_id: str, messages: Iterable[tuple[str, bytes]]) -> None:
        """Publish raw messages on a terminal's own connection (misbehaviours), as soon as it
        is online (after a queued restart: after its new birth)."""
        batch = list(messages)
        loop = self._home[device_id]

        def send(d: str = device_id) -> bool:
            slot = loop.slots[d]
            if not slot.online or slot.client is None:
                return False
            for topic, payload in batch:
                slot.client.publish(topic, payload, qos=1)
            return True

        self._on_home(device_id, lambda: loop.deferred.append(send))

    def stop(self, timeout: float = 5.0) -> None:
        """Clean shutdowns of every terminal (deaths), then the loops end; running jobs stop
        at their next wait (resumed by the next run on the same disk)."""
        self.stopped.set()
        for t in self.terminals.values():
            t.job_stop.set()
        self.workers.close()
        for d in self.terminals:
            self._on_home(d, lambda d=d: self._home[d].stop_terminal(d))
        self.wait(lambda c: c["online"] <= 0, timeout)
        for loop in self._loops:
            loop.stopping.set()
        for loop in self._loops:
            loop.join(timeout)
