"""Settings: embedded defaults, then the TOML file, then STATIONMASTER_* variables, then flags."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from appliance.timesync import SYNC_FLAG

SYSTEM_CONFIG = Path("/etc/stationmaster/stationmaster.toml")
SYSTEM_DATA_DIR = Path("/var/lib/stationmaster")
SYSTEM_SOCKET = Path("/run/stationmaster/admin.sock")
LOG_LEVELS = ("debug", "info", "warning", "error")
COMMAND_LINE = "command line"


def setting(section: str, key: str, default: Any = dataclasses.MISSING, *, positive: bool = False) -> Any:
    """A setting's field: where it lives in the TOML file, its default, and whether it must be positive."""
    return field(default=default, metadata={"place": (section, key), "positive": positive})


class ConfigError(Exception):
    """The configuration cannot be used; the message names the source, the key and the problem."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `stationmaster serve` needs to know: each setting declared once, with its place in the file
    ([section] key), its default and whether it must be positive."""

    data_dir: Path = setting("storage", "data_dir")
    admin_socket: Path = setting("admin", "socket")
    http_host: str = setting("http", "host", "0.0.0.0")
    http_port: int = setting("http", "port", 8080)
    request_timeout_s: int = setting("http", "request_timeout_s", 30, positive=True)
    mdns: bool = setting("mdns", "enabled", True)
    mdns_interfaces: tuple[str, ...] = setting("mdns", "interfaces", ())
    hostname: str = setting("mdns", "hostname", "stationmaster")
    mdns_browse_types: tuple[str, ...] = setting("mdns", "browse", ())
    poll_interval_s: int = setting("stations", "poll_interval_s", 60, positive=True)
    # Anyone on the LAN can make a pending station with any MAC: at most this many wait, the least recently
    # seen dropped first; and one unseen for this long goes.
    max_pending_stations: int = setting("stations", "max_pending", 1000, positive=True)
    pending_expiry_days: int = setting("stations", "pending_expiry_days", 7, positive=True)
    checkin_history_interval_s: int = setting("retention", "checkin_history_interval_s", 300, positive=True)
    checkin_retention_days: int = setting("retention", "checkin_days", 3, positive=True)
    event_retention_days: int = setting("retention", "event_days", 90, positive=True)
    event_retention_rows: int = setting("retention", "event_rows", 50_000, positive=True)
    max_image_bytes: int = setting("firmware", "max_image_bytes", 16 * 1024 * 1024, positive=True)
    rollout_min_rssi: int = setting("rollouts", "min_rssi", -75)
    rollout_min_free_heap: int = setting("rollouts", "min_free_heap", 16 * 1024)
    rollout_downloads_per_ap: int = setting("rollouts", "downloads_per_ap", 2, positive=True)
    maintenance_window: str = setting("rollouts", "maintenance_window", "")
    log_level: str = setting("log", "level", "info")
    checkin_flush_interval_s: int = setting("retention", "checkin_flush_interval_s", 60)
    checkin_hourly_days: int = setting("retention", "hourly_days", 14, positive=True)
    checkin_daily_days: int = setting("retention", "daily_days", 365, positive=True)
    offline_after_missed: int = setting("health", "offline_after_missed", 3, positive=True)
    weak_signal_dbm: int = setting("health", "weak_signal_dbm", -80)
    reboot_loop_restarts: int = setting("health", "reboot_loop_restarts", 3, positive=True)
    reboot_loop_window_s: int = setting("health", "reboot_loop_window_s", 900, positive=True)
    command_ttl_s: int = setting("commands", "ttl_s", 86400, positive=True)
    metrics: bool = setting("metrics", "enabled", True)
    # /metrics gives nothing away to the LAN by default: whole-fleet figures only, to this machine alone.
    metrics_stations: bool = setting("metrics", "stations", False)
    metrics_allow: tuple[str, ...] = setting("metrics", "allow", ("127.0.0.1", "::1"))
    # Only the adapters deploy/install.sh's udev rule names: a site's 3G modem or Zigbee stick on ttyUSB*
    # must never be reset into a "bootloader" by a probe.
    usb_ports: tuple[str, ...] = setting("usb", "ports", ("/dev/stationmaster/*",))
    usb_poll_ms: int = setting("usb", "poll_ms", 1000, positive=True)
    usb_identify: bool = setting("usb", "identify", True)
    usb_improv_probe_ms: int = setting("usb", "improv_probe_ms", 3000, positive=True)
    usb_improv_timeout_s: int = setting(
        "usb", "improv_timeout_s", 95, positive=True
    )  # beyond ESPHome's own 90 s when a device switches networks
    usb_checkin_wait_s: int = setting("usb", "checkin_wait_s", 300, positive=True)
    clock_sync_flag: Path = setting("clock", "sync_flag", SYNC_FLAG)
    # The client's side, on the admin's own machine: the appliance to open over SSH when no socket is named.
    remote_ssh: str = setting("remote", "ssh", "")
    remote_socket: Path = setting("remote", "socket", SYSTEM_SOCKET)
    ssh_command: str = setting("remote", "ssh_command", "ssh")
    sources: dict[str, str] = field(default_factory=dict, compare=False)


