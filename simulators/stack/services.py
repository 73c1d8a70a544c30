"""How to start each process of the stack: command line, environment and readiness check.

Every function returns a ProcessSpec plus what a client needs to reach the process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from simulators.stack.ports import free_port, free_port_pair, port_open
from simulators.stack.requirements import require
from simulators.stack.supervisor import ProcessSpec

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"


def kioskctl(*args: str) -> list[str]:
    """argv that runs our CLI with this interpreter (works without the entry point on PATH)."""
    return [sys.executable, "-m", "kioskctl", *args]


@dataclass(frozen=True)
class Pcscd:
    spec: ProcessSpec
    socket_path: Path
    vpcd_port: int  # reader "Virtual PCD 00 00"; "Virtual PCD 00 01" is vpcd_port + 1

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for any process that talks to this pcscd (pyscard reads it once)."""
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}


def pcscd(workdir: Path, vpcd_port: int | None = None) -> Pcscd:
    """pcscd in the foreground with the vpcd virtual readers on a private port.

    pcscd hard-codes /run/pcscd for its socket; it runs in its own mount namespace with a
    private directory bound over /run/pcscd, so several instances (and a system pcscd) can
    coexist. Clients find it through PCSCLITE_CSOCK_NAME, which libpcsclite honours.
    """
    require("pcscd", "vpcd", "unshare")
    port = vpcd_port or free_port_pair()
    run_dir, cleanup = _socket_dir(workdir)
    conf_dir = workdir / "reader.conf.d"
    run_dir.mkdir(parents=True, exist_ok=True)
    conf_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("pcscd.comm", "pcscd.pid"):
        (run_dir / stale).unlink(missing_ok=True)
    (conf_dir / "vpcd").write_text(
        'FRIENDLYNAME "Virtual PCD"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {VPCD_DRIVER}\n"
        f"CHANNELID    0x{port:04X}\n"
    )
    inner = (
        f"mkdir -p /run/pcscd '{run_dir}' && mount --bind '{run_dir}' /run/pcscd"
        f" && exec pcscd --foreground --config '{conf_dir}' --info"
    )
    argv = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        argv.append("--map-root-user")
    argv += ["sh", "-c", inner]
    socket_path = run_dir / "pcscd.comm"
    spec = ProcessSpec(name="pcscd", argv=argv, ready=socket_path.exists, ready_timeout=15,
                       cleanup=cleanup)
    return Pcscd(spec=spec, socket_path=socket_path, vpcd_port=port)


# A Unix socket's path has room for 107 bytes (sun_path); libpcsclite cuts a longer one and
# then finds no pcscd ("the PC/SC service is not running").
MAX_SOCKET_PATH = 100


def _socket_dir(workdir: Path) -> tuple[Path, Callable[[], None] | None]:
    """Where pcscd's socket goes: in the workdir, or, when that path would be too long for a
    socket, in a short folder of the system's temporary directory named after the workdir
    (the same one again after a restart), removed when pcscd is stopped."""
    run_dir = workdir / "run"
    if len(os.fsencode(run_dir / "pcscd.comm")) <= MAX_SOCKET_PATH:
        return run_dir, None
    digest = hashlib.sha256(os.fsencode(workdir.resolve())).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"hrss-pcscd-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short, lambda: shutil.rmtree(short, ignore_errors=True)


@dataclass(frozen=True)
class Mosquitto:
    spec: ProcessSpec
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def mosquitto(
    workdir: Path, port: int | None = None, *, max_queued_messages: int = 10000
) -> Mosquitto:
    """A private Mosquitto on loopback (anonymous access; provisioning adds auth and TLS).

    `max_queued_messages` bounds what the broker holds for each offline persistent session;
    benchmarks that let a backlog build raise it."""
    require("mosquitto")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest stdout\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        f"max_queued_messages {max_queued_messages}\n"
    )
    conf.chmod(0o644)
    spec = ProcessSpec(
        name=f"mosquitto-{port}",
        argv=["mosquitto", "-c", str(conf)],
        ready=lambda: port_open("127.0.0.1", port),
        ready_timeout=15,
    )
    return Mosquitto(spec=spec, host="127.0.0.1", port=port)


