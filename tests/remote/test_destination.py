"""`--ssh [user@]host[:port]`: read as ssh would take it, refused with a reason when it is not a destination."""

from __future__ import annotations

import pytest

from appliance.remote import DestinationError, SshDestination, parse_destination, ssh_program


@pytest.mark.parametrize(
    ("text", "expected", "arguments"),
    [
        ("broome", SshDestination("broome"), ["broome"]),
        ("addie@broome-pi.local", SshDestination("broome-pi.local", "addie"), ["addie@broome-pi.local"]),
        ("addie@127.0.0.1:2201", SshDestination("127.0.0.1", "addie", 2201), ["-p", "2201", "addie@127.0.0.1"]),
        ("fe80::1", SshDestination("fe80::1"), ["fe80::1"]),
        ("[fe80::1]:22", SshDestination("fe80::1", None, 22), ["-p", "22", "fe80::1"]),
        ("me@[2001:db8::2]", SshDestination("2001:db8::2", "me"), ["me@2001:db8::2"]),
    ],
)
def test_a_destination_is_read_as_ssh_takes_it(text: str, expected: SshDestination, arguments: list[str]) -> None:
    destination = parse_destination(text)
    assert destination == expected
    assert destination.arguments() == arguments
    assert parse_destination(str(destination)) == destination


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no SSH destination"),
        ("broome:0", "port"),
        ("broome:ssh", "port"),
        ("broome:99999", "port"),
        ("-oProxyCommand=evil", "cannot start with '-'"),
        ("-x@broome", "cannot start with '-'"),
        ("addie@", "host is empty"),
        ("@broome", "user"),
        ("broome pi", "no spaces"),
        ("[fe80::1", "closing"),
        ("[fe80::1]x", "only ':PORT'"),
    ],
)
def test_what_is_not_a_destination_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(DestinationError, match=says):
        parse_destination(text)


def test_the_ssh_command_is_split_as_a_shell_would() -> None:
    assert ssh_program("ssh -F '/home/a b/config'") == ["ssh", "-F", "/home/a b/config"]
    with pytest.raises(DestinationError, match="cannot be read"):
        ssh_program("ssh -F 'unclosed")
    with pytest.raises(DestinationError, match="empty"):
        ssh_program("  ")
