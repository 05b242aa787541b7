"""On-site onboarding over USB serial: notice ports, identify chips with esptool, flash, or hand over Wi-Fi."""

from __future__ import annotations

from services.adapters.usb.board import UsbSettings
from services.adapters.usb.model import PortJob, PreparedStation, UsbPort
from services.adapters.usb.onboarding import UsbOnboarding

__all__ = ["PortJob", "PreparedStation", "UsbOnboarding", "UsbPort", "UsbSettings"]
