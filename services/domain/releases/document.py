"""The feed document: a signed envelope around a JSON list of images, each named by its SHA-256."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.core.errors import InvalidInput
from services.domain.releases.keys import PublicKey, public_key_of

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ENVELOPE_FORMAT = "stationmaster-feed/1"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_ENTRIES = 1000


class FeedRefused(InvalidInput):
    """The feed (or an image in it) was not taken: bad signature, wrong key, damaged, or an image that differs."""

    code = "feed_refused"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One image the feed offers: where it is and exactly what its bytes must be."""

    url: str
    sha256: str
    size: int
    chip: str
    project: str | None
    version: str | None
    filename: str


@dataclass(frozen=True, slots=True)
class Feed:
    """A verified feed: `sequence` only grows, so an old feed replayed by a server is refused."""

    sequence: int
    entries: tuple[FeedEntry, ...]
    key_id: str


def sign_feed(key: Ed25519PrivateKey, sequence: int, entries: list[FeedEntry]) -> bytes:
    """The envelope's bytes: the payload as exact text, and an ed25519 signature over those bytes."""
    payload = json.dumps({"sequence": sequence, "images": [_entry_json(e) for e in entries]}, indent=1, sort_keys=True)
    signature = key.sign(payload.encode("utf-8"))
    envelope = {
        "format": ENVELOPE_FORMAT,
        "key": public_key_of(key).key_id,
        "payload": payload,
        "signature": base64.b64encode(signature).decode(),
    }
    return (json.dumps(envelope, indent=1) + "\n").encode()


def verify_feed(raw: bytes, key: PublicKey) -> Feed:
    """Check the envelope's signature with the admin's key, then parse the payload; refuse with the reason."""
    try:
        envelope = json.loads(raw)
        payload_text, signature_text = envelope["payload"], envelope["signature"]
        if envelope.get("format") != ENVELOPE_FORMAT or not isinstance(payload_text, str):
            raise FeedRefused(f"not a {ENVELOPE_FORMAT} document")
        signature = base64.b64decode(signature_text, validate=True)
    except FeedRefused:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise FeedRefused("the feed is not a signed Stationmaster feed (damaged, or another file)") from None
    if envelope.get("key") != key.key_id:
        raise FeedRefused(
            f"the feed is signed with key {envelope.get('key')!r}, not the one this appliance follows ({key.key_id})"
        )
    if not key.verifies(signature, payload_text.encode("utf-8")):
        raise FeedRefused("the feed's signature does not verify: it was changed after it was signed")
    try:
        payload = json.loads(payload_text)
        entries = tuple(_entry(item) for item in payload["images"][:_MAX_ENTRIES])
        sequence = payload["sequence"]
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise ValueError("sequence")
    except (ValueError, KeyError, TypeError) as exc:
        raise FeedRefused(f"the signed feed is malformed ({exc})") from None
    return Feed(sequence=sequence, entries=entries, key_id=key.key_id)


def _entry_json(entry: FeedEntry) -> dict[str, Any]:
    return {
        "url": entry.url,
        "sha256": entry.sha256,
        "size": entry.size,
        "chip": entry.chip,
        "project": entry.project,
        "version": entry.version,
        "filename": entry.filename,
    }


def _entry(item: Any) -> FeedEntry:
    if not isinstance(item, dict):
        raise ValueError("an image entry is not an object")
    sha256, size = str(item["sha256"]), item["size"]
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"{sha256[:70]!r} is not a SHA-256")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"size {size!r}")
    optional = {k: (None if item.get(k) is None else str(item[k])) for k in ("project", "version")}
    return FeedEntry(
        url=str(item["url"]),
        sha256=sha256,
        size=size,
        chip=str(item["chip"]),
        filename=str(item.get("filename") or f"{sha256[:12]}.bin"),
        **optional,
    )
