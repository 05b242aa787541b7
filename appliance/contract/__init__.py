"""The admin contract: the only thing the TUI and the CLI know of the service."""

from appliance.contract.client import AdminClient, AdminError, ServiceUnavailable

__all__ = ["AdminClient", "AdminError", "ServiceUnavailable"]
