"""Commands for stations: queued by the admin, delivered at check-in, answered by the station."""

from __future__ import annotations

from services.domain.commands.kinds import BUILTIN_KINDS, CRITICAL_TAG
from services.domain.commands.queue import CommandQueue

__all__ = ["BUILTIN_KINDS", "CRITICAL_TAG", "CommandQueue"]
