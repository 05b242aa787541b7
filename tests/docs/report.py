"""What one check of the docs verified, and what it found untrue."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    """What one check verified (each item named) and what it found untrue."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def ok(self, item: str) -> None:
        """Count one verified claim."""
        self.checked.append(item)

    def bad(self, where: str, problem: str) -> None:
        """Record one untrue claim and where the docs make it."""
        self.problems.append(f"{where}: {problem}")
