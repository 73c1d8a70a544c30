"""The kiosk's edge credential: when it renews, what it keeps on disk, what it accepts from the
edge, and what /status learns. Against the in-process fake edge (real HTTP on loopback) with an
injected clock; test_credentials_processes.py does it against a real `kioskctl edge`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.backoff import Backoff
from common.clock import iso_utc, utc_now
from common.device_token import InvalidToken, device_token, legacy_device_token, read_token
from kiosk.edge.client import EdgeClient
from kiosk.edge.credentials import (
    STATE_FILE_NAME,
    CredentialState,
    DeviceCredentials,
    TokenFile,
    TokenRenewer,
    choose_token,
    held,
    load_credentials,
    renew_at,
)
from kiosk.edge.errors import EdgeProblem
from kiosk.edge.keys import new_idempotency_key
from kiosk.flow.identify.card import card_credential
from kiosk.settings import KioskSettings
from simulators.stack import services
from simulators.stack.ports import free_port
from simulators.stack.requirements import MissingSystemPackage, require
from simulators.stack.supervisor import ProcessFailed
from tests.harness.stack import fail_on_missing, supervised
from tests.harness.waiting import wait_for
from tests.kiosk.edge.fake_edge import Answer, FakeEdge, problem
from tests.kiosk.fakes import sample_card

SECRET = "hall-secret-for-tests"
DEVICE = "kiosk-001"
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
DAYS_90 = dt.timedelta(days=90)
EXACT = Backoff(initial_s=0.01, max_s=0.05, jitter=0)


def token_until(expires_at: dt.datetime, device_id: str = DEVICE) -> str:
    return device_token(SECRET, device_id, expires_at)


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def issued(token: str, **changes: Any) -> Answer:
    expires_at = read_token(token).expires_at
    assert expires_at is not None
    body = {"device_id": read_token(token).device_id, "token": token,
            "expires_at": iso_utc(expires_at), **changes}
    return Answer(200, body)


@dataclass
class Kiosk:
    """The kiosk's credential parts, wired as kiosk.runtime wires them."""

    edge: FakeEdge
    clock: Clock
    configured: str
    credentials: DeviceCredentials
    client: EdgeClient
    store: TokenFile
    renewer: TokenRenewer
    keys: list[str]

    def authorization(self, n: int = -1) -> str:
        return self.edge.seen[n].headers["Authorization"]


@pytest.fixture
def kiosk(edge: FakeEdge, tmp_path: Path) -> Iterator[Kiosk]:
    clock = Clock()
    # Provisioned for a day: less than a third of the assumed 90 days, so renewal is due now.
    configured = token_until(NOW + dt.timedelta(days=1))
    credentials, store = load_credentials(DEVICE, configured, tmp_path / "state",
                                          assumed_lifetime=DAYS_90, clock=clock)
    assert store is not None
    client = EdgeClient(edge.url, DEVICE, configured, deadline_s=2.0,
                        on_credential_refused=credentials.refused)
    keys: list[str] = []

    def new_key() -> str:
        keys.append(f"key-{len(keys)}")
        return keys[-1]

    renewer = TokenRenewer(client, credentials, store, clock=clock, backoff=EXACT,
                           new_key=new_key)
    yield Kiosk(edge, clock, configured, credentials, client, store, renewer, keys)
    renewer.stop()
    client.close()


# What a token says, and when to renew it --------------------------------------------------

def test_the_token_is_read_by_the_one_parser_without_a_secret() -> None:
    token = token_until(NOW + DAYS_90)
    got = held(token)
    assert (got.device_id, got.expires_at, got.issued_at) == (DEVICE, NOW + DAYS_90, None)
    assert token not in repr(got)
    assert held(legacy_device_token(SECRET, DEVICE)).expires_at is None
    for bad in ("", "dev2.kiosk-001.abc.mac", "dev3.kiosk-001.1.mac", "dev2.bad id.17.mac"):
        with pytest.raises(InvalidToken):
            held(bad)


