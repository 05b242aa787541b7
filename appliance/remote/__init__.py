"""The appliance from the admin's own machine: its admin socket forwarded by the system's ssh."""

from appliance.remote.destination import DestinationError, SshDestination, parse_destination, ssh_program
from appliance.remote.forward import ForwardError, SshForward

__all__ = ["DestinationError", "ForwardError", "SshDestination", "SshForward", "parse_destination", "ssh_program"]
