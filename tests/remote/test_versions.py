"""A TUI and an appliance of different versions: said plainly, and what both know still works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from textual.widgets import Static

from appliance.contract import version
from appliance.contract.client import AdminClient
from appliance.contract.stream import CompactStream
from services.adapters.admin_api.keys import BUS
from services.adapters.admin_api.stream import event_stream
from services.core.eventbus import EventBus
from services.root.service import StationmasterService
from tests.tui.test_app import until
from tui import remote
from tui.app import StationmasterApp


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ({"version": "0.1.0", "api": "1.1"}, None),
        ({"version": "0.2.0", "api": "1.1"}, "Stationmaster 0.2.0 (admin API 1.1), this TUI 0.1.0 (1.1): the same"),
        (
            {"version": "0.0.9"},
            "(admin API 1.0), this TUI 0.1.0 (1.1): everything works but what the appliance does"
            " not have yet (the compact event stream that picks up where it left off after a dropped link)",
        ),
        ({"version": "0.3.0", "api": "1.4"}, "everything this TUI shows works; what the appliance added since needs"),
        ({"version": "1.0.0", "api": "2.0"}, "they cannot work together; install Stationmaster 1.0.0 here"),
        ({"version": "0.1.0", "api": "garbled"}, "(admin API 1.0)"),
    ],
)
def test_another_version_is_said_plainly(status: dict[str, str], says: str | None) -> None:
    notice = version.compatibility(status, "0.1.0")
    if says is None:
        assert notice is None
    else:
        assert notice is not None
        assert says in notice


async def test_the_tui_says_so_above_everything(service: StationmasterService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "__version__", "0.2.0")  # this TUI, one version on from the appliance
    app = StationmasterApp(service.settings.admin_socket)
    async with app.run_test(size=(120, 30)) as pilot:
        banner = app.query_one("#banner", Static)
        await until(pilot, lambda: banner.has_class("shown"))
        assert banner.has_class("notice"), "told as a notice, not as a warning"
        assert "this TUI 0.2.0" in str(banner.render())


async def test_an_appliance_with_only_the_plain_stream_is_still_followed(tmp_path: Path) -> None:
    # An appliance of the version before: its stream knows nothing of `compact` and sends every message plain.
    bus = EventBus()

    async def older_stream(request: web.Request) -> web.StreamResponse:
        return await event_stream(request.clone(rel_url="/v1/events/stream"))

    app = web.Application()
    app[BUS] = bus
    app.router.add_get("/v1/events/stream", older_stream)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.UnixSite(runner, str(tmp_path / "older.sock")).start()
    stream = CompactStream()
    heard: list[bool] = []
    try:
        async with AdminClient(tmp_path / "older.sock") as client:
            messages = cast(AsyncGenerator[dict[str, Any], None], client.follow(stream, on_connect=heard.append))
            first = asyncio.ensure_future(anext(messages))
            while not heard:  # noqa: ASYNC110 (the bus offers no event for a subscriber's arrival)
                await asyncio.sleep(0.01)
            bus.publish({"id": 7, "at": 1.0, "kind": "station_accepted", "mac": "24:0A:C4:00:00:01"})
            assert (await first)["kind"] == "station_accepted"
            await messages.aclose()
    finally:
        await runner.cleanup()
    assert heard == [False], "not resumed: the TUI fetches its views, as it always did"
    assert stream.cursor is None