def _optional_env(**values: object) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def http_ok(url: str) -> bool:
    """True when GET url answers 200 (a readiness probe)."""
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(frozen=True)
class HttpService:
    spec: ProcessSpec
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


CENTRAL_API_KEY = "central-dev-key"  # the simulator's default; a real platform issues one


def central_sim(
    port: int | None = None,
    *,
    seed: int = 42,
    population: int = 5000,
    api_key: str = CENTRAL_API_KEY,
    today: str | None = None,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 30.0,
    name: str = "central-sim",
) -> HttpService:
    """`kioskctl central-sim`: the central benefit platform simulator. It answers health once its
    population's ID index is built (15-25 s for a million citizens on 2 cores).

    `data_dir` holds what it records (submissions, card status, PIN failures): a restart with
    the same directory continues where a kill -9 left it. `extra_args` are further CLI flags
    (faults it starts with, e.g. `--outage`)."""
    port = port or free_port()
    argv = kioskctl(
        "central-sim", "--host", "127.0.0.1", "--port", str(port), "--seed", str(seed),
        "--population", str(population), "--api-key", api_key,
    )
    if today:
        argv += ["--today", today]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--data-dir", str(data_dir)]
    argv += list(extra_args)
    url = f"http://127.0.0.1:{port}"
    spec = ProcessSpec(
        name=name, argv=argv, ready=lambda: http_ok(f"{url}/central/v1/health"),
        ready_timeout=ready_timeout,
    )
    return HttpService(spec=spec, host="127.0.0.1", port=port)


