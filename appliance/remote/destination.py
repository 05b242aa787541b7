"""Where the appliance is, as the admin names it for ssh: `[user@]host[:port]`, or a Host of ~/.ssh/config."""

from __future__ import annotations

import shlex
from dataclasses import dataclass


class DestinationError(ValueError):
    """The text does not name an SSH destination; the message says why."""


@dataclass(frozen=True, slots=True)
class SshDestination:
    """A host (a name, an address or a Host alias of the admin's ssh config), perhaps a user and a port."""

    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and self.port is not None else self.host
        return f"{self.user + '@' if self.user else ''}{host}{':' + str(self.port) if self.port else ''}"

    def arguments(self) -> list[str]:
        """What follows ssh's options on its command line: `-p PORT` if given, then `[user@]host`."""
        port = ["-p", str(self.port)] if self.port is not None else []
        return [*port, f"{self.user}@{self.host}" if self.user else self.host]


def parse_destination(text: str) -> SshDestination:
    """Read `[user@]host[:port]` (an IPv6 address with a port in brackets: `[fe80::1]:2201`)."""
    text = text.strip()
    if not text:
        raise DestinationError("no SSH destination given: [user@]host[:port], e.g. addie@broome-pi.local:22")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise DestinationError(f"{text!r} is not an SSH destination: no spaces or control characters")
    user, at, rest = text.rpartition("@")
    if at and not user:
        raise DestinationError(f"{text!r}: the user before '@' is empty")
    host, port = _host_and_port(rest, text)
    # ssh would read a leading '-' as one of its own options.
    for part, what in ((user, "user"), (host, "host")):
        if part.startswith("-"):
            raise DestinationError(f"{text!r}: a {what} cannot start with '-'")
    return SshDestination(host=host, user=user or None, port=port)


def ssh_program(command: str) -> list[str]:
    """The ssh command line the admin chose (`ssh`, or e.g. `ssh -F ~/.ssh/site_config`), split as a shell would."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise DestinationError(f"the ssh command {command!r} cannot be read: {exc}") from None
    if not words:
        raise DestinationError("the ssh command is empty (the default is `ssh`)")
    return words


def _host_and_port(rest: str, text: str) -> tuple[str, int | None]:
    if rest.startswith("["):
        host, bracket, after = rest[1:].partition("]")
        if not bracket or not host:
            raise DestinationError(f"{text!r}: an address in brackets needs its closing ']'")
        if not after:
            return host, None
        if not after.startswith(":"):
            raise DestinationError(f"{text!r}: only ':PORT' may follow ']'")
        return host, _port(after[1:], text)
    if rest.count(":") == 1:  # more than one is an IPv6 address without a port
        host, _, port = rest.partition(":")
        if not host:
            raise DestinationError(f"{text!r}: the host is empty")
        return host, _port(port, text)
    if not rest:
        raise DestinationError(f"{text!r}: the host is empty")
    return rest, None


def _port(text: str, whole: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise DestinationError(f"{whole!r}: the port must be a number from 1 to 65535, got {text!r}")
    return int(text)
