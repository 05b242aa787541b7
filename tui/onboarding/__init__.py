"""The Onboarding tab: the roads a new station takes in, each its own `Road` widget in its own module.

A road lists what it is waiting for and runs its short wizard. Only the roads that work are in ROADS: a
new one (on-site USB, Improv serial) is a `Road` subclass in its own module, added to ROADS in the order
the admin should consider them.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from appliance.contract.client import AdminClient
from tui.onboarding.bundle import BenchBundleRoad
from tui.onboarding.claim import ClaimRoad
from tui.onboarding.improv import ImprovRoad
from tui.onboarding.road import Road
from tui.onboarding.usb import UsbRoad

ROADS: list[type[Road]] = [BenchBundleRoad, UsbRoad, ImprovRoad, ClaimRoad]

__all__ = ["ROADS", "OnboardingPane", "Road"]


class OnboardingPane(VerticalScroll):
    """Every road in ROADS, one under the other."""

    def __init__(self, client: AdminClient, roads: list[type[Road]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.roads = list(ROADS if roads is None else roads)

    def compose(self) -> ComposeResult:
        """An intro line, then the roads."""
        titles = ", ".join(road.TITLE.lower() for road in self.roads)
        yield Static(f"How a new station comes in ({titles}). Tab moves between the roads.", classes="road-intro")
        for road in self.roads:
            yield road(self.client)

    def reload(self) -> None:
        """Every road fetches what it shows again."""
        for road in self.query(Road):
            road.reload()

    def route(self, kind: str) -> None:
        """An event happened: the roads it concerns reload."""
        for road in self.query(Road):
            if road.wants(kind):
                road.reload()
