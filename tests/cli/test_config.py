"""Settings come from defaults < file < environment < flags, and a bad one is named precisely."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import platformdirs
import pytest

from appliance import config
from appliance.cli.main import main
from appliance.config import ConfigError, Settings, client_admin_socket, describe, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "stationmaster.toml"
BASE_ENV = {"STATIONMASTER_DATA_DIR": "/tmp/sm-data"}


@pytest.fixture(autouse=True)
def no_system_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever /etc/stationmaster holds on this machine stays out of the tests."""
    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "no-system-config.toml")


def write(tmp_path: Path, text: str) -> Path:
    """A config file with `text`."""
    path = tmp_path / "stationmaster.toml"
    path.write_text(text)
    return path


def test_the_example_config_sets_nothing() -> None:
    # It is what install.sh puts in /etc: a key set there would pin today's default for good.
    from_example = load_settings(config_path=EXAMPLE, env=BASE_ENV)
    assert from_example.sources == {"data_dir": "STATIONMASTER_DATA_DIR"}
    assert from_example == load_settings(env=BASE_ENV)


def test_the_example_config_documents_every_setting(tmp_path: Path) -> None:
    # Uncommenting every `# key = value` line must give a valid file that sets every setting.
    text = re.sub(r"^# (\w+ = )", r"\1", EXAMPLE.read_text(), flags=re.MULTILINE)
    path = write(tmp_path, text)
    settings = load_settings(config_path=path, env={})
    assert {source for _, _, source in describe(settings)} == {str(path)}
    assert (settings.data_dir, settings.admin_socket) == (config.SYSTEM_DATA_DIR, config.SYSTEM_SOCKET)


@pytest.mark.parametrize(
    ("file_port", "env_port", "flag_port", "expected", "source"),
    [
        (None, None, None, 8080, "default"),
        (9000, None, None, 9000, "FILE"),
        (9000, "9100", None, 9100, "STATIONMASTER_HTTP_PORT"),
        (9000, "9100", 9200, 9200, "command line"),
        (None, None, 9200, 9200, "command line"),
    ],
)
def test_each_layer_overrides_the_one_below(
    tmp_path: Path, file_port: int | None, env_port: str | None, flag_port: int | None, expected: int, source: str
) -> None:
    path = write(tmp_path, f"[http]\nport = {file_port}\n" if file_port else "")
    env = {**BASE_ENV, **({"STATIONMASTER_HTTP_PORT": env_port} if env_port else {})}
    settings = load_settings(config_path=path, env=env, overrides={"http_port": flag_port})
    assert settings.http_port == expected
    assert dict((name, where) for name, _, where in describe(settings))["http_port"] == source.replace(
        "FILE", str(path)
    )


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


def test_environment_values_are_parsed_into_their_types() -> None:
    env = {
        **BASE_ENV,
        "STATIONMASTER_MDNS_INTERFACES": "eth0, wlan0",
        "STATIONMASTER_MDNS": "yes",
        "STATIONMASTER_LOG_LEVEL": "DEBUG",
        "STATIONMASTER_ADMIN_SOCKET": "/tmp/sm.sock",
    }
    settings = load_settings(env=env)
    assert settings.mdns_interfaces == ("eth0", "wlan0")
    assert settings.mdns is True
    assert settings.log_level == "debug"
    assert settings.admin_socket == Path("/tmp/sm.sock")


def test_the_config_file_can_be_named_by_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[log]\nlevel = "debug"\n')
    assert load_settings(env={**BASE_ENV, "STATIONMASTER_CONFIG": str(path)}).log_level == "debug"


@pytest.mark.parametrize(
    ("text", "env", "words"),
    [
        ("[http]\nprot = 1\n", {}, "FILE: unknown key 'prot' in [http]; valid keys: host, port"),
        (
            "[web]\nport = 1\n",
            {},
            "FILE: unknown section [web]; the sections are admin, clock, commands, firmware, health, http",
        ),
        ("port = 8080\n", {}, "FILE: 'port' must be inside a section (did you mean [http] port?)"),
        ('[http]\nport = "eighty"\n', {}, "FILE: [http] port must be a whole number, got 'eighty'"),
        ("[http]\nport = true\n", {}, "FILE: [http] port must be a whole number, got True"),
        ('[mdns]\ninterfaces = "eth0"\n', {}, "FILE: [mdns] interfaces must be a list of names, got 'eth0'"),
        ("[mdns]\nenabled = 1\n", {}, "FILE: [mdns] enabled must be true or false, got 1"),
        ("[http]\nport = 70000\n", {}, "FILE: [http] port must be from 1 to 65535"),
        ("[stations]\npoll_interval_s = -5\n", {}, "FILE: [stations] poll_interval_s must be positive, got -5"),
        ("[retention]\nevent_days = 0\n", {}, "FILE: [retention] event_days must be positive, got 0"),
        ('[log]\nlevel = "loud"\n', {}, "FILE: [log] level must be one of debug, info, warning, error, got 'loud'"),
        ('[mdns]\nhostname = "pi.local"\n', {}, "FILE: [mdns] hostname must be 1 to 63 ASCII letters"),
        ("[http\n", {}, "FILE: not valid TOML"),
        ("", {"STATIONMASTER_HTTP_PORT": "x"}, "STATIONMASTER_HTTP_PORT must be a whole number, got 'x'"),
        ("", {"STATIONMASTER_HTTP_PORT": "70000"}, "STATIONMASTER_HTTP_PORT must be from 1 to 65535"),
        ("", {"STATIONMASTER_MDNS": "maybe"}, "STATIONMASTER_MDNS must be 1 or 0"),
        ("", {"STATIONMASTER_POLL_INTERVAL_S": "-1"}, "STATIONMASTER_POLL_INTERVAL_S must be positive, got -1"),
    ],
)
def test_a_bad_setting_is_named_with_where_it_came_from(
    tmp_path: Path, text: str, env: dict[str, str], words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, env={**BASE_ENV, **env})
    assert words.replace("FILE", str(path)) in str(caught.value)