# Where each setting lives in the TOML file ([section] key), and which must be positive: read off Settings.
_FILE_LAYOUT: dict[str, tuple[str, str]] = {
    item.name: item.metadata["place"] for item in dataclasses.fields(Settings) if "place" in item.metadata
}
_POSITIVE = tuple(item.name for item in dataclasses.fields(Settings) if item.metadata.get("positive"))


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
    path = find_config_file(config_path, env)
    if path is not None:
        for name, value in _read_file(path).items():
            values[name], sources[name] = value, str(path)
    for name in _FILE_LAYOUT:
        variable = f"STATIONMASTER_{name.upper()}"
        if variable in env:
            values[name], sources[name] = _from_env(variable, name, env[variable]), variable
    for name, value in overrides.items():
        if name not in _FILE_LAYOUT:
            raise ValueError(f"no setting is called {name!r}")  # a programming error, not the user's
        if value is not None:
            values[name], sources[name] = value, COMMAND_LINE
    values.setdefault("data_dir", default_data_dir(env))
    # The data directory is checked first: the default socket is derived from it.
    values["data_dir"] = _clean("data_dir", values["data_dir"], sources)
    values.setdefault("admin_socket", _default_socket_for(values["data_dir"], env))
    settings = Settings(**{name: _clean(name, value, sources) for name, value in values.items()}, sources=sources)
    _check_ranges(settings)
    return settings


def find_config_file(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The config file in force: `explicit`, else $STATIONMASTER_CONFIG (either must exist), else the system one,
    else the user's own (~/.config/stationmaster/stationmaster.toml: on the admin's machine, its sites)."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        return explicit
    if env.get("STATIONMASTER_CONFIG"):
        named = Path(env["STATIONMASTER_CONFIG"])
        if not named.is_file():
            raise ConfigError(f"STATIONMASTER_CONFIG names {named}, which does not exist")
        return named
    if SYSTEM_CONFIG.is_file():
        return SYSTEM_CONFIG
    mine = user_config_file(env)
    try:
        return mine if mine.is_file() else None
    except OSError:
        return None  # a home this user may not look into (root's, under `sudo -u`): it has no config of its own


def user_config_file(env: Mapping[str, str]) -> Path:
    """The user's own config file: $XDG_CONFIG_HOME/stationmaster/stationmaster.toml (~/.config by default)."""
    base = (
        Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path(env.get("HOME") or Path.home()) / ".config"
    )
    return base / "stationmaster" / "stationmaster.toml"


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
    if _present(SYSTEM_SOCKET):
        return SYSTEM_SOCKET
    return _default_socket_for(default_data_dir(env), env)


def client_admin_socket(*, config_path: Path | None, env: Mapping[str, str]) -> Path:
    """A client's socket: $STATIONMASTER_ADMIN_SOCKET, the file's, $STATIONMASTER_DATA_DIR's, else the default."""
    if env.get("STATIONMASTER_ADMIN_SOCKET"):
        return Path(env["STATIONMASTER_ADMIN_SOCKET"]).expanduser()
    path = find_config_file(config_path, env)
    if path is not None:
        named = _read_file(path).get("admin_socket")
        if named is not None:
            return Path(_clean("admin_socket", named, {"admin_socket": str(path)}))
    if env.get("STATIONMASTER_DATA_DIR"):
        # Someone who moved their own service's data in this shell means its socket.
        return _default_socket_for(Path(env["STATIONMASTER_DATA_DIR"]).expanduser(), env)
    # The file's data_dir is not followed: under systemd the socket is in RuntimeDirectory=, which
    # a client started from an SSH shell cannot see.
    return default_admin_socket(env)


def service_environment(config_path: Path | None, env: Mapping[str, str]) -> dict[str, str]:
    """`env` as the installed service sees it: its unit's directories, where the system config is in force."""
    seen = dict(env)
    try:
        installed = find_config_file(config_path, env) == SYSTEM_CONFIG
    except ConfigError:
        return seen  # loading the settings says why
    if installed:
        # systemd hands these to the service (StateDirectory=, RuntimeDirectory=); an admin's shell has
        # neither, and would otherwise be shown its own home directory.
        seen.setdefault("STATE_DIRECTORY", str(SYSTEM_DATA_DIR))
        seen.setdefault("RUNTIME_DIRECTORY", str(SYSTEM_SOCKET.parent))
    return seen


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


