"""esptool's output, routed to the job running in the calling thread: esptool has one process-wide logger."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, Protocol

_log = logging.getLogger("esptool")
_local = threading.local()
_install_lock = threading.Lock()
_installed = False


class EsptoolSink(Protocol):
    """Where one job's esptool output goes."""

    def line(self, text: str) -> None:
        """A line esptool printed."""

    def progress(self, done: int, total: int) -> None:
        """esptool's progress through the current write (bytes on the wire, compressed or not)."""


class EsptoolDied(Exception):
    """esptool asked to exit the process (`log.die`); in the appliance that ends the job, never the service."""


@contextmanager
def routed_to(sink: EsptoolSink) -> Iterator[None]:
    """Send esptool's output in this thread to `sink` for the duration of the block."""
    _install()
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = previous


def _routed_log() -> Any:
    """The logger esptool gets: each thread's output to its job, anything else to the service log."""
    from esp_pylib.logger import EspLogBase  # imported with esptool, when a board is first talked to

    class RoutedLog(EspLogBase):
        def print(self, *args: Any, **kwargs: Any) -> None:
            self._line(kwargs.get("sep", " ").join(str(a) for a in args))

        def err(self, *args: Any, suggestion: str | None = None) -> None:
            self._line(" ".join(str(a) for a in args), logging.WARNING)

        def warn(self, *args: Any, suggestion: str | None = None) -> None:
            self._line(" ".join(str(a) for a in args), logging.INFO)

        def note(self, *args: Any) -> None:
            self._line(" ".join(str(a) for a in args))

        def hint(self, *args: Any) -> None:
            self._line(" ".join(str(a) for a in args))

        def debug(self, *args: Any) -> None:
            _log.debug("%s", "".join(str(a) for a in args))

        def die(self, *args: Any, exit_code: int = 1, suggestion: str | None = None) -> NoReturn:
            raise EsptoolDied(" ".join(str(a) for a in args))

        def set_verbosity(self, mode: int | str) -> None:
            pass  # the appliance decides what it shows

        def progress_bar(
            self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "", bar_length: int = 30
        ) -> None:
            sink: EsptoolSink | None = getattr(_local, "sink", None)
            if sink is not None:
                sink.progress(cur_iter, total_iters)

        def _line(self, text: str, level: int = logging.DEBUG) -> None:
            text = text.strip()
            if not text or set(text) <= {"."}:
                return  # esptool's "Connecting...." dots
            sink: EsptoolSink | None = getattr(_local, "sink", None)
            if sink is not None:
                sink.line(text)
            else:
                _log.log(level, "%s", text)

    return RoutedLog()


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            from esptool.logger import log as esptool_log

            esptool_log.set_logger(_routed_log())
            _installed = True
