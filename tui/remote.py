"""The TUI on the admin's own machine: what it says when the SSH link drops, or the appliance runs another version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from appliance import __version__
from appliance.contract.version import compatibility


class Remote(Protocol):
    """The SSH forward the TUI reaches the appliance through (the command line's `SshForward`)."""

    @property
    def destination(self) -> object:
        """Where the appliance is, as the admin named it."""

    @property
    def trouble(self) -> str | None:
        """Why the forward is down, while it is (what ssh said)."""

    def said(self) -> str:
        """The last thing ssh said (a channel it could not open, a server that stopped answering)."""


def lost_link(remote: Remote | None, reason: str) -> str:
    """Why the stream broke, in words: the local reason, or what the SSH link says about itself."""
    if remote is None:
        return reason
    if remote.trouble:
        return f"the SSH link to {remote.destination} is down: {remote.trouble}"
    said = remote.said()
    return f"{remote.destination} did not answer over SSH" + (f": {said}" if said else "")


def version_notice(status: Mapping[str, Any]) -> str | None:
    """A plain sentence when the appliance runs another version than this TUI."""
    return compatibility(status, __version__)
