"""Ed25519 feed keys (with `cryptography`): the private one stays on the admin's machine, the public one here.

`cryptography` is imported where a key is used, not at start-up: it costs `serve` about 10 MiB of a Pi's
memory, and most sites never follow a feed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.core.errors import InvalidInput

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PREFIX = "ed25519:"


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A feed's public key as the admin pastes it: `ed25519:` and 32 bytes in base64."""

    raw: bytes

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """Read `ed25519:<base64>`; refuse anything else with a message that shows the expected form."""
        value = text.strip()
        if not value.startswith(PREFIX):
            raise InvalidInput("a feed key looks like ed25519:<44 base64 characters> (`stationmaster feed keygen`)")
        try:
            raw = base64.b64decode(value[len(PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the feed key's base64 is damaged") from None
        if len(raw) != 32:
            raise InvalidInput(f"an ed25519 public key is 32 bytes, this one is {len(raw)}")
        return cls(raw)

    def __str__(self) -> str:
        return PREFIX + base64.b64encode(self.raw).decode()

    @property
    def key_id(self) -> str:
        """A short name for the key (the first 16 hex digits of its SHA-256), shown to tell keys apart."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """True if `signature` is this key's over `message`."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def generate_key() -> Ed25519PrivateKey:
    """A new signing key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def public_key_of(key: Ed25519PrivateKey) -> PublicKey:
    """The public half, to give to each appliance."""
    from cryptography.hazmat.primitives import serialization

    return PublicKey(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def private_key_pem(key: Ed25519PrivateKey, passphrase: bytes | None) -> bytes:
    """The private key as PKCS#8 PEM, encrypted when a passphrase is given."""
    from cryptography.hazmat.primitives import serialization

    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(pem: bytes, passphrase: bytes | None) -> Ed25519PrivateKey:
    """Read a key written by private_key_pem; a wrong passphrase or another kind of key is refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError:
        raise InvalidInput("the key is encrypted: give its passphrase") from None
    except ValueError:
        raise InvalidInput("the key cannot be read: wrong passphrase, or not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("the key is not an ed25519 key")
    return key
