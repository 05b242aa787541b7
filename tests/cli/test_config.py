"""Settings come from defaults < file < environment < flags, and a bad one is named precisely."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from appliance.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {"STATIONMASTER_DATA_DIR": "/tmp/sm-data"}


def write(tmp_path: Path, text: str) -> Path:
    """A config file with `text`."""
    path = tmp_path / "stationmaster.toml"
    path.write_text(text)
    return path


def test_the_example_config_only_restates_the_defaults() -> None:
    from_example = load_settings(config_path=ROOT / "deploy" / "stationmaster.toml", env=BASE_ENV)
    defaults = load_settings(env=BASE_ENV)
    assert dataclasses.replace(from_example, sources={}) == dataclasses.replace(defaults, sources={})


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nport = 9000\nhost = "127.0.0.1"\n[stations]\npoll_interval_s = 30\n')
    env = {**BASE_ENV, "STATIONMASTER_HTTP_PORT": "9100", "STATIONMASTER_MDNS": "0"}
    settings = load_settings(config_path=path, env=env, overrides={"http_port": 9200, "log_level": None})
    assert (settings.http_host, settings.http_port, settings.poll_interval_s, settings.mdns) == (
        "127.0.0.1",
        9200,
        30,
        False,
    )
    assert settings.sources["http_port"] == "command line"
    assert settings.sources["mdns"] == "STATIONMASTER_MDNS"
    assert settings.sources["http_host"] == str(path)
    assert settings.admin_socket.name == "admin.sock"


def test_the_config_file_can_be_named_by_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[log]\nlevel = "debug"\n')
    assert load_settings(env={**BASE_ENV, "STATIONMASTER_CONFIG": str(path)}).log_level == "debug"


@pytest.mark.parametrize(
    ("text", "env", "words"),
    [
        ("[http]\nprot = 1\n", {}, "unknown key 'prot' in [http]; valid keys: host, port"),
        ("[web]\nport = 1\n", {}, "unknown section [web]"),
        ('[http]\nport = "eighty"\n', {}, "[http] port (STATIONMASTER_HTTP_PORT) must be a whole number"),
        ("[http]\nport = 70000\n", {}, "must be from 1 to 65535"),
        ("[stations]\npoll_interval_s = -5\n", {}, "must be positive"),
        ('[log]\nlevel = "loud"\n', {}, "must be one of debug, info, warning, error"),
        ("[http\n", {}, "not valid TOML"),
        ("", {"STATIONMASTER_HTTP_PORT": "x"}, "STATIONMASTER_HTTP_PORT must be a whole number"),
        ("", {"STATIONMASTER_MDNS": "maybe"}, "STATIONMASTER_MDNS must be 1 or 0"),
    ],
)
def test_a_bad_setting_is_named_with_what_is_wrong(tmp_path: Path, text: str, env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=write(tmp_path, text), env={**BASE_ENV, **env})
    assert words in str(caught.value)


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_path=tmp_path / "nope.toml", env=BASE_ENV)


def test_systemd_directories_are_used_when_given() -> None:
    settings = load_settings(env={"STATE_DIRECTORY": "/var/lib/sm", "RUNTIME_DIRECTORY": "/run/sm"})
    assert (settings.data_dir, settings.admin_socket) == (Path("/var/lib/sm"), Path("/run/sm/admin.sock"))
