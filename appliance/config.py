"""Settings: embedded defaults, then the TOML file, then STATIONMASTER_* variables, then flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

SYSTEM_CONFIG = Path("/etc/stationmaster/stationmaster.toml")
SYSTEM_DATA_DIR = Path("/var/lib/stationmaster")
SYSTEM_SOCKET = Path("/run/stationmaster/admin.sock")
LOG_LEVELS = ("debug", "info", "warning", "error")

# Where each setting lives in the TOML file: [section] key.
_FILE_LAYOUT: dict[str, tuple[str, str]] = {
    "data_dir": ("storage", "data_dir"),
    "admin_socket": ("admin", "socket"),
    "http_host": ("http", "host"),
    "http_port": ("http", "port"),
    "mdns": ("mdns", "enabled"),
    "mdns_interfaces": ("mdns", "interfaces"),
    "hostname": ("mdns", "hostname"),
    "mdns_browse_types": ("mdns", "browse"),
    "poll_interval_s": ("stations", "poll_interval_s"),
    "checkin_history_interval_s": ("retention", "checkin_history_interval_s"),
    "checkin_retention_days": ("retention", "checkin_days"),
    "event_retention_days": ("retention", "event_days"),
    "event_retention_rows": ("retention", "event_rows"),
    "max_image_bytes": ("firmware", "max_image_bytes"),
    "log_level": ("log", "level"),
}


class ConfigError(Exception):
    """The configuration cannot be used; the message names the source, the key and the problem."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `stationmaster serve` needs to know."""

    data_dir: Path
    admin_socket: Path
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    mdns: bool = True
    mdns_interfaces: tuple[str, ...] = ()
    hostname: str = "stationmaster"
    mdns_browse_types: tuple[str, ...] = ()
    poll_interval_s: int = 60
    checkin_history_interval_s: int = 300
    checkin_retention_days: int = 14
    event_retention_days: int = 90
    event_retention_rows: int = 50_000
    max_image_bytes: int = 16 * 1024 * 1024
    log_level: str = "info"
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def load_settings(
    *,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] = {},
) -> Settings:
    """Merge defaults < file < environment < overrides (None values ignored) and validate the result."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = _config_file(config_path, env)
    if path is not None:
        for name, value in _read_file(path).items():
            values[name], sources[name] = value, str(path)
    for name in _FILE_LAYOUT:
        variable = f"STATIONMASTER_{name.upper()}"
        if variable in env:
            values[name], sources[name] = _from_env(variable, name, env[variable]), variable
    for name, value in overrides.items():
        if value is not None:
            values[name], sources[name] = value, "command line"
    values.setdefault("data_dir", default_data_dir(env))
    values.setdefault("admin_socket", _default_socket_for(Path(values["data_dir"]), env))
    settings = _build(values)
    return dataclasses.replace(settings, sources=sources)


def default_data_dir(env: Mapping[str, str]) -> Path:
    """The data directory: systemd's StateDirectory, /var/lib as root, else the user's data directory."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    if os.geteuid() == 0:
        return SYSTEM_DATA_DIR
    return Path(platformdirs.user_data_dir("stationmaster"))


def default_admin_socket(env: Mapping[str, str] | None = None) -> Path:
    """Where a client looks for the service: the system one if it is running, else the user's own."""
    env = os.environ if env is None else env
    if SYSTEM_SOCKET.exists():
        return SYSTEM_SOCKET
    return _default_socket_for(default_data_dir(env), env)


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """Return (setting, value, where it came from) for `config check`."""
    rows = []
    for item in dataclasses.fields(Settings):
        if item.name == "sources":
            continue
        value = getattr(settings, item.name)
        shown = ", ".join(value) if isinstance(value, tuple) else str(value)
        rows.append((item.name, shown, settings.sources.get(item.name, "default")))
    return rows


def _default_socket_for(data_dir: Path, env: Mapping[str, str]) -> Path:
    if env.get("RUNTIME_DIRECTORY"):
        return Path(env["RUNTIME_DIRECTORY"].split(":")[0]) / "admin.sock"
    if os.geteuid() == 0:
        return SYSTEM_SOCKET
    return data_dir / "admin.sock"


def _config_file(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        return explicit
    if env.get("STATIONMASTER_CONFIG"):
        named = Path(env["STATIONMASTER_CONFIG"])
        if not named.is_file():
            raise ConfigError(f"STATIONMASTER_CONFIG names {named}, which does not exist")
        return named
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    by_place = {place: name for name, place in _FILE_LAYOUT.items()}
    sections = sorted({section for section, _ in _FILE_LAYOUT.values()})
    values: dict[str, Any] = {}
    for section, table in document.items():
        if section not in sections or not isinstance(table, dict):
            raise ConfigError(f"{path}: unknown section [{section}]; the sections are {', '.join(sections)}")
        for key, value in table.items():
            name = by_place.get((section, key))
            if name is None:
                valid = ", ".join(k for s, k in _FILE_LAYOUT.values() if s == section)
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]; valid keys: {valid}")
            values[name] = value
    return values


def _from_env(variable: str, name: str, raw: str) -> Any:
    kind = _field_types()[name]
    if kind == "bool":
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{variable} must be 1 or 0 (true or false), got {raw!r}")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{variable} must be a whole number, got {raw!r}") from None
    if kind == "tuple[str, ...]":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _build(values: dict[str, Any]) -> Settings:
    types = _field_types()
    clean: dict[str, Any] = {}
    for name, value in values.items():
        kind = types[name]
        where = _where(name)
        if kind == "Path":
            if not isinstance(value, str | Path) or not str(value):
                raise ConfigError(f"{where} must be a path")
            clean[name] = Path(value).expanduser()
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{where} must be true or false")
            clean[name] = value
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{where} must be a whole number")
            clean[name] = value
        elif kind == "tuple[str, ...]":
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where} must be a list of names")
            clean[name] = tuple(value)
        else:
            if not isinstance(value, str):
                raise ConfigError(f"{where} must be a string")
            clean[name] = value
    settings = Settings(**clean)
    _check_ranges(settings)
    return settings


def _check_ranges(settings: Settings) -> None:
    if not 0 <= settings.http_port <= 65535:
        raise ConfigError(f"{_where('http_port')} must be from 1 to 65535 (0: any free port), got {settings.http_port}")
    for name in (
        "poll_interval_s",
        "checkin_history_interval_s",
        "checkin_retention_days",
        "event_retention_days",
        "event_retention_rows",
        "max_image_bytes",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{_where(name)} must be positive, got {getattr(settings, name)}")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"{_where('log_level')} must be one of {', '.join(LOG_LEVELS)}, got {settings.log_level!r}")
    if not settings.hostname or not all(c.isalnum() or c == "-" for c in settings.hostname):
        raise ConfigError(f"{_where('hostname')} must be letters, digits and '-', got {settings.hostname!r}")


def _where(name: str) -> str:
    section, key = _FILE_LAYOUT[name]
    return f"[{section}] {key} (STATIONMASTER_{name.upper()})"


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(Settings)}
