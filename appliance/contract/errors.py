"""What the service refused, as exceptions: one class per error code the service answers (services.core.errors).

Catch the class (`except NotFound`), or read `code` where a caller only tells people the message.
"""

from __future__ import annotations

from pathlib import Path


class AdminError(Exception):
    """The service refused a request; `code` is stable, `message` is for people, `status` is the HTTP status."""

    code_of_class = "error"

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class InvalidRequest(AdminError):
    """The request was malformed, mistyped or out of range."""

    code_of_class = "bad_request"


class InvalidImage(InvalidRequest):
    """The uploaded file is not a firmware image the appliance can serve."""

    code_of_class = "invalid_image"


class InvalidBackup(InvalidRequest):
    """The file is not a whole Stationmaster backup."""

    code_of_class = "invalid_backup"


class FeedRefused(InvalidRequest):
    """The release feed (or an image in it) was not taken: bad signature, wrong key, damaged."""

    code_of_class = "feed_refused"


class NotFound(AdminError):
    """What the request names does not exist."""

    code_of_class = "not_found"


class Conflict(AdminError):
    """The request clashes with the state things are in."""

    code_of_class = "conflict"


class NeedsConfirmation(Conflict):
    """The request would touch something the admin protected; send it again, forced, to go ahead."""

    code_of_class = "confirmation_required"


class Unauthorized(AdminError):
    """Who asked could not be told."""

    code_of_class = "unauthorized"


class Forbidden(AdminError):
    """Who asked may not do this."""

    code_of_class = "forbidden"


class StorageFull(AdminError):
    """The appliance's disk is full; nothing was written."""

    code_of_class = "storage_full"


class DeviceFailed(AdminError):
    """A device (a board on USB, a station on the LAN) did not do what it was asked."""

    code_of_class = "device_failed"


class UpstreamFailed(AdminError):
    """The release feed or its server failed."""

    code_of_class = "upstream_failed"


class TooManyRequests(AdminError):
    """Asked too often; try again later."""

    code_of_class = "too_many_requests"


class ServiceUnavailable(AdminError):
    """No service answers on the socket (or it went away mid-request); the message says what to do."""

    code_of_class = "unavailable"

    def __init__(self, socket_path: Path, reason: str | None = None) -> None:
        super().__init__(
            "unavailable",
            reason
            or f"no Stationmaster service is listening on {socket_path}; start one with `stationmaster serve`"
            " or `systemctl start stationmaster` (or point to another with --admin-socket)",
            0,
        )
        self.socket_path = socket_path


_BY_CODE: dict[str, type[AdminError]] = {
    kind.code_of_class: kind
    for kind in (
        InvalidRequest,
        InvalidImage,
        InvalidBackup,
        FeedRefused,
        NotFound,
        Conflict,
        NeedsConfirmation,
        Unauthorized,
        Forbidden,
        StorageFull,
        DeviceFailed,
        UpstreamFailed,
        TooManyRequests,
    )
}


def refusal(code: str, message: str, status: int) -> AdminError:
    """The exception for an error the service answered: its own class when the code is one of the service's."""
    return _BY_CODE.get(code, AdminError)(code, message, status)
