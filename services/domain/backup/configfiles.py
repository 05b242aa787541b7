"""The config files a backup carries, by name: only these are ever read from an archive or written back.

A restore is run as root (to put /etc/stationmaster back), and an archive may come from anywhere: a member
name is never joined to a path unless it is one of these, and the file written is checked to be inside the
config directory, through no symbolic link.
"""

from __future__ import annotations

import os
from pathlib import Path

# The config file, and the reverse tunnel's settings and keys as deploy/install.sh makes them.
CONFIG_FILE = "stationmaster.toml"
KNOWN = (
    CONFIG_FILE,
    "tunnel/tunnel.env",
    "tunnel/id_ed25519",
    "tunnel/id_ed25519.pub",
    "tunnel/known_hosts",
)


def is_secret(name: str) -> bool:
    """True for a private key: in a backup only with secrets, and written back readable by root alone."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith("id_") and not base.endswith(".pub")


def target(config_dir: Path, name: str, config_name: str = CONFIG_FILE) -> Path:
    """Where a known config file goes back in `config_dir` (the config file as `config_name`, the one in force).

    Raises ValueError for a name that is not known, or a path that would go through a symbolic link or
    leave the directory.
    """
    if name not in KNOWN:
        raise ValueError(f"{name!r} is not a config file a backup carries")
    relative = Path(config_name if name == CONFIG_FILE else name)
    step = config_dir
    for part in relative.parts:
        step = step / part
        if step.is_symlink():
            raise ValueError(f"{step} is a symbolic link; a restore does not write through one")
    if Path(config_name).name != config_name or not step.resolve().is_relative_to(config_dir.resolve()):
        raise ValueError(f"{name!r} would be written outside {config_dir}")
    return step


def write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, keeping the file it replaces as `<name>.before-restore`."""
    path.parent.mkdir(mode=0o700 if path.parent.name == "tunnel" else 0o755, parents=True, exist_ok=True)
    if path.is_file():
        os.replace(path, path.with_name(path.name + ".before-restore"))
    temp = path.with_name(f".{path.name}.restore-tmp")
    temp.unlink(missing_ok=True)
    # O_EXCL and O_NOFOLLOW: nobody's file or link is written through, only this new one.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600 if is_secret(path.name) else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temp, path)
