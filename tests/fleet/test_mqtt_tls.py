"""Both MQTT clients over TLS with a username and password, on a real Mosquitto: the paho
client of fleet.mqtt publishes, the gmqtt ingest of fleet.mqtt_ingest receives; a wrong
password or an untrusted broker is never ready, and stop() still returns."""

from __future__ import annotations

import datetime as dt
import ipaddress
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.backoff import Backoff
from fleet.mqtt import BrokerAddress, ConnectOptions, IncomingMessage, MqttClient, TlsFiles
from fleet.mqtt_ingest import IngestSubscription
from simulators.stack import services
from simulators.stack.ports import free_port
from tests.harness.stack import supervised

FAST = Backoff(initial_s=0.1, max_s=0.5)


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_ca(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    directory.mkdir(parents=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = _cert(name, ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("127.0.0.1", key, ca_name, ca_key, ca=False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, Path]]:
    """A TLS-only Mosquitto that wants a password: (port, its CA, a CA it does not use)."""
    tmp = tmp_path_factory.mktemp("mqtt-tls")
    ca, cert, key = _write_ca(tmp / "pki", "test broker CA")
    other_ca, _, _ = _write_ca(tmp / "other", "some other CA")
    passwords = tmp / "passwords"
    passwords.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "mgr", "s3cret"], check=True,
                   capture_output=True, timeout=10)
    port = free_port()
    mosquitto = services.mosquitto(tmp / "broker", port)
    conf = tmp / "broker" / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        "allow_anonymous false\n"
        # It reads these after dropping privileges, and pytest's temporary tree is root's only.
        "user root\n"
        f"password_file {passwords}\n"
        "persistence false\nlog_dest stdout\nlog_type error\nlog_type warning\n"
    )
    with supervised(tmp / "logs") as sup:
        sup.start(mosquitto.spec)
        yield port, ca, other_ca


def test_publish_over_paho_and_receive_over_gmqtt_with_tls_and_a_password(
    broker: tuple[int, Path, Path],
) -> None:
    port, ca, _ = broker
    address = BrokerAddress.parse(f"mqtts://mgr:s3cret@127.0.0.1:{port}")
    inbox: queue.Queue[IncomingMessage] = queue.Queue()
    ingest = IngestSubscription(address, ConnectOptions("tls-ingest", tls=TlsFiles(ca_file=ca),
                                                        backoff=FAST, manual_ack=True),
                                "tls/+", inbox.put)
    out = MqttClient(address, ConnectOptions("tls-out", tls=TlsFiles(ca_file=ca), backoff=FAST))
    ingest.start()
    out.start()
    try:
        assert ingest.wait_ready(10) and out.wait_ready(10)
        out.publish("tls/a", b"over TLS").wait(5)
        message = inbox.get(timeout=5)
        assert (message.topic, message.payload) == ("tls/a", b"over TLS")
        message.ack()
    finally:
        ingest.stop()
        out.stop()


@pytest.mark.parametrize("case", ["wrong password", "untrusted broker"])
def test_a_refusal_is_never_ready_and_stop_returns(broker: tuple[int, Path, Path],
                                                   case: str) -> None:
    port, ca, other_ca = broker
    password, trusted = ("wrong", ca) if case == "wrong password" else ("s3cret", other_ca)
    address = BrokerAddress.parse(f"mqtts://mgr:{password}@127.0.0.1:{port}")
    ingest = IngestSubscription(address, ConnectOptions("tls-refused", backoff=FAST,
                                                        tls=TlsFiles(ca_file=trusted),
                                                        connect_timeout_s=2),
                                "tls/+", lambda _m: None)
    ingest.start()
    try:
        assert not ingest.wait_ready(1.5)
        assert ingest.connections == 0
    finally:
        ingest.stop(timeout=5)
    assert not [t for t in threading.enumerate() if t.name == "mqtt-ingest-tls-refused"]
