"""Who a station request comes from: the token it holds, or the key it generated and sent at its first contact.

Anyone on the site's LAN can send a request naming any MAC, so a MAC proves nothing. A station that speaks
the JSON contract makes a random key once (at its first boot) and sends it in every request without a
token; the appliance pins it at the station's first contact, as SSH pins a host key. From then on only a
request carrying that key speaks for the station without a token; another key, or none, is refused and
raised as an alert (two devices claim one MAC), and is never handed a token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from appliance.contract.events import AlertKind
from services.core.errors import InvalidInput, Unauthorized
from services.core.tokens import hash_token
from services.domain.health.alerts import raise_alert
from services.store.journal import EventLog, Journal
from services.store.registry.checkin_buffer import checkin_view
from services.store.registry.stations import key_fingerprint

KEY_FIELD = "station_key"
CLAIM_ALERT: AlertKind = "station_claimed_twice"
# At least 128 bits as 32 hex digits (or 22+ base64url characters of 16 random bytes, if written so).
_KEY = re.compile(r"[A-Za-z0-9_-]{22,128}")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a station request comes from: its MAC, and how (if at all) it proved it is that station."""

    mac: str
    authenticated: bool  # it sent the station's token
    arriving: int | None = None  # the provision whose token it presented, when it has no station row yet
    token_hash: str | None = None
    key_hash: str | None = None  # the SHA-256 of the station key it sent, if any
    proven: bool = False  # its key is the one pinned for the station


class KeyMismatch(Unauthorized):
    """A request without the station's token carried another key than the one pinned (or none)."""

    code = "station_key_mismatch"

    def __init__(self, mac: str, presented: str | None) -> None:
        super().__init__(
            f"{mac} was first seen with another station key: this request is refused and the admin is told"
        )
        self.mac = mac
        self.presented = presented


def parse_station_key(body: object) -> str | None:
    """The SHA-256 of the body's `station_key` (None if it has none); the key itself is never kept."""
    value = body.get(KEY_FIELD) if isinstance(body, dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise InvalidInput(f"field {KEY_FIELD!r} must be 22 to 128 letters, digits, '-' or '_' (a random key)")
    return hash_token(value)


def pins_now(before: Mapping[str, Any], caller: Caller) -> bool:
    """True if the key this request carries is to be pinned: the station has none, and this is its first contact
    (or it is still pending, or it proved itself with its token)."""
    if caller.key_hash is None or before["key_hash"] is not None:
        return False
    return caller.authenticated or before["status"] == "pending" or before["last_seen_at"] is None


def may_have_token(before: Mapping[str, Any], caller: Caller, pinned_now: bool) -> bool:
    """True if a token-less request of an accepted station may be handed a token: its pinned key came with it,
    or the admin accepted it before it was ever heard and this is its first contact.

    A station first heard without a key, then accepted, proves nothing but its MAC: it gets no token from a
    check-in (a bench bundle or a USB flash gives it one), so nobody on the LAN can take its place.
    """
    if caller.authenticated or before["status"] != "accepted":
        return False
    return caller.proven or pinned_now or (before["last_seen_at"] is None and not before["has_token"])


class Identities:
    """Tells who a request comes from, and tells the admin when two devices claim one MAC."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._registry = journal.registry

    async def identify(self, mac: str, bearer: str | None, key_hash: str | None = None) -> Caller:
        """Check a request's token, or its key against the pinned one; refuse a token-holder that sent neither."""
        view = await self._registry.views.view(mac)
        if bearer is not None:
            if view is not None and view["token_hash"] == hash_token(bearer):
                return Caller(mac, authenticated=True, key_hash=key_hash)  # its own token: no need to look further
            owner = await self._registry.stations.mac_for_token(hash_token(bearer))
            if owner is None:
                # A station from a bench bundle, presenting the token of its NVS for the first time.
                provision = await self._registry.provisions.awaiting_by_token(hash_token(bearer))
                if provision is None:
                    raise Unauthorized("unknown or revoked token")
                return Caller(mac, True, arriving=provision.id, token_hash=hash_token(bearer), key_hash=key_hash)
            if owner != mac:
                raise Unauthorized("this token belongs to another station")
            return Caller(mac, authenticated=True, key_hash=key_hash)
        token_hash, unconfirmed, pinned = (
            (view["token_hash"], bool(view["token_unconfirmed"]), view["key_hash"]) if view else (None, False, None)
        )
        if token_hash is not None and not unconfirmed:
            raise Unauthorized("this station holds a token: send it as 'Authorization: Bearer <token>'")
        if pinned is not None and key_hash != pinned:
            raise KeyMismatch(mac, key_hash)
        return Caller(mac, authenticated=False, key_hash=key_hash, proven=pinned is not None)

    async def claimed_twice(self, mac: str, presented: str | None, peer: str | None) -> None:
        """Raise the alert that a device without the pinned key claims `mac` (once: open until the admin clears it)."""
        view = await checkin_view(self._registry.db, mac)
        if view is None or CLAIM_ALERT in (view["open_alerts"] or "").split(","):
            return  # a flood of claims is one alert, not a write per request
        other = f"one from {peer}" if peer else "another"
        other += f" with the key {key_fingerprint(presented)}" if presented else " with no key"
        message = (
            f"two devices claim {mac} ({view['name']}): the one whose key {key_fingerprint(view['key_hash'])} was"
            f" pinned at its first contact keeps it, and {other} is refused. If the pinned one is not yours,"
            " delete the station: the next to check in is pinned"
        )

        async def op(entry: EventLog) -> None:
            await raise_alert(
                entry,
                CLAIM_ALERT,
                mac,
                message,
                pinned=key_fingerprint(view["key_hash"]),
                presented=key_fingerprint(presented),
                address=peer,
            )

        await self._journal.write(op)


async def unproven_again(entry: EventLog, mac: str, name: str, address: str | None) -> None:
    """Inside a check-in's write: a keyless station checks in without the token it was handed (alert, once)."""
    await raise_alert(
        entry,
        CLAIM_ALERT,
        mac,
        f"{name} ({mac}) checked in without a token again: the one it was given at its first check-in went to"
        " whoever asked first and has not been used since (the answer was lost, or another device took it). Its"
        " firmware sends no station key, so it proves nothing but its MAC and no other token is given: onboard it"
        " again (a bench bundle or USB), or delete it and let it come back with a key",
        address=address,
    )
