"""Onboarding: what a new station is given (NVS settings, bench bundles) and how it becomes a station row."""

from __future__ import annotations

from services.domain.onboarding.flashmap import FlashLayout
from services.domain.onboarding.nvs import NAMESPACE, StationSettings, build_nvs_image, nvs_entries

__all__ = ["NAMESPACE", "FlashLayout", "StationSettings", "build_nvs_image", "nvs_entries"]
