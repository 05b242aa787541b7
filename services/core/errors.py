"""One hierarchy of domain errors; the HTTP layers turn each into a status in exactly one place."""

from __future__ import annotations


class StationmasterError(Exception):
    """Root of every error the appliance raises on purpose; `code` is stable, the message is for people."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(StationmasterError):
    """The caller sent something malformed, mistyped or out of range."""

    code = "bad_request"


class NotFound(StationmasterError):
    """The named station, image or assignment does not exist."""

    code = "not_found"


class Conflict(StationmasterError):
    """The request is well formed but clashes with the current state (e.g. deleting an image in use)."""

    code = "conflict"


class Unauthorized(StationmasterError):
    """A station request lacks the bearer token its station holds."""

    code = "unauthorized"


class Forbidden(StationmasterError):
    """The station may not do this (rejected, retired, or asking for what v1 does not serve)."""

    code = "forbidden"


class InvalidImage(InvalidInput):
    """A firmware file was refused; the message says exactly why."""

    code = "invalid_image"


class StorageFull(StationmasterError):
    """The disk filled up while writing; nothing partial was kept."""

    code = "storage_full"


class DeviceFailed(StationmasterError):
    """A device on the LAN did not do what was asked (no answer, refused, broke off); the message says which."""

    code = "device_failed"


class NeedsConfirmation(Conflict):
    """Allowed only with the admin's explicit say (e.g. rebooting a critical station): ask again with force."""

    code = "confirmation_required"


class UpstreamFailed(StationmasterError):
    """A server out on the uplink (the release feed's) did not answer as it should; the message says how."""

    code = "upstream_failed"


class TooManyRequests(StationmasterError):
    """The caller sent more than its allowance; it may try again after `retry_after_s` seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after_s: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
