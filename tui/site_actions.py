"""Actions on the whole site from the TUI: a backup to the admin's home folder, a release-feed sync."""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from appliance.contract.client import AdminClient, AdminError


async def back_up(app: App[None], client: AdminClient) -> None:
    """Save a backup (secrets left out) in the home folder of whoever runs the TUI; say how it went."""
    target = Path.home()  # the file takes the service's name for it: the Pi's host name and the time
    app.notify(f"backing up to {target}…")
    try:
        saved = await client.backup(target)
    except AdminError as exc:
        app.notify(exc.message, title="Backup failed", severity="error")
        return
    app.notify(f"{saved['path']} ({saved['bytes']:,} bytes, secrets left out)", title="Backup saved")


async def sync_feed(app: App[None], client: AdminClient) -> None:
    """Look at the release feed now, fetch what is new and say what came of it."""
    try:
        outcome = await client.sync_feed()
    except AdminError as exc:
        app.notify(exc.message, title="Release feed", severity="error")
        return
    summary = (
        f"{len(outcome['imported'])} imported, {len(outcome['refused'])} refused,"
        f" {len(outcome['interrupted'])} cut short; {outcome['uplink_bytes']:,} bytes over the uplink"
    )
    app.notify(summary, title=f"Release feed {outcome['feed']}")