def edge(
    workdir: Path,
    *,
    central_url: str,
    hall_secret: str,
    port: int | None = None,
    central_api_key: str = CENTRAL_API_KEY,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> HttpService:
    """`kioskctl edge`: the hall's edge server, its database SQLite in `workdir` unless
    `database_url` names another (PostgreSQL: `postgresql+psycopg://...`)."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "EDGE_DATABASE_URL": database_url or f"sqlite:///{workdir / 'edge.db'}",
        "EDGE_CENTRAL_URL": central_url,
        "EDGE_CENTRAL_API_KEY": central_api_key,
        "EDGE_HALL_SECRET": hall_secret,
        "EDGE_DATA_KEY_FILE": str(workdir / "data.key"),
        **(extra_env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    spec = ProcessSpec(
        name=f"edge-{port}",
        argv=kioskctl("edge", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        ready=lambda: http_ok(f"{url}/api/v1/health"),
    )
    return HttpService(spec=spec, host="127.0.0.1", port=port)


def card_sim(
    vpcd_port: int, control_port: int | None = None, *, seed: int = 42, population: int = 5000
) -> HttpService:
    """`kioskctl sim card serve`: virtual cards for the vpcd readers, driven over HTTP."""
    control_port = control_port or free_port()
    argv = kioskctl(
        "sim", "card", "serve", "--vpcd-host", "127.0.0.1", "--vpcd-port", str(vpcd_port),
        "--control-host", "127.0.0.1", "--control-port", str(control_port),
        "--seed", str(seed), "--population", str(population),
    )
    url = f"http://127.0.0.1:{control_port}"
    spec = ProcessSpec(name="card-sim", argv=argv, ready=lambda: http_ok(f"{url}/status"))
    return HttpService(spec=spec, host="127.0.0.1", port=control_port)


def fleet_manager(workdir: Path, *, broker_url: str, port: int | None = None) -> HttpService:
    """`kioskctl fleet manager`: registry, presence and commands over MQTT; REST on `port`."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "FLEET_MANAGER_BROKER_URL": broker_url,
        "FLEET_MANAGER_DATABASE_URL": f"sqlite:///{workdir / 'fleet.db'}",
    }
    url = f"http://127.0.0.1:{port}"
    spec = ProcessSpec(
        name=f"fleet-manager-{port}",
        argv=kioskctl("fleet", "manager", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        ready=lambda: http_ok(f"{url}/api/v1/health"),
    )
    return HttpService(spec=spec, host="127.0.0.1", port=port)


def fleet_agent(
    workdir: Path,
    *,
    kiosk_status_url: str,
    config: Path | None = None,
    device_id: str | None = None,
    broker_url: str | None = None,
    site: str | None = None,
    health_interval_s: float = 5.0,
) -> ProcessSpec:
    """`kioskctl fleet agent`: one terminal's agent. Readiness is the manager seeing its birth.

    Identity and broker come from a provisioned device file (`config`) or keyword arguments.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **_optional_env(
            HRSS_CONFIG=config, AGENT_DEVICE_ID=device_id, AGENT_BROKER_URL=broker_url,
            AGENT_SITE=site,
        ),
        "AGENT_KIOSK_STATUS_URL": kiosk_status_url,
        "AGENT_STATE_DIR": str(workdir),
        "AGENT_HEALTH_INTERVAL_S": str(health_interval_s),
    }
    name = f"fleet-agent-{device_id or workdir.name}"
    return ProcessSpec(name=name, argv=kioskctl("fleet", "agent"), env=env)


def kiosk(
    workdir: Path,
    *,
    pcscd_env: dict[str, str],
    config: Path | None = None,
    device_id: str | None = None,
    device_token: str | None = None,
    edge_url: str | None = None,
    status_port: int | None = None,
    screenshots: Path | None = None,
    offscreen: bool = True,
    automation: bool = True,
    extra_env: dict[str, str] | None = None,
) -> HttpService:
    """`kioskctl kiosk`: the Kivy app, offscreen unless a display is wanted.

    Identity and credential come from a provisioned device file (`config`) or, for tests, from
    the keyword arguments. `automation` enables the loopback-only hooks (tap, wait-for-screen,
    screenshot) that the demo script and the end-to-end tests drive it with.
    """
    status_port = status_port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **pcscd_env,
        **_optional_env(
            HRSS_CONFIG=config, KIOSK_DEVICE_ID=device_id, KIOSK_DEVICE_TOKEN=device_token,
            KIOSK_EDGE_URL=edge_url,
        ),
        "KIOSK_STATUS_PORT": str(status_port),
        # The real PC/SC driver on vpcd's reader, where the virtual card goes (drivers/registry.py).
        "KIOSK_PERIPHERALS__CARD": "simulated",
        "KIVY_HOME": str(workdir / "kivy"),
        "KIVY_NO_ARGS": "1",
        "KIVY_NO_FILELOG": "1",
        "KIVY_NO_CONFIG": "1",
        # Without this a missing display makes Kivy fall back to x11 and die (kivy-notes.md).
        "KIVY_WINDOW": "sdl2",
        **(extra_env or {}),
    }
    if offscreen:
        env["SDL_VIDEODRIVER"] = "offscreen"
    argv = kioskctl("kiosk")
    if automation:
        argv.append("--automation")
    if screenshots is not None:
        argv += ["--screenshots", str(screenshots)]
    url = f"http://127.0.0.1:{status_port}"
    spec = ProcessSpec(
        name="kiosk", argv=argv, env=env, cwd=workdir, ready=lambda: http_ok(f"{url}/status"),
        ready_timeout=60,
    )
    return HttpService(spec=spec, host="127.0.0.1", port=status_port)


def camera_sim(
    port: int | None = None,
    *,
    fps: float = 15.0,
    persona: str | None = None,
    identity: str = "a",
    seed: int = 0,
    name: str = "camera-sim",
    ready_timeout: float = 60.0,
) -> HttpService:
    """`kioskctl sim camera serve`: scripted personas as an MJPEG camera; the stream is at
    f"{service.url}/stream.mjpg", the control API under /sim/v1. It answers health once its
    first scene is built (a face persona finds the landmarks of its photos: seconds)."""
    port = port or free_port()
    argv = kioskctl(
        "sim", "camera", "serve", "--host", "127.0.0.1", "--port", str(port), "--fps", str(fps),
        "--identity", identity, "--seed", str(seed),
    )
    if persona is not None:
        argv += ["--persona", persona]
    url = f"http://127.0.0.1:{port}"
    spec = ProcessSpec(name=name, argv=argv, ready=lambda: http_ok(f"{url}/sim/v1/health"),
                       ready_timeout=ready_timeout)
    return HttpService(spec=spec, host="127.0.0.1", port=port)
