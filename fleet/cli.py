"""`kioskctl fleet manager` and `kioskctl fleet agent`.

Only typer is imported at module level: `kioskctl --help` must not load FastAPI, paho or SQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.manager.devices_cli import devices_app  # typer only, like this module
from fleet.manager.remote_cli import commands_app, remote_app  # typer only, like this module
from fleet.manager.rollouts.cli import rollouts_app  # typer only, like this module
from fleet.updates.cli import artifacts_app  # typer only, like this module

fleet_app = typer.Typer(
    help="Fleet management: the manager (registry, presence, commands; REST) and the agent "
    "that runs on every terminal. Both talk MQTT 5 under hrss/v1 (docs/fleet.md).",
    no_args_is_help=True,
)
fleet_app.add_typer(rollouts_app, name="rollouts")
fleet_app.add_typer(artifacts_app, name="artifacts")
fleet_app.add_typer(devices_app, name="devices")
fleet_app.add_typer(remote_app, name="remote")
fleet_app.add_typer(commands_app, name="commands")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Device TOML file (else $HRSS_CONFIG, else /etc/hrss-kiosk/device.toml if present).",
        dir_okay=False,
    ),
]
LogLevelOption = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
]


def _load(settings_cls: Any, config: Path | None, overrides: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return settings_cls.load(config, **{k: v for k, v in overrides.items() if v is not None})
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        typer.echo(f"error: invalid settings: {problems}", err=True)
        raise typer.Exit(2) from None


@fleet_app.command("manager")
def manager(
    host: Annotated[
        str | None, typer.Option(help="Address for the REST API \\[default: 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port for the REST API \\[default: 8300].")
    ] = None,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Run a fleet manager: MQTT ingest into the registry, offline sweeper, REST.

    Settings: the \\[fleet_manager] table of the config file, overridden by
    FLEET_MANAGER_<NAME> variables: BROKER_URL, DATABASE_URL, OFFLINE_AFTER_S,
    INSTANCE, ... (all in docs/fleet.md).

    Any number of managers may share one broker and one database. The registry's
    migrations run at start.
    """
    from common.logs import setup_logging
    from fleet.manager.server import run
    from fleet.manager.settings import FleetManagerSettings

    settings = _load(FleetManagerSettings, config,
                     {"host": host, "port": port, "log_level": log_level})
    setup_logging(settings.log_level.upper())
    run(settings)


@fleet_app.command("agent")
def agent(config: ConfigOption = None, log_level: LogLevelOption = None) -> None:
    """Run this terminal's fleet agent: presence, health and commands.

    Settings: the \\[device] and \\[agent] tables of the config file, overridden
    by AGENT_<NAME> variables: DEVICE_ID, SITE, BROKER_URL, KIOSK_STATUS_URL,
    STATE_DIR, HEALTH_INTERVAL_S, ... (all in docs/fleet.md).

    SIGTERM or SIGINT: announces the shutdown (death), then disconnects.
    """
    import logging
    import signal

    from common.logs import setup_logging
    from fleet.agent.service import Agent
    from fleet.agent.settings import AgentSettings

    settings = _load(AgentSettings, config, {"log_level": log_level})
    setup_logging(settings.log_level.upper())
    # One line per kiosk poll says nothing; the agent logs reachability changes itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    instance = Agent(settings)

    def _stop(signum: int, _frame: object) -> None:
        instance.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    instance.run()
