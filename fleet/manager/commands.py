"""Issuing commands: stored first (with the client's Idempotency-Key), then published with a
time-to-live; re-sent after the device's next birth until answered or expired."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from common.clock import Deadline, utc_now
from common.problem import Problem
from fleet.manager.models import CommandRecord, CommandState
from fleet.manager.registry import Registry
from fleet.mqtt import MqttClient, MqttError
from fleet.protocol import (
    KNOWN_COMMANDS,
    Channel,
    Command,
    device_topic,
    encode,
    new_command_id,
)

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0
MAX_ARGS_BYTES = 16 * 1024
#: Asks an agent to publish its birth again (the Sparkplug "rebirth"): sent when health arrives
#: from a session with no birth here. Agents that do not know it answer `unknown-command`.
REBIRTH = "rebirth"
REBIRTH_TTL_S = 60


def request_fingerprint(name: str, args: dict[str, Any], ttl_s: int) -> str:
    canonical = json.dumps({"name": name, "args": args, "ttl_s": ttl_s}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class CommandService:
    def __init__(self, registry: Registry, mqtt: MqttClient, *, default_ttl_s: int) -> None:
        self._registry = registry
        self._mqtt = mqtt
        self.default_ttl_s = default_ttl_s
        # Re-sending after births happens off the ingest thread (it waits for PUBACKs).
        self._redelivery = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-redeliver")

    def stop(self) -> None:
        self._redelivery.shutdown(wait=True, cancel_futures=True)

    def issue(
        self,
        device_id: str,
        name: str,
        args: dict[str, Any],
        ttl_s: int | None,
        idempotency_key: str,
    ) -> tuple[CommandRecord, bool]:
        """Store and send a command; returns it and whether this was a replay of the key."""
        if name not in KNOWN_COMMANDS:
            raise Problem(422, "unknown-command", "Agents do not know this command",
                          detail=f"known commands: {', '.join(sorted(KNOWN_COMMANDS))}")
        if len(json.dumps(args, ensure_ascii=False).encode()) > MAX_ARGS_BYTES:
            raise Problem(422, "args-too-large", "Command arguments are too large",
                          detail=f"at most {MAX_ARGS_BYTES} bytes of JSON")
        ttl = ttl_s if ttl_s is not None else self.default_ttl_s
        fingerprint = request_fingerprint(name, args, ttl)
        existing = self._registry.find_command(device_id, idempotency_key)
        if existing is not None:
            return self._replay(existing, fingerprint), True
        if self._registry.get_device(device_id) is None:
            raise Problem(404, "device-not-found", "No such device")
        now = utc_now()
        record = CommandRecord(
            id=new_command_id(),
            device_id=device_id,
            name=name,
            args=args,
            status=CommandState.PENDING.value,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        try:
            self._registry.insert_command(record)
        except IntegrityError:
            # The same key raced in through another request or manager process.
            existing = self._registry.find_command(device_id, idempotency_key)
            if existing is None:
                raise
            return self._replay(existing, fingerprint), True
        log.info("command %s (%s) for %s, ttl %ds", record.id, name, device_id, ttl)
        self._send(record)
        return self._registry.get_command(record.id) or record, False

    def _replay(self, existing: CommandRecord, fingerprint: str) -> CommandRecord:
        if existing.request_hash != fingerprint:
            raise Problem(422, "idempotency-key-reused",
                          "This Idempotency-Key was used for a different command")
        if existing.status == CommandState.PENDING.value and existing.expires_at > utc_now():
            self._send(existing)  # the first attempt never reached the broker: try again
        return self._registry.get_command(existing.id) or existing

    def _send(self, record: CommandRecord) -> bool:
        now = utc_now()
        remaining = (record.expires_at - now).total_seconds()
        if remaining <= 0:
            return False
        message = Command(
            device_id=record.device_id,
            id=record.id,
            name=record.name,
            args=record.args,
            expires_at=record.expires_at,
        )
        try:
            self._mqtt.publish(
                device_topic(record.device_id, Channel.COMMAND),
                encode(message),
                qos=1,
                # The broker drops it for a terminal that stays away past the deadline.
                message_expiry_s=math.ceil(remaining),
            ).wait(PUBLISH_TIMEOUT_S)
        except MqttError as exc:
            log.warning("command %s not sent yet (%s); it goes out after the device's next birth",
                        record.id, exc)
            return False
        self._registry.mark_sent(record.id, utc_now())
        return True

    def publish_stored(self, records: Sequence[CommandRecord]) -> int:
        """Publish commands already stored (rollouts insert theirs in the transaction of their
        decision): all at once, then wait for the broker, then mark them sent in one
        transaction. Expired ones never go out. Returns how many the broker took."""
        now = utc_now()
        handles = []
        for record in records:
            remaining = (record.expires_at - now).total_seconds()
            if remaining <= 0:
                continue
            message = Command(device_id=record.device_id, id=record.id, name=record.name,
                              args=record.args, expires_at=record.expires_at)
            try:
                handle = self._mqtt.publish(device_topic(record.device_id, Channel.COMMAND),
                                            encode(message), qos=1,
                                            message_expiry_s=math.ceil(remaining))
            except MqttError as exc:
                log.warning("%d commands not sent yet (%s)", len(records) - len(handles), exc)
                break
            handles.append((record.id, handle))
        sent: list[str] = []
        deadline = Deadline(PUBLISH_TIMEOUT_S)
        for command_id, handle in handles:
            try:
                handle.wait(max(0.1, deadline.remaining()))
            except MqttError:
                continue  # stays pending: published again later
            sent.append(command_id)
        if sent:
            self._registry.mark_sent_many(sent, utc_now())
        return len(sent)

    def redeliver(self, device_ids: Sequence[str]) -> None:
        """After accepted births: re-send what those devices have not answered (agents answer a
        command they already ran from their record)."""
        with contextlib.suppress(RuntimeError):  # raised only while shutting down
            self._redelivery.submit(self._redeliver, list(device_ids))

    def request_rebirth(self, sessions: Iterable[tuple[str, int]]) -> None:
        """Health came from these (device, session_seq) with no birth here: ask each device once
        per session (the idempotency key is the session, so several managers ask once too)."""
        with contextlib.suppress(RuntimeError):  # raised only while shutting down
            self._redelivery.submit(self._request_rebirth, dict(sessions))

    def _request_rebirth(self, sessions: dict[str, int]) -> None:
        for device_id, session_seq in sorted(sessions.items()):
            key = f"{REBIRTH}-{session_seq}"
            try:
                if self._registry.find_command(device_id, key) is not None:
                    continue
                now = utc_now()
                record = CommandRecord(
                    id=new_command_id(), device_id=device_id, name=REBIRTH, args={},
                    status=CommandState.PENDING.value, idempotency_key=key,
                    request_hash=request_fingerprint(REBIRTH, {}, REBIRTH_TTL_S),
                    issued_at=now, expires_at=now + timedelta(seconds=REBIRTH_TTL_S),
                )
                self._registry.insert_command(record)
            except IntegrityError:
                continue  # another manager asked already
            except Exception:
                log.exception("could not ask %s for its birth", device_id)
                continue
            log.info("health of %s from session_seq %d, which has no birth here: asking for it",
                     device_id, session_seq)
            self._send(record)

    def _redeliver(self, device_ids: list[str]) -> None:
        try:
            for record in self._registry.deliverable_commands(device_ids, utc_now()):
                log.info("re-sending command %s to %s", record.id, record.device_id)
                self._send(record)
        except Exception:
            log.exception("re-sending commands failed")
