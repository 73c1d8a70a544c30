"""Settings loading shared by every process: one device TOML file, environment overrides.

Each process defines one `DeviceSettings` subclass and names the tables of the device file it
reads, merged in order: usually `[device]` (identity shared by the terminal's processes) and its
own (`[kiosk]`, `[edge]`, `[agent]`, ...). Precedence, highest first:
constructor arguments, environment variables (`<PREFIX>_<FIELD>`, nested with `__`), the
process's table in the TOML file, defaults. The file is found from the `--config` option,
else the `HRSS_CONFIG` environment variable, else /etc/hrss-kiosk/device.toml if it exists.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

DEFAULT_CONFIG_PATH = Path("/etc/hrss-kiosk/device.toml")
CONFIG_ENV = "HRSS_CONFIG"


def find_config(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"configuration file not found: {path}")
        return path
    env = os.environ.get(CONFIG_ENV)
    if env:
        return find_config(env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


class _TomlTableSource(PydanticBaseSettingsSource):
    def __init__(
        self, settings_cls: type[BaseSettings], path: Path | None, tables: tuple[str, ...],
        nested: tuple[str, ...] = (),
    ) -> None:
        super().__init__(settings_cls)
        data: dict[str, Any] = {}
        if path is not None:
            with path.open("rb") as fh:
                document = tomllib.load(fh)
            for table in tables:
                data.update(document.get(table, {}))
            for table in nested:  # a whole table as one field: `[peripherals]` -> peripherals
                if isinstance(document.get(table), dict):
                    data[table] = {**data.get(table, {}), **document[table]}
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class DeviceSettings(BaseSettings):
    """Base for a process's settings. Subclasses set `toml_tables` and `model_config`
    (at least `env_prefix`, and `env_nested_delimiter="__"` for nested fields)."""

    toml_tables: ClassVar[tuple[str, ...]] = ()
    # Top-level tables read whole into the field of the same name (a nested model).
    toml_nested: ClassVar[tuple[str, ...]] = ()
    _config_path: ClassVar[Path | None] = None

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: Any) -> Self:
        path = find_config(config)
        # pydantic-settings builds sources per class, so pass the path through a class
        # attribute of a throw-away subclass rather than mutating shared state.
        bound = type(cls.__name__, (cls,), {"_config_path": path})
        return bound(**overrides)  # type: ignore[return-value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _TomlTableSource(settings_cls, cls._config_path, cls.toml_tables,
                                cls.toml_nested)
        return (init_settings, env_settings, toml)
