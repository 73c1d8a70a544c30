"""How the stack starts the simulated ID card reader (simulators/stack wires it in)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulators.stack.ports import free_port
from simulators.stack.services import HttpService, http_ok, kioskctl
from simulators.stack.supervisor import ProcessSpec


@dataclass(frozen=True)
class IdCardSim:
    """The running simulator: its control API, and the port path the kiosk's driver opens
    (`[peripheral_options.idcard] port = <link>` with `[peripherals] idcard = "simulated"`)."""

    service: HttpService
    link: Path

    @property
    def spec(self) -> ProcessSpec:
        return self.service.spec

    @property
    def url(self) -> str:
        return self.service.url

    def kiosk_options(self) -> dict[str, str]:
        return {"port": str(self.link)}


def idcard_sim(workdir: Path, control_port: int | None = None, *, seed: int = 42,
               population: int = 5000, name: str = "idcard-sim") -> IdCardSim:
    """`kioskctl sim idcard serve` with its link inside `workdir` (one per stack, no clash)."""
    control_port = control_port or free_port()
    link = workdir / "idcard" / "reader.tty"
    argv = kioskctl(
        "sim", "idcard", "serve", "--link", str(link), "--control-host", "127.0.0.1",
        "--control-port", str(control_port), "--seed", str(seed),
        "--population", str(population),
    )
    url = f"http://127.0.0.1:{control_port}"
    spec = ProcessSpec(name=name, argv=argv, ready=lambda: http_ok(f"{url}/status"))
    return IdCardSim(HttpService(spec=spec, host="127.0.0.1", port=control_port), link)
