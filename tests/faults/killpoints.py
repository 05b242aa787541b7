"""Power cuts at exact moments: an audit hook inside `serve` that SIGKILLs it just before its Nth file step.

Python announces every rename, link, remove and SQLite connection to audit hooks before doing it
(sys.addaudithook, PEP 578). Installed through a sitecustomize on the child's PYTHONPATH, the hook counts
those steps on paths under the data directory from the moment a file whose name ends with the arming suffix
is opened for writing (the restore's upload), and kills its own process at step N, as a power cut would:
no handler runs, nothing is flushed. With N = 0 it only writes down the steps, to learn how many there are.
The service's code is not touched: the steps are its own.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

_WATCHED = ("os.rename", "os.link", "os.remove", "sqlite3.connect")
_SITECUSTOMIZE = "import tests.faults.killpoints\ntests.faults.killpoints.install()\n"


def environment(folder: Path, data_dir: Path, log: Path, *, at: int, arm: str = "upload.tar.gz") -> dict[str, str]:
    """The variables that install the hook in a `serve` child (its sitecustomize is written into `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    root = Path(__file__).resolve().parents[2]
    return {
        "PYTHONPATH": os.pathsep.join([str(folder), str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "KILLPOINT_UNDER": str(data_dir),
        "KILLPOINT_LOG": str(log),
        "KILLPOINT_AT": str(at),
        "KILLPOINT_ARM": arm,
    }


def steps(log: Path) -> list[str]:
    """The steps a run with N = 0 wrote down, in order."""
    return log.read_text().splitlines() if log.exists() else []


def install() -> None:
    """Add the hook, if this process was started with the variables `environment` gives."""
    under = os.environ.get("KILLPOINT_UNDER")
    if not under:
        return
    at, arm = int(os.environ["KILLPOINT_AT"]), os.environ["KILLPOINT_ARM"]
    log = os.open(os.environ["KILLPOINT_LOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    state = {"armed": False, "count": 0}

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open" and not state["armed"]:
            path, mode = args[0], args[1]
            if isinstance(path, str) and path.endswith(arm) and isinstance(mode, str) and "w" in mode:
                state["armed"] = True
            return
        if not state["armed"] or event not in _WATCHED:
            return
        if event == "os.remove" and args[1] not in (None, -1):
            return  # relative to a folder descriptor: shutil.rmtree clearing a scratch folder
        path = str(args[0]).removeprefix("file:")
        if not path.startswith(under):
            return
        state["count"] += 1
        os.write(log, f"{os.getpid()} {state['count']} {event} {' '.join(str(a) for a in args[:2])}\n".encode())
        if state["count"] == at:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
