"""Signed release feeds: the admin's keys, the feed document, and checking one came from him."""

from __future__ import annotations

from services.domain.releases.document import Feed, FeedEntry, FeedRefused, sign_feed, verify_feed
from services.domain.releases.keys import PublicKey, generate_key, load_private_key, private_key_pem

__all__ = [
    "Feed",
    "FeedEntry",
    "FeedRefused",
    "PublicKey",
    "generate_key",
    "load_private_key",
    "private_key_pem",
    "sign_feed",
    "verify_feed",
]