def _present(path: Path) -> bool:
    """True if `path` exists, or exists out of this user's sight (the client then says how to get access)."""
    try:
        path.stat()
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _default_socket_for(data_dir: Path, env: Mapping[str, str]) -> Path:
    if env.get("RUNTIME_DIRECTORY"):
        return Path(env["RUNTIME_DIRECTORY"].split(":")[0]) / "admin.sock"
    if os.geteuid() == 0:
        return SYSTEM_SOCKET
    return data_dir / "admin.sock"


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
        if not isinstance(table, dict):
            # Every setting lives in a section; say which one a stray top-level key belongs in.
            home = [f"[{s}] {k}" for s, k in _FILE_LAYOUT.values() if k == section]
            hint = f" (did you mean {' or '.join(home)}?)" if home else ""
            raise ConfigError(f"{path}: {section!r} must be inside a section{hint}; sections: {', '.join(sections)}")
        if section not in sections:
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


def _clean(name: str, value: Any, sources: Mapping[str, str]) -> Any:
    """Return `value` as the type of setting `name`, or raise a ConfigError saying where it came from."""
    kind = _field_types()[name]
    if kind == "Path":
        if not isinstance(value, str | Path) or not str(value):
            raise ConfigError(f"{_where(name, sources)} must be a path, got {value!r}")
        return Path(value).expanduser()
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{_where(name, sources)} must be true or false, got {value!r}")
        return value
    if kind == "int":
        # TOML's true is a Python int subclass; a port of `true` is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_where(name, sources)} must be a whole number, got {value!r}")
        return value
    if kind == "tuple[str, ...]":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{_where(name, sources)} must be a list of names, got {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{_where(name, sources)} must be a string, got {value!r}")
    return value.lower() if name == "log_level" else value


def _check_ranges(settings: Settings) -> None:
    def fail(name: str, problem: str) -> ConfigError:
        return ConfigError(f"{_where(name, settings.sources)} {problem}, got {getattr(settings, name)!r}")

    # 0 is kept for tests and `demo`: the kernel picks a free port.
    if not 0 <= settings.http_port <= 65535:
        raise fail("http_port", "must be from 1 to 65535 (or 0: any free port)")
    for name in _POSITIVE:
        if getattr(settings, name) <= 0:
            raise fail(name, "must be positive")
    if settings.checkin_flush_interval_s < 0:
        raise fail("checkin_flush_interval_s", "must be 0 (write every check-in at once) or more seconds")
    if not -127 <= settings.weak_signal_dbm <= -1:
        raise fail("weak_signal_dbm", "must be a signal level from -127 to -1 dBm")
    if not -127 <= settings.rollout_min_rssi <= 0:
        raise fail("rollout_min_rssi", "must be from -127 to 0 (dBm)")
    if settings.rollout_min_free_heap < 0:
        raise fail("rollout_min_free_heap", "must not be negative")
    if settings.maintenance_window and not _WINDOW.fullmatch(settings.maintenance_window.strip()):
        raise fail("maintenance_window", "must be 'HH:MM-HH:MM' in local time, e.g. '02:00-04:00', or empty")
    for allowed in settings.metrics_allow:
        try:
            ipaddress.ip_network(allowed, strict=False)
        except ValueError:
            raise fail(
                "metrics_allow", f"must list addresses or networks (10.0.0.0/24); {allowed!r} is neither"
            ) from None
    if not settings.remote_socket.is_absolute():
        raise fail("remote_socket", "must be an absolute path on the appliance, e.g. /run/stationmaster/admin.sock")
    if settings.log_level not in LOG_LEVELS:
        raise fail("log_level", f"must be one of {', '.join(LOG_LEVELS)}")
    label = settings.hostname
    if not 0 < len(label) <= 63 or label.startswith("-") or label.endswith("-") or not _is_ldh(label):
        raise fail("hostname", "must be 1 to 63 ASCII letters, digits and inner '-' (it becomes <hostname>.local)")


_WINDOW = re.compile(r"([01]?\d|2[0-3]):[0-5]\d\s*-\s*([01]?\d|2[0-3]):[0-5]\d")


def _is_ldh(label: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c == "-") for c in label)


def _where(name: str, sources: Mapping[str, str]) -> str:
    """Name a setting as the person who set it wrote it: file key, variable or flag."""
    section, key = _FILE_LAYOUT[name]
    source = sources.get(name, "default")
    if source == f"STATIONMASTER_{name.upper()}":
        return source
    if source == COMMAND_LINE:
        return f"the command-line value of {name}"
    if source == "default":
        return f"the default {name}"
    return f"{source}: [{section}] {key}"


def _field_types() -> dict[str, str]:
    # With postponed annotations every field type is its source text, e.g. "tuple[str, ...]".
    return {f.name: str(f.type) for f in dataclasses.fields(Settings)}
