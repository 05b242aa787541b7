"""The two doors: the station API on TCP and the admin API on a unix socket, each open for as long as it is held."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

# A site's stations come back together after a power cut or an outage of the access point: a backlog of
# aiohttp's default 128 drops the handshakes of the rest, and each is retried a second and more later.
LISTEN_BACKLOG = 1024


class StartupError(Exception):
    """The service cannot start; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Bound:
    """Where the station API listens: the port (the kernel's when asked for 0) and the addresses bound."""

    runner: web.AppRunner
    port: int
    hosts: tuple[str, ...]


@contextlib.asynccontextmanager
async def station_listener(app: web.Application, host: str, port: int, timeout_s: float) -> AsyncIterator[Bound]:
    """Serve `app` on host:port until the block ends, then let in-flight requests finish."""
    # keepalive_timeout also bounds how long a new connection may take to send its headers; after an
    # early answer (413, 408) the rest of a body is read and dropped for at most lingering_time.
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=10,
        keepalive_timeout=timeout_s,
        lingering_time=min(10.0, timeout_s),
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True, backlog=LISTEN_BACKLOG)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} on {host} is already in use by another program;"
                    " stop it or choose another port with --http-port"
                ) from None
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        bound = _bound(runner)
        yield Bound(runner, bound[0][1] if bound else port, tuple(dict.fromkeys(h for h, _ in bound)))
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def admin_listener(app: web.Application, path: Path) -> AsyncIterator[web.AppRunner]:
    """Serve `app` on the unix socket at `path` until the block ends; the socket file goes with it."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    claimed = False
    try:
        await _claim_socket_path(path)
        claimed = True
        await web.UnixSite(runner, str(path)).start()
        # 0660: whoever is in the socket's group is an admin; SSH is the authentication.
        os.chmod(path, 0o660)
        yield runner
    finally:
        await runner.cleanup()
        if claimed:  # never another live service's socket
            await asyncio.to_thread(_remove_socket, path)


async def _claim_socket_path(path: Path) -> None:
    """Remove a stale socket left by a crash; refuse if a live service still answers on it."""
    if not await asyncio.to_thread(_is_socket_or_absent, path):
        raise StartupError(f"{path} exists and is not a socket; remove it or choose another --admin-socket")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 2)
    except (ConnectionRefusedError, FileNotFoundError, TimeoutError):
        await asyncio.to_thread(path.unlink, True)
        return
    writer.close()
    raise StartupError(f"another Stationmaster service is already listening on {path}")


def _remove_socket(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_socket():
            path.unlink()


def _is_socket_or_absent(path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.is_socket() or not (path.exists() or path.is_symlink())


def _bound(runner: web.AppRunner) -> list[tuple[str, int]]:
    """The (address, port) of each TCP socket the runner's sites are bound to (the port differs when asked for 0)."""
    bound = []
    for server in runner.sites:
        sock_server = getattr(server, "_server", None)
        for sock in getattr(sock_server, "sockets", None) or ():
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host, port = sock.getsockname()[:2]
                bound.append((str(host), int(port)))
    return bound
