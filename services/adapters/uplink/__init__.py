"""The metered uplink: following the upstream release feed, every image fetched once and resumed if cut."""

from __future__ import annotations

from services.adapters.uplink.follower import FeedFollower, SyncOutcome

__all__ = ["FeedFollower", "SyncOutcome"]
