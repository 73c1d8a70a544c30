"""The whole stack on simulated hardware, in start order: what `kioskctl demo` runs and what the
end-to-end tests run. Every process is real; only the hardware and the province are simulated."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from simulators.stack import services
from simulators.stack.clients import (
    CameraSimClient,
    CardSimClient,
    CentralSimClient,
    EdgeClient,
    FleetManagerClient,
    IdCardSimClient,
    KioskClient,
    PrinterSimClient,
    QrSimClient,
)
from simulators.stack.ports import free_port
from simulators.stack.supervisor import ManagedProcess, ProcessSpec, Supervisor


@dataclass
class StackOptions:
    workdir: Path
    device_id: str = "T-DEMO-0001"
    site: str = "demo-hall"
    seed: int = 42
    population: int = 5000
    offscreen: bool = True
    automation: bool = True
    screenshots: Path | None = None
    health_interval_s: float = 5.0
    with_fleet: bool = True
    with_kiosk: bool = True
    # The simulated camera and the real face engine: the kiosk offers pension certification.
    with_camera: bool = True
    # The serial e-SSC QR scanner and the resident ID card reader, each on a pty.
    with_qr: bool = True
    with_idcard: bool = True
    # The virtual ESC/POS receipt printer (TCP) and a private cupsd with a cups-pdf A4 queue.
    with_printers: bool = True
    kiosk_env: dict[str, str] = field(default_factory=dict)
    edge_env: dict[str, str] = field(default_factory=dict)


class Stack:
    """Start with `start()`; the Supervisor stops everything in reverse order."""

    def __init__(self, options: StackOptions, supervisor: Supervisor) -> None:
        self.options = options
        self.sup = supervisor
        self.procs: dict[str, ManagedProcess] = {}
        self.device_file = options.workdir / "device" / "device.toml"

    # -- provisioning, through the real CLI ---------------------------------------------------
    def _provision(self, edge_url: str, broker_url: str, central_url: str) -> str:
        secret_file = self.options.workdir / "hall" / "hall-secret"
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        if not secret_file.exists():
            subprocess.run(
                services.kioskctl("provision", "hall-secret", "--out", str(secret_file)),
                check=True, capture_output=True,
            )
        subprocess.run(
            services.kioskctl(
                "provision", "device", "--device-id", self.options.device_id,
                "--site", self.options.site, "--hall-secret-file", str(secret_file),
                "--edge-url", edge_url, "--broker-url", broker_url,
                "--out", str(self.device_file),
                # Its signing key's public half goes to the province, which checks every
                # certification record against it.
                "--register-key-with", central_url,
            ),
            check=True, capture_output=True,
        )
        return secret_file.read_text().strip()

    @staticmethod
    def _control_token(w: Path) -> Path:
        """A terminal's provisioning writes it once, readable by the kiosk and agent users."""
        path = w / "control.token"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32) + "\n")
            path.chmod(0o600)
        return path

    def _run(self, key: str, spec: ProcessSpec) -> ManagedProcess:
        self.procs[key] = self.sup.start(spec)
        return self.procs[key]

    def start(self) -> Stack:
        o, w = self.options, self.options.workdir
        # Its records (submissions, card status) in the run's folder: kept after the run.
        self.central = services.central_sim(seed=o.seed, population=o.population,
                                            data_dir=w / "central")
        self.broker = services.mosquitto(w / "mosquitto") if o.with_fleet else None
        self._run("central", self.central.spec)
        # The terminal's device file names the edge's address, so choose its port first.
        edge_port = free_port()
        hall_secret = self._provision(
            f"http://127.0.0.1:{edge_port}",
            self.broker.url if self.broker else "mqtt://127.0.0.1:1883",
            self.central.url,
        )
        self.edge = services.edge(
            w / "edge", central_url=self.central.url, hall_secret=hall_secret, port=edge_port,
            # The address a phone or a bank reaches the edge at, printed in certificates' QR.
            extra_env={"EDGE_CERTIFICATE_VERIFY_BASE_URL": f"http://127.0.0.1:{edge_port}",
                       **o.edge_env},
        )
        self._run("edge", self.edge.spec)
        if self.broker is not None:
            self._run("mosquitto", self.broker.spec)
            self.manager = services.fleet_manager(w / "fleet", broker_url=self.broker.url)
            self._run("fleet-manager", self.manager.spec)
        self.pcscd = services.pcscd(w / "pcscd")
        self._run("pcscd", self.pcscd.spec)
        self.card_sim = services.card_sim(self.pcscd.vpcd_port, seed=o.seed,
                                          population=o.population)
        self._run("card-sim", self.card_sim.spec)
        devices: dict[str, str] = {}
        if o.with_camera:
            self.camera = services.camera_sim(persona="empty")
            self._run("camera-sim", self.camera.spec)
            # The production driver reads the simulator's MJPEG stream, as it would an IP camera.
            devices |= {"KIOSK_PERIPHERALS__CAMERA": "simulated",
                        "KIOSK_PERIPHERALS__FACE": "simulated",
                        "KIOSK_CAMERA_SOURCE": f"{self.camera.url}/stream.mjpg"}
        devices |= self._other_devices(w)
        control: dict[str, str] = {}
        if self.broker is not None:
            # The agent's key to the kiosk's control routes (maintenance, screenshot).
            control = {"KIOSK_CONTROL_TOKEN_FILE": str(self._control_token(w))}
        kiosk_env = {**devices, **control, **o.kiosk_env}
        if o.with_kiosk:
            self.kiosk = services.kiosk(
                w / "kiosk", pcscd_env=self.pcscd.client_env, config=self.device_file,
                screenshots=o.screenshots, offscreen=o.offscreen, automation=o.automation,
                extra_env=kiosk_env,
            )
            self._run("kiosk", self.kiosk.spec)
            if self.broker is not None:
                agent = services.fleet_agent(
                    w / "agent", config=self.device_file,
                    kiosk_status_url=f"{self.kiosk.url}/status",
                    health_interval_s=o.health_interval_s,
                )
                agent.env["AGENT_KIOSK_CONTROL_TOKEN_FILE"] = control["KIOSK_CONTROL_TOKEN_FILE"]
                # What `logs` fetches: the kiosk's own log (the supervisor's file of it here).
                agent.env["AGENT_KIOSK_LOG_FILE"] = str(self.procs["kiosk"].log_path)
                self._run("fleet-agent", agent)
        return self

    def _other_devices(self, w: Path) -> dict[str, str]:
        """The scanner, the ID card reader and the printers: started, and the kiosk's settings
        for each (the production drivers on the simulators' pty, TCP port and cupsd)."""
        from simulators.idcard.stack import idcard_sim
        from simulators.printer import cupsd as private_cupsd
        from simulators.printer.service import stack_spec as printer_spec
        from simulators.qr.service import stack_spec as qr_spec

        o, env = self.options, {}
        if o.with_qr:
            link = w / "qr" / "scanner.tty"
            self.qr = qr_spec(link, seed=o.seed)
            self._run("qr-sim", self.qr.spec)
            env |= {"KIOSK_PERIPHERALS__QR": "simulated",
                    "KIOSK_PERIPHERAL_OPTIONS__QR__PORT": str(link)}
        if o.with_idcard:
            self.idcard = idcard_sim(w, seed=o.seed, population=o.population)
            self._run("idcard-sim", self.idcard.service.spec)
            env |= {"KIOSK_PERIPHERALS__IDCARD": "simulated",
                    "KIOSK_PERIPHERAL_OPTIONS__IDCARD__PORT": str(self.idcard.link)}
        if o.with_printers:
            self.printer = printer_spec(w / "printer")
            self._run("printer-sim", self.printer.spec)
            # Its folder must be searchable by cupsd's lp user: not under a private workdir.
            self.cupsd_base = Path(tempfile.mkdtemp(prefix="hrss-cupsd-"))
            self.cupsd_base.chmod(0o755)
            self.cupsd = private_cupsd.stack_spec(base=self.cupsd_base, remove_base=True)
            self._run("cupsd", self.cupsd.spec)
            env |= {"KIOSK_PERIPHERALS__PRINTER": "simulated",
                    "KIOSK_PERIPHERAL_OPTIONS__PRINTER__CONNECTION": self.printer.connection,
                    "KIOSK_PERIPHERALS__DOCPRINTER": "simulated",
                    "KIOSK_PERIPHERAL_OPTIONS__DOCPRINTER__SERVER": self.cupsd.server,
                    "KIOSK_PERIPHERAL_OPTIONS__DOCPRINTER__QUEUE": self.cupsd.pdf_queue}
        return env

    # -- a field terminal: its own edge on the device, staff, no card reader ------------------
    FIELD_DEVICE = "T-FIELD-0001"
    FIELD_STAFF = ("1001", "246810")  # staff ID and PIN, provisioned on the terminal

    def start_field(self) -> Stack:
        """A field terminal beside the hall: the same kiosk app in field mode, with its own
        edge server (the same code, SQLite, field mode) on the device, both real processes,
        provisioned like any terminal (device key registered with the province) and with one
        staff member. The villagers it certifies identify by ID number (cards left at home)."""
        o, w = self.options, self.options.workdir / "field"
        secret_file = self.options.workdir / "hall" / "hall-secret"
        device_file = w / "device" / "device.toml"
        edge_port = free_port()
        subprocess.run(services.kioskctl(
            "provision", "device", "--device-id", self.FIELD_DEVICE, "--site", "field-trip",
            "--hall-secret-file", str(secret_file), "--edge-url",
            f"http://127.0.0.1:{edge_port}", "--broker-url", "mqtt://127.0.0.1:1883",
            "--out", str(device_file), "--register-key-with", self.central.url,
        ), check=True, capture_output=True)
        staff_file = w / "staff.json"
        subprocess.run(services.kioskctl(
            "provision", "staff", "add", "--staff-id", self.FIELD_STAFF[0],
            "--pin", self.FIELD_STAFF[1], "--file", str(staff_file),
        ), check=True, capture_output=True)
        self.field_edge = services.edge(
            w / "edge", central_url=self.central.url,
            hall_secret=secret_file.read_text().strip(), port=edge_port,
            extra_env={"EDGE_FIELD_MODE": "true"},
        )
        self._run("field-edge", self.field_edge.spec)
        env = {"KIOSK_MODE": "field", "KIOSK_FIELD_STAFF_FILE": str(staff_file),
               "KIOSK_PERIPHERALS__CARD": "absent", "KIOSK_LOCATION": "field-trip"}
        if o.with_camera:
            env |= {"KIOSK_PERIPHERALS__CAMERA": "simulated",
                    "KIOSK_PERIPHERALS__FACE": "simulated",
                    "KIOSK_CAMERA_SOURCE": f"{self.camera.url}/stream.mjpg"}
        self.field_kiosk = services.kiosk(
            w / "kiosk", pcscd_env={}, config=device_file, screenshots=o.screenshots,
            offscreen=o.offscreen, automation=o.automation, extra_env={**env, **o.kiosk_env},
        )
        self.field_kiosk = services.HttpService(
            spec=dataclasses.replace(self.field_kiosk.spec, name="field-kiosk"),
            host=self.field_kiosk.host, port=self.field_kiosk.port)
        self._run("field-kiosk", self.field_kiosk.spec)
        return self

    def field_kiosk_client(self) -> KioskClient:
        return self._field_kiosk

    @cached_property
    def _field_kiosk(self) -> KioskClient:
        return KioskClient(self.field_kiosk.url)

    # -- clients (one each, reused: they hold connection pools) ---------------------------------
    @cached_property
    def _card(self) -> CardSimClient:
        return CardSimClient(self.card_sim.url)

    @cached_property
    def _kiosk(self) -> KioskClient:
        return KioskClient(self.kiosk.url)

    @cached_property
    def _camera(self) -> CameraSimClient:
        return CameraSimClient(self.camera.url, timeout=120)  # a face scene builds in seconds

    @cached_property
    def _central(self) -> CentralSimClient:
        return CentralSimClient(self.central.url)

    @cached_property
    def _fleet(self) -> FleetManagerClient:
        return FleetManagerClient(self.manager.url)

    @cached_property
    def _edge(self) -> EdgeClient:
        # The terminal's own credential, as provisioned into its device file.
        with self.device_file.open("rb") as fh:
            token = tomllib.load(fh)["kiosk"]["device_token"]
        return EdgeClient(self.edge.url, token)

    def card(self) -> CardSimClient:
        return self._card

    @cached_property
    def _qr(self) -> QrSimClient:
        return QrSimClient(self.qr.url)

    @cached_property
    def _idcard(self) -> IdCardSimClient:
        return IdCardSimClient(self.idcard.service.url)

    @cached_property
    def _printer(self) -> PrinterSimClient:
        return PrinterSimClient(self.printer.control_url)

    def qr_client(self) -> QrSimClient:
        return self._qr

    def idcard_client(self) -> IdCardSimClient:
        return self._idcard

    def printer_client(self) -> PrinterSimClient:
        return self._printer

    def kiosk_client(self) -> KioskClient:
        return self._kiosk

    def central_client(self) -> CentralSimClient:
        return self._central

    def camera_client(self) -> CameraSimClient:
        return self._camera

    def edge_client(self) -> EdgeClient:
        return self._edge

    def fleet_client(self) -> FleetManagerClient:
        return self._fleet

    def logs(self) -> dict[str, Path]:
        return {name: proc.log_path for name, proc in self.procs.items()}