def test_a_bad_flag_is_named_as_a_flag() -> None:
    with pytest.raises(ConfigError, match="the command-line value of http_port must be from 1 to 65535"):
        load_settings(env=BASE_ENV, overrides={"http_port": 123456})


def test_a_misspelt_override_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="http_prot"):
        load_settings(env=BASE_ENV, overrides={"http_prot": 1})


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.toml does not exist"):
        load_settings(config_path=tmp_path / "nope.toml", env=BASE_ENV)
    with pytest.raises(ConfigError, match=r"STATIONMASTER_CONFIG names .*nope\.toml, which does not exist"):
        load_settings(env={**BASE_ENV, "STATIONMASTER_CONFIG": str(tmp_path / "nope.toml")})


def test_a_user_service_keeps_everything_in_the_user_data_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    settings = load_settings(env={})
    assert settings.data_dir == Path(platformdirs.user_data_dir("stationmaster"))
    assert settings.admin_socket == settings.data_dir / "admin.sock"
    moved = load_settings(env={}, overrides={"data_dir": Path("/tmp/elsewhere")})
    assert moved.admin_socket == Path("/tmp/elsewhere/admin.sock")


def test_root_uses_the_system_directories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    settings = load_settings(env={})
    assert (settings.data_dir, settings.admin_socket) == (Path("/var/lib/stationmaster"), config.SYSTEM_SOCKET)


def test_systemd_directories_are_used_when_given() -> None:
    settings = load_settings(env={"STATE_DIRECTORY": "/var/lib/sm", "RUNTIME_DIRECTORY": "/run/sm"})
    assert (settings.data_dir, settings.admin_socket) == (Path("/var/lib/sm"), Path("/run/sm/admin.sock"))


def test_describe_lists_every_setting_with_its_source(tmp_path: Path) -> None:
    settings = load_settings(env={**BASE_ENV, "STATIONMASTER_HTTP_PORT": "9123"})
    rows = {name: (value, source) for name, value, source in describe(settings)}
    assert set(rows) == {f.name for f in dataclasses.fields(Settings)} - {"sources"}
    assert rows["http_port"] == ("9123", "STATIONMASTER_HTTP_PORT")
    assert rows["poll_interval_s"] == ("60", "default")


def test_a_client_finds_the_socket_named_by_the_environment_then_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[admin]\nsocket = "/srv/sm/admin.sock"\n')
    named = {"STATIONMASTER_ADMIN_SOCKET": "/tmp/x.sock"}
    assert client_admin_socket(config_path=path, env=named) == Path("/tmp/x.sock")
    assert client_admin_socket(config_path=path, env={}) == Path("/srv/sm/admin.sock")


def test_a_client_prefers_the_running_system_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system_socket = tmp_path / "run" / "admin.sock"
    monkeypatch.setattr(config, "SYSTEM_SOCKET", system_socket)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    # No system service: the socket a service started by this user would have.
    user_socket = Path(platformdirs.user_data_dir("stationmaster")) / "admin.sock"
    assert client_admin_socket(config_path=None, env={}) == user_socket
    moved = {"STATIONMASTER_DATA_DIR": str(tmp_path / "mine")}
    assert client_admin_socket(config_path=None, env=moved) == tmp_path / "mine" / "admin.sock"
    system_socket.parent.mkdir()
    system_socket.touch()
    assert client_admin_socket(config_path=None, env={}) == system_socket


def test_config_check_shows_the_installed_services_directories_to_an_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An admin's shell (not root, no systemd directories) on a Pi where install.sh put the system config.
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for variable in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "STATIONMASTER_CONFIG", "STATIONMASTER_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    config.SYSTEM_CONFIG.write_text(EXAMPLE.read_text())
    assert main(["config", "check"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["data_dir"] == [str(config.SYSTEM_DATA_DIR), "(default)"]
    assert rows["admin_socket"] == [str(config.SYSTEM_SOCKET), "(default)"]
