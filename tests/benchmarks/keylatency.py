"""Time from a key press to the TUI's cursor drawn, as the admin's terminal shows it (tmux in control mode).

tmux's control mode reports each time the pane's program writes (`%output`), so the screen is read the
moment something was drawn rather than on a timer: the delay measured is the admin's, to within the
millisecond or two a capture takes.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time

_BACKGROUND = re.compile(rb"\x1b\[[0-9;]*48;[0-9;]+m")


class ControlClient:
    """`tmux -C attach` on a session: commands answered in order, and the moments the pane was drawn on."""

    def __init__(self, session: str) -> None:
        self.session = session
        self._process = subprocess.Popen(
            ["tmux", "-C", "attach-session", "-t", session], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._replies: queue.Queue[list[bytes]] = queue.Queue()
        self.drawn: queue.Queue[float] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._replies.get(timeout=10)  # attaching is answered like a command

    def command(self, text: str) -> list[bytes]:
        """Run a tmux command; its output lines."""
        assert self._process.stdin is not None
        self._process.stdin.write(text.encode() + b"\n")
        self._process.stdin.flush()
        return self._replies.get(timeout=10)

    def screen(self) -> list[bytes]:
        """The pane's lines with their colours."""
        return self.command(f"capture-pane -p -e -t {self.session}")

    def close(self) -> None:
        """Detach."""
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def _read(self) -> None:
        assert self._process.stdout is not None
        reply: list[bytes] | None = None
        for raw in self._process.stdout:
            line = raw.rstrip(b"\n")
            if line.startswith(b"%begin"):
                reply = []
            elif line.startswith((b"%end", b"%error")) and reply is not None:
                self._replies.put(reply)
                reply = None
            elif reply is not None:
                reply.append(line)
            elif line.startswith(b"%output"):
                self.drawn.put(time.monotonic())


def cursor_row(lines: list[bytes]) -> bytes | None:
    """The name on the table row under the cursor: the row below the header that starts on a background no other
    row starts on (a row ends on the scroll bar's)."""
    header = next((i for i, line in enumerate(lines) if b" Name " in _plain(line)), None)
    if header is None:
        return None
    rows = [line for line in lines[header + 1 :] if _plain(line).strip()]
    backgrounds = [(_BACKGROUND.findall(line) or [b""])[0] for line in rows]
    for line, background in zip(rows, backgrounds, strict=True):
        if background and backgrounds.count(background) == 1:
            return _plain(line).split()[0] if _plain(line).split() else None
    return None


def press_and_time(control: ControlClient, key: str, within: float = 10.0) -> float:
    """Press `key` and return the seconds until the terminal shows the cursor on another row."""
    before = cursor_row(control.screen())
    while not control.drawn.empty():
        control.drawn.get_nowait()
    started = time.monotonic()
    control.command(f"send-keys -t {control.session} {key}")
    deadline = started + within
    while True:
        control.drawn.get(timeout=max(0.0, deadline - time.monotonic()))
        now = cursor_row(control.screen())
        if now is not None and now != before:
            return time.monotonic() - started


def _plain(line: bytes) -> bytes:
    return re.sub(rb"\x1b\[[0-9;]*m", b"", line)