def test_renewal_is_due_when_a_third_of_the_lifetime_is_left() -> None:
    received = held(token_until(NOW + dt.timedelta(days=30)), issued_at=NOW)
    assert renew_at(received, DAYS_90) == NOW + dt.timedelta(days=20)
    provisioned = held(token_until(NOW + DAYS_90))  # issue time unknown: the assumed lifetime
    assert renew_at(provisioned, DAYS_90) == NOW + dt.timedelta(days=60)
    assert renew_at(held(legacy_device_token(SECRET, DEVICE)), DAYS_90) is None


def test_the_state_follows_the_clock() -> None:
    clock = Clock()
    credentials = DeviceCredentials(held(token_until(NOW + DAYS_90)), clock=clock,
                                    assumed_lifetime=DAYS_90)
    assert credentials.status().state is CredentialState.VALID
    clock.now = NOW + dt.timedelta(days=61)
    assert credentials.status().state is CredentialState.RENEWING
    clock.now = NOW + DAYS_90
    status = credentials.status()
    assert status.state is CredentialState.EXPIRED and status.out_of_service
    assert status.expires_at == NOW + DAYS_90


# Persistence -----------------------------------------------------------------------------

def test_the_persisted_token_is_owner_only_and_read_back(tmp_path: Path) -> None:
    store = TokenFile(tmp_path / "state")
    token = held(token_until(NOW + DAYS_90), issued_at=NOW)
    store.save(token)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == token


@pytest.mark.parametrize("content", [
    b"", b"not json", b"[]", b'{"token": 5, "issued_at": "2026-11-22T10:00:00Z"}',
    b'{"token": "dev2.x", "issued_at": "2026-11-22T10:00:00Z"}',
    b'{"issued_at": "2026-11-22T10:00:00Z"}',
    b'{"token": "%s", "issued_at": "2026-11-22T10:00:00"}',  # naive time
    b"[" * 100_000, b" " * 5000,
])
def test_a_damaged_token_file_is_ignored(tmp_path: Path, content: bytes) -> None:
    token = token_until(NOW + DAYS_90)
    path = tmp_path / STATE_FILE_NAME
    path.write_bytes(content.replace(b"%s", token.encode()))
    assert TokenFile(tmp_path).load() is None


def test_the_persisted_token_is_used_only_for_the_same_device_and_a_later_expiry() -> None:
    configured = held(token_until(NOW + dt.timedelta(days=10)))
    later = held(token_until(NOW + dt.timedelta(days=50)), issued_at=NOW)
    earlier = held(token_until(NOW + dt.timedelta(days=5)), issued_at=NOW)
    stranger = held(token_until(NOW + DAYS_90, "kiosk-002"), issued_at=NOW)
    assert choose_token(configured, later) is later
    assert choose_token(configured, earlier) is configured  # provisioned again since
    assert choose_token(configured, stranger) is configured
    assert choose_token(configured, None) is configured


def test_at_start_the_persisted_token_goes_to_the_edge(tmp_path: Path) -> None:
    renewed = held(token_until(NOW + dt.timedelta(days=80)), issued_at=NOW)
    TokenFile(tmp_path).save(renewed)
    credentials, _ = load_credentials(DEVICE, token_until(NOW + dt.timedelta(days=1)), tmp_path,
                                      assumed_lifetime=DAYS_90, clock=Clock())
    assert credentials.token == renewed
    assert credentials.status().state is CredentialState.VALID


@pytest.mark.parametrize("configured", ["", "garbage", token_until(NOW + DAYS_90, "kiosk-002")])
def test_a_device_file_without_a_usable_token_is_out_of_service(configured: str) -> None:
    credentials, store = load_credentials(DEVICE, configured, None, assumed_lifetime=DAYS_90)
    assert store is None and credentials.token is None
    status = credentials.status()
    assert status.state is CredentialState.UNREADABLE and status.out_of_service


# Renewal ---------------------------------------------------------------------------------

