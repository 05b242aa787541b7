"""The bench road: provision a station and assemble its bundle, firmware merged in if the admin asks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.core.chips import parse_chip
from services.core.errors import InvalidInput
from services.domain.firmware.library import FirmwareLibrary
from services.domain.onboarding.bundle import Bundle, make_bundle
from services.domain.onboarding.flashmap import FlashLayout
from services.domain.onboarding.provisioning import ApplianceReach, Provisioned, Provisioning
from services.store.registry import Registry


@dataclass(frozen=True, slots=True)
class BenchBundle:
    """A provision and the bundle made for it."""

    provisioned: Provisioned
    bundle: Bundle


class BenchBundles:
    """`stationmaster onboard bundle`: everything is checked before anything is recorded."""

    def __init__(self, provisioning: Provisioning, library: FirmwareLibrary, registry: Registry) -> None:
        self._provisioning = provisioning
        self._library = library
        self._registry = registry

    async def make(
        self,
        name: object,
        chip: object,
        *,
        reach: ApplianceReach,
        mac: object = None,
        firmware: object = None,
        layout: FlashLayout | None = None,
        replace: bool = False,
    ) -> BenchBundle:
        """Provision the station and assemble its bundle; a refused firmware records nothing."""
        image, app = None, None
        if firmware is not None and firmware != "":
            if not isinstance(firmware, str):
                raise InvalidInput("'firmware' must be a SHA-256 prefix")
            image = await self._registry.images.by_prefix(firmware)
            chip_name = parse_chip(chip)
            if image.chip != chip_name:
                raise InvalidInput(
                    f"image {image.sha256[:12]} is built for an {image.chip}, the station is an {chip_name}:"
                    f" choose an {chip_name} build"
                )
            app = await self._library.store_bytes(image.sha256)
        provisioned = await self._provisioning.provision(
            name,
            chip,
            reach=reach,
            mac=mac,
            layout=layout,
            firmware=None if image is None else image.sha256,
            replace=replace,
        )
        try:
            bundle = await asyncio.to_thread(make_bundle, provisioned, image, app)
        except BaseException:
            # The admin never received this token: a provision nobody can flash must not wait forever.
            await self._provisioning.cancel(provisioned.provision.name)
            raise
        return BenchBundle(provisioned, bundle)
