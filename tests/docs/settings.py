"""Settings the docs and the example configuration name, held to the real loader (rules: tests/docs/test_docs.py)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

# The layout is the loader's own table of [section] key -> setting: the one truth the docs are held to.
from appliance.config import _FILE_LAYOUT, SYSTEM_DATA_DIR, SYSTEM_SOCKET, ConfigError, Settings, load_settings
from tests.docs import usage
from tests.docs.markdown import Document, Span
from tests.docs.report import Report

_ENV = re.compile(r"\bSTATIONMASTER_[A-Z][A-Z0-9_]*\b")
_SETTING = re.compile(r"^\[(\w+)\](?:\s+(\w+))?(?:\s*=\s*(.+))?$")
_BARE_SETTING = re.compile(r"^(\w+)(?:\s*=\s*(.+))?$")
_STATED = re.compile(r"^\s*[(,]\s*(-?\d[\d,]*(?:\.\d+)?)\s*([A-Za-z%]+)?\s*[),;]")
_THE_DEFAULT = re.compile(r"^\s*[(,]\s*the default")
_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400,
}  # fmt: skip


def check_example_config(config: Path, parser: argparse.ArgumentParser, scratch: Path) -> Report:
    """deploy/stationmaster.toml names every setting, each with its default, and only real variables and flags."""
    report = Report()
    text = config.read_text()
    # The example leaves some keys commented out: their values are still the defaults it states.
    uncommented = re.sub(r"^#\s*(\w+\s*=)", r"\1", text, flags=re.MULTILINE)
    stated = {(section, key) for section, table in tomllib.loads(uncommented).items() for key in table}
    by_place = {place: name for name, place in _FILE_LAYOUT.items()}
    for place in sorted(stated - set(by_place)):
        report.bad(config.name, f"[{place[0]}] {place[1]} is no setting")
    for name, place in _FILE_LAYOUT.items():
        if place not in stated:
            report.bad(config.name, f"[{place[0]}] {place[1]} ({name}) is not documented")
    copy = scratch / "stationmaster.toml"
    copy.write_text(uncommented)
    loaded = load_settings(config_path=copy, env={})
    for place in sorted(stated & set(by_place)):
        name = by_place[place]
        if getattr(loaded, name) == _default(name):
            report.ok(f"[{place[0]}] {place[1]}")
        else:
            report.bad(
                config.name,
                f"[{place[0]}] {place[1]} says {getattr(loaded, name)!r}, the default is {_default(name)!r}",
            )
    _variables(config.name, text, report)
    for flag in sorted(set(re.findall(r"(--[a-z][\w-]*)", text))):
        if flag in usage.all_options(parser):
            report.ok(flag)
        else:
            report.bad(config.name, f"no command has the flag {flag}")
    return report


def check_settings_named(docs: Sequence[Document], scratch: Path) -> Report:
    """`[section] key` spans name real settings; a value stated as its default (`(60 s)`, `, 5 minutes;`) is it."""
    report = Report()
    sections = {section for section, _ in _FILE_LAYOUT.values()}
    by_place = {place: name for name, place in _FILE_LAYOUT.items()}
    bare = _bare_names()
    for doc in docs:
        for span in doc.spans:
            full = _SETTING.match(span.text)
            if full:
                section, key, value = full.groups()
                if section not in sections:
                    report.bad(span.where, f"the configuration has no section [{section}]")
                    continue
                if key is None:
                    report.ok(f"[{section}]")
                    continue
                name = by_place.get((section, key))
                if name is None:
                    report.bad(span.where, f"[{section}] has no key {key}")
                    continue
            else:
                plain = _BARE_SETTING.match(span.text)
                if plain is None or plain.group(1) not in bare:
                    continue
                name, value = bare[plain.group(1)], plain.group(2)
            _setting(span, name, value, scratch, report)
        for span in doc.spans:
            _variables(span.where, span.text, report)
    return report


def _setting(span: Span, name: str, value: str | None, scratch: Path, report: Report) -> None:
    section, key = _FILE_LAYOUT[name]
    if value is not None:
        try:
            loaded = getattr(_load(scratch, f"[{section}]\n{key} = {value}\n"), name)
        except (ConfigError, tomllib.TOMLDecodeError) as exc:
            report.bad(span.where, f"[{section}] {key} = {value} is refused: {exc}")
            return
        if _THE_DEFAULT.match(span.after) and loaded != _default(name):
            report.bad(span.where, f"[{section}] {key}'s default is {_default(name)!r}, not {value}")
            return
    stated = _STATED.match(span.after)
    if value is None and stated is not None:
        number, unit = float(stated.group(1).replace(",", "")), stated.group(2)
        expected = _default(name)
        scale = _scale(name, unit)
        if scale is None:
            report.ok(f"[{section}] {key}")  # a unit this check does not read: the key, at least, exists
            return
        if not isinstance(expected, int | float) or number * scale != expected:
            report.bad(span.where, f"[{section}] {key}'s default is {expected!r}, not {stated.group(1)} {unit or ''}")
            return
        report.ok(f"[{section}] {key} defaults to {expected!r}")
        return
    report.ok(f"[{section}] {key}")


def _scale(name: str, unit: str | None) -> float | None:
    """What one `unit` is in the setting's own unit (seconds for `_s`, ms for `_ms`), or None if unknown."""
    if unit is None:
        return 1
    unit = unit.lower()
    if name.endswith("_ms"):
        return {"ms": 1, "s": 1000}.get(unit)
    if name.endswith("_s"):
        return _UNITS.get(unit)
    if name.endswith("_days"):
        return 1 if unit in ("day", "days") else None
    if name.endswith("_dbm") or name.endswith("_rssi"):
        return 1 if unit == "dbm" else None
    return {"kib": 1024, "mib": 1024 * 1024, "bytes": 1, "b": 1}.get(unit)


def _variables(where: str, text: str, report: Report) -> None:
    valid = {f"STATIONMASTER_{name.upper()}" for name in _FILE_LAYOUT} | {"STATIONMASTER_CONFIG"}
    for variable in sorted(set(_ENV.findall(text))):
        if variable in valid:
            report.ok(variable)
        else:
            report.bad(where, f"no setting is read from {variable}")


def _bare_names() -> dict[str, str]:
    """Setting and key names a span may use alone (`checkin_days`, `request_timeout_s`): those unique and with a `_`."""
    found: dict[str, list[str]] = {}
    for name, (_, key) in _FILE_LAYOUT.items():
        for alias in {name, key}:
            if "_" in alias:
                found.setdefault(alias, []).append(name)
    return {alias: names[0] for alias, names in found.items() if len(set(names)) == 1}


def _default(name: str) -> object:
    """The setting's default; data_dir and the admin socket default to the system paths (under systemd)."""
    if name == "data_dir":
        return SYSTEM_DATA_DIR
    if name == "admin_socket":
        return SYSTEM_SOCKET
    default = Settings.__dataclass_fields__[name]
    if default.default_factory is not dataclasses.MISSING:
        return default.default_factory()
    return default.default


def _load(scratch: Path, text: str) -> Settings:
    path = scratch / "one-setting.toml"
    path.write_text(text)
    return load_settings(config_path=path, env={})