def test_a_renewal_swaps_the_token_for_every_later_call_and_persists_it(
    kiosk: Kiosk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fresh = token_until(NOW + DAYS_90)
    kiosk.edge.script = [issued(fresh), Answer(204)]

    delay, key, failures = kiosk.renewer.attempt("key-a", 0)

    assert (delay, key, failures) == (0.0, None, 0)  # done: the next series gets a new key
    seen = kiosk.edge.seen[0]
    assert (seen.method, seen.path, seen.body) == ("POST", "/api/v1/device/token", None)
    assert seen.headers["Idempotency-Key"] == "key-a"
    assert seen.headers["Authorization"] == f"Bearer {kiosk.configured}"
    kiosk.client.end_session("ses_1", idempotency_key="k")
    assert kiosk.authorization() == f"Bearer {fresh}"
    saved = json.loads(kiosk.store.path.read_text())
    assert saved["token"] == fresh and saved["device_id"] == DEVICE
    assert stat.S_IMODE(kiosk.store.path.stat().st_mode) == 0o600
    status = kiosk.credentials.status()
    assert status.state is CredentialState.VALID and status.expires_at == NOW + DAYS_90
    assert status.renewed_at == NOW
    # Neither token is ever logged; the expiry is.
    assert fresh not in caplog.text and kiosk.configured not in caplog.text
    assert iso_utc(NOW + DAYS_90) in caplog.text


def test_a_shorter_lived_token_is_taken_the_edge_decides_the_lifetime(kiosk: Kiosk) -> None:
    fresh = token_until(NOW + dt.timedelta(hours=3))  # the device file's lasts a day
    kiosk.edge.script = [issued(fresh)]
    assert kiosk.renewer.attempt("key-a", 0) == (0.0, None, 0)
    assert kiosk.credentials.token is not None and kiosk.credentials.token.token == fresh
    # Its lifetime is known now: renew when an hour is left, not at once again.
    assert renew_at(kiosk.credentials.token, DAYS_90) == NOW + dt.timedelta(hours=2)
    assert kiosk.credentials.status().state is CredentialState.VALID


def test_a_lost_answer_is_asked_again_with_the_same_key(kiosk: Kiosk) -> None:
    fresh = token_until(NOW + DAYS_90)
    kiosk.edge.script = [Answer(0, drop=True), Answer(0, hang=True), issued(fresh)]
    kiosk.client._deadline_s = 0.3  # the hung answer ends at the client's total deadline

    first = kiosk.renewer.attempt("key-a", 0)
    second = kiosk.renewer.attempt("key-a", first[2])
    third = kiosk.renewer.attempt("key-a", second[2])

    assert first == (0.01, "key-a", 1) and second == (0.02, "key-a", 2)
    assert third == (0.0, None, 0)
    assert [s.headers["Idempotency-Key"] for s in kiosk.edge.seen] == ["key-a"] * 3
    assert kiosk.credentials.token is not None and kiosk.credentials.token.token == fresh


def test_too_many_requests_waits_for_retry_after_capped_and_keeps_the_key(kiosk: Kiosk) -> None:
    kiosk.edge.script = [problem(429, "too-many-requests", retry_after=7)]
    assert kiosk.renewer.attempt("key-a", 0) == (0.05, "key-a", 1)  # 7 s capped at max_s
    assert kiosk.credentials.token is not None
    assert kiosk.credentials.token.token == kiosk.configured


def test_a_reused_key_is_replaced(kiosk: Kiosk) -> None:
    kiosk.edge.script = [problem(422, "idempotency-key-reused")]
    assert kiosk.renewer.attempt("key-a", 0) == (0.01, None, 1)


def test_an_expired_token_stops_renewing_and_puts_the_kiosk_out_of_service(
    kiosk: Kiosk
) -> None:
    kiosk.edge.script = [problem(401, "token-expired")]
    kiosk.renewer.run_until_stopped()  # returns by itself: an expired token cannot renew
    assert len(kiosk.edge.seen) == 1
    status = kiosk.credentials.status()
    assert status.state is CredentialState.EXPIRED and status.out_of_service


def test_a_refused_token_is_reported_and_asked_about_rarely(kiosk: Kiosk) -> None:
    kiosk.edge.script = [problem(401, "unauthorized")]
    assert kiosk.renewer.attempt("key-a", 0) == (EXACT.max_s, "key-a", 1)
    status = kiosk.credentials.status()
    assert status.state is CredentialState.REFUSED and status.out_of_service


def test_a_citizen_calls_401_puts_the_kiosk_out_of_service_once(kiosk: Kiosk) -> None:
    kiosk.edge.script = [problem(401, "unauthorized")]
    with pytest.raises(EdgeProblem) as caught:
        kiosk.client.open_session(card_credential(sample_card()), idempotency_key="k")
    assert caught.value.credential_refused and not caught.value.transient
    assert len(kiosk.edge.seen) == 1  # the client never retries
    assert kiosk.credentials.status().state is CredentialState.REFUSED


@pytest.mark.parametrize("answer", [
    issued(token_until(NOW + DAYS_90, "kiosk-002")),  # another device's token
    issued(token_until(NOW + DAYS_90), device_id="kiosk-002"),  # says another device
    issued(token_until(NOW + DAYS_90), expires_at=iso_utc(NOW + DAYS_90 * 2)),  # lies
    issued(token_until(NOW - dt.timedelta(hours=1))),  # already expired
    Answer(200, {"device_id": DEVICE, "token": legacy_device_token(SECRET, DEVICE),
                 "expires_at": iso_utc(NOW + DAYS_90)}),  # no expiry in it
    Answer(200, {"device_id": DEVICE, "token": "dev2.kiosk-001.notdigits.mac",
                 "expires_at": iso_utc(NOW + DAYS_90)}),
    Answer(200, {"device_id": DEVICE, "expires_at": iso_utc(NOW + DAYS_90)}),
    Answer(200, {"device_id": DEVICE, "token": "x" * 300, "expires_at": iso_utc(NOW)}),
])
def test_a_bad_answer_is_never_used(kiosk: Kiosk, answer: Answer) -> None:
    kiosk.edge.script = [answer]
    delay, _key, failures = kiosk.renewer.attempt("key-a", 0)
    assert delay > 0 and failures == 1
    assert kiosk.credentials.token is not None
    assert kiosk.credentials.token.token == kiosk.configured
    assert not kiosk.store.path.exists()
    assert kiosk.credentials.status().state is CredentialState.RENEWING


def test_the_thread_renews_then_sleeps_until_the_next_due_and_stops_promptly(
    kiosk: Kiosk
) -> None:
    fresh = token_until(NOW + DAYS_90)
    kiosk.edge.script = [Answer(0, drop=True), issued(fresh)]
    kiosk.renewer.start()
    wait_for(lambda: kiosk.credentials.status().renewed_at is not None, "the renewal")
    kiosk.renewer.stop()  # asleep until day 60: stop() must not wait for it
    assert kiosk.renewer._thread is not None and not kiosk.renewer._thread.is_alive()
    assert kiosk.keys == ["key-0"]  # one key for the series, the retry included
    assert [s.headers["Idempotency-Key"] for s in kiosk.edge.seen] == ["key-0", "key-0"]



# Through the real edge process ---------------------------------------------------------------

EDGE_TTL_S = 2 * 86400  # the edge's renewals outlive the provisioned token (one day)


@dataclass
class RealHall:
    edge_url: str
    device_file: Path


@pytest.fixture(scope="module")
def real_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHall]:
    """A hall secret and a device file from `kioskctl provision` (a token valid for one day, the
    shortest it issues), and a real `kioskctl edge` that renews for two days."""
    work = tmp_path_factory.mktemp("hall")
    secret_file, device_file = work / "hall.secret", work / "terminal" / "device.toml"
    device_file.parent.mkdir()
    with supervised(work / "logs") as sup:
        run(services.kioskctl("provision", "hall-secret", "--out", str(secret_file)))
        edge = services.edge(
            work / "edge", central_url=f"http://127.0.0.1:{free_port()}",  # not needed here
            hall_secret=secret_file.read_text().strip(),
            extra_env={"EDGE_DEVICE_TOKEN_TTL_S": str(EDGE_TTL_S)})
        sup.start(edge.spec)
        run(services.kioskctl(
            "provision", "device", "--device-id", "T-110105-0007", "--site", "hall-3",
            "--hall-secret-file", str(secret_file), "--edge-url", edge.url,
            "--out", str(device_file), "--token-ttl-days", "1"))
        yield RealHall(edge.url, device_file)


