"""A real terminal for the TUI's tests and benchmarks: a tmux session of 80 columns by 24 rows."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PROMPT = "READY$ "


class Terminal:
    """A tmux session, 80x24 by default, TERM=xterm-256color, running a plain shell or the given command."""

    def __init__(
        self, name: str, env: dict[str, str], command: Sequence[str] = (), *, width: int = 80, height: int = 24
    ) -> None:
        self.name = name
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # Without a command, a shell whose prompt tests can wait for; with one, the command is the pane's
        # own process (its pid is the pane's), so its CPU can be read.
        program = (
            " ".join(shlex.quote(part) for part in command)
            if command
            else f"PS1={shlex.quote(PROMPT)} bash --norc --noprofile"
        )
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                str(width),
                "-y",
                str(height),
                f"exec env -i HOME={shlex.quote(str(Path.home()))} PATH={shlex.quote(os.environ['PATH'])} "
                f"TERM=xterm-256color {exports} {program}",
            ],
            check=True,
            timeout=10,
        )

    @property
    def pid(self) -> int:
        """The process running in the pane."""
        return int(self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())

    def keys(self, *keys: str) -> None:
        """Type, as the admin would."""
        self._tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        """What the terminal shows now."""
        return self._tmux("capture-pane", "-p", "-J", "-t", self.name)

    def wait_for(self, condition: Callable[[str], bool], within: float = 20.0) -> str:
        """Read the screen until `condition` holds (a terminal offers no event to await)."""
        deadline = time.monotonic() + within
        while True:
            shown = self.screen()
            if condition(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed what was expected:\n{shown}")
            time.sleep(0.1)

    def record(self, path: Path | None) -> None:
        """Copy every byte the pane's program writes from now on to `path` (None stops copying)."""
        if path is None:
            self._tmux("pipe-pane", "-t", self.name)
        else:
            self._tmux("pipe-pane", "-o", "-t", self.name, f"cat > {shlex.quote(str(path))}")

    def close(self) -> None:
        """Kill the session."""
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, timeout=10)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True, timeout=10).stdout
