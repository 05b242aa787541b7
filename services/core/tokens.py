"""Station bearer tokens: minted at random, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def mint_token() -> str:
    """Return a new random token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 under which a token is stored; the token itself is never kept."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