def run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def start_kiosk_side(settings: KioskSettings, new_key: Any = None) -> tuple[
        DeviceCredentials, EdgeClient, TokenRenewer]:
    """As kiosk.runtime wires it, with the real clock."""
    credentials, store = load_credentials(
        settings.device_id, settings.device_token.get_secret_value(),
        settings.resolved_state_dir(),
        assumed_lifetime=dt.timedelta(seconds=settings.device_token_lifetime_s))
    assert credentials.token is not None
    client = EdgeClient(settings.edge_url, settings.device_id, credentials.token.token,
                        deadline_s=10, on_credential_refused=credentials.refused)
    renewer = TokenRenewer(client, credentials, store,
                           backoff=Backoff(initial_s=0.2, max_s=1.0, jitter=0),
                           **({"new_key": new_key} if new_key else {}))
    return credentials, client, renewer


def accepted(client: EdgeClient) -> bool:
    """The edge takes the client's token: an unknown session is 404, not 401."""
    with pytest.raises(EdgeProblem) as caught:
        client.get_session("ses-unknown")
    return caught.value.code == "session-not-found"


def test_the_renewer_renews_through_the_real_edge_and_a_restart_uses_the_new_token(
    real_hall: RealHall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = KioskSettings.load(real_hall.device_file)
    provisioned = settings.device_token.get_secret_value()
    assert settings.resolved_state_dir() == real_hall.device_file.parent
    keys: list[str] = []

    def new_key() -> str:
        keys.append(new_idempotency_key())
        return keys[-1]

    credentials, client, renewer = start_kiosk_side(settings, new_key)
    try:
        # One day left of an assumed 90: due at once.
        assert credentials.status().state is CredentialState.RENEWING
        renewer.start()
        wait_for(lambda: credentials.status().renewed_at is not None, "the renewal")
        renewer.stop()
        renewed = credentials.token
        assert renewed is not None and renewed.token != provisioned
        assert renewed.expires_at is not None
        left = (renewed.expires_at - utc_now()).total_seconds()
        assert EDGE_TTL_S - 120 < left <= EDGE_TTL_S
        assert credentials.status().state is CredentialState.VALID
        assert accepted(client)  # the swapped token, at once
        assert len(keys) == 1
    finally:
        renewer.stop()
        client.close()

    token_file = real_hall.device_file.parent / STATE_FILE_NAME
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert json.loads(token_file.read_text())["token"] == renewed.token
    assert renewed.token not in caplog.text and provisioned not in caplog.text

    # A restart: the persisted token (it outlives the device file's), which the edge accepts.
    credentials, client, renewer = start_kiosk_side(KioskSettings.load(real_hall.device_file))
    try:
        assert credentials.token is not None
        assert (credentials.token.token, credentials.token.expires_at) == (renewed.token,
                                                                            renewed.expires_at)
        assert credentials.status().state is CredentialState.VALID
        assert accepted(client)
    finally:
        client.close()

    # The answer lost on the way: the kiosk asks again with the same key, from the provisioned
    # token, and gets the same token back (the edge replays its stored answer).
    replay = httpx.post(f"{real_hall.edge_url}/api/v1/device/token", timeout=10, headers={
        "Authorization": f"Bearer {provisioned}", "Idempotency-Key": keys[0]})
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["token"] == renewed.token
    token_file.unlink()
    credentials, client, renewer = start_kiosk_side(KioskSettings.load(real_hall.device_file),
                                                    lambda: keys[0])
    try:
        assert credentials.token is not None and credentials.token.token == provisioned
        assert renewer.attempt(keys[0], 0) == (0.0, None, 0)
        assert credentials.token.token == renewed.token
    finally:
        client.close()


def test_the_real_edge_refuses_an_expired_token_and_the_kiosk_goes_out_of_service(
    real_hall: RealHall
) -> None:
    settings = KioskSettings.load(real_hall.device_file)
    expired = device_token("wrong-hall", settings.device_id, utc_now() - dt.timedelta(hours=1))
    credentials = DeviceCredentials(held(expired), assumed_lifetime=DAYS_90)
    client = EdgeClient(real_hall.edge_url, settings.device_id, expired, deadline_s=10,
                        on_credential_refused=credentials.refused)
    try:
        with pytest.raises(EdgeProblem) as caught:
            client.get_session("ses-unknown")
    finally:
        client.close()
    # Another hall's MAC: refused before its expiry is even looked at.
    assert caught.value.code == "unauthorized"
    status = credentials.status()
    assert status.state is CredentialState.REFUSED and status.out_of_service


# The kiosk process itself (`kioskctl kiosk`, offscreen) against the real edge -------------------

@contextmanager
def kiosk_process(work: Path, **kwargs: Any) -> Iterator[httpx.Client]:
    with supervised(work / "logs") as sup:
        try:
            require("cjk-font")
            kiosk = services.kiosk(work / "kiosk", pcscd_env={}, automation=False,
                                   extra_env={"KIOSK_PERIPHERALS__CARD": "absent",
                                              "KIOSK_STATE_DIR": str(work / "state")},
                                   **kwargs)
            sup.start(kiosk.spec)
        except (MissingSystemPackage, ProcessFailed) as exc:
            fail_on_missing(exc)
        with httpx.Client(base_url=kiosk.url, timeout=10) as http:
            yield http


def _credential(http: httpx.Client, state: str) -> dict[str, Any] | None:
    credential = http.get("/status").json()["credential"]
    return credential if credential["state"] == state else None


def test_the_kiosk_process_renews_persists_and_reports_it(
    real_hall: RealHall, tmp_path: Path
) -> None:
    provisioned = KioskSettings.load(real_hall.device_file).device_token.get_secret_value()
    with kiosk_process(tmp_path, config=real_hall.device_file) as http:
        # Provisioned for a day: renewed at start; /status then shows the edge's new expiry.
        credential = wait_for(lambda: _credential(http, "valid"), "a renewed credential")
        assert credential["out_of_service"] is False
        later_than = utc_now() + dt.timedelta(days=1, hours=12)  # the device file's: 1 day
        assert credential["expires_at"] > later_than.timestamp()
    saved = tmp_path / "state" / STATE_FILE_NAME
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    renewed = json.loads(saved.read_text())["token"]
    assert renewed != provisioned and read_token(renewed).expires_at is not None
    for log in (tmp_path / "logs").rglob("*"):
        if log.is_file():
            text = log.read_text(errors="replace")
            assert renewed not in text and provisioned not in text, log


def test_a_kiosk_the_edge_refuses_is_out_of_service_on_status(
    real_hall: RealHall, tmp_path: Path
) -> None:
    forged = device_token("another-hall", "T-110105-0009", utc_now() + dt.timedelta(days=1))
    with kiosk_process(tmp_path, device_id="T-110105-0009", device_token=forged,
                       edge_url=real_hall.edge_url) as http:
        credential = wait_for(lambda: _credential(http, "refused"), "a refused credential")
        assert credential["out_of_service"] is True
    assert not (tmp_path / "state" / STATE_FILE_NAME).exists()
