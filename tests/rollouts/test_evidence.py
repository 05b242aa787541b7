"""Each way a station can fail an update is reported as what it is, from the appliance's own transfer log
joined with the station's check-ins, never from what the station claims."""

from __future__ import annotations

from appliance.contract.client import AdminClient
from services.root.service import StationmasterService
from services.simulator import Behaviour
from tests.imagefactory import build_image
from tests.rollouts.conftest import EventTap, accepted_fleet, by_mac

STOPS = Behaviour(signal_dbm=-60, stop_download_at=0.37)  # drops the link at 37 % and never asks again
OLD = Behaviour(signal_dbm=-60, boots_old_image=True)  # the new image does not boot: back on the old one
GONE = Behaviour(signal_dbm=-60, dead_after_update=True)  # installs it, says so, and is never heard again
DEAF = Behaviour(signal_dbm=-60, no_ota_client=True)  # checks in, but its firmware never polls /ota


async def test_every_failure_is_reported_as_what_it_is(
    service: StationmasterService, admin: AdminClient, tap: EventTap
) -> None:
    behaviours = {0: STOPS, 1: OLD, 2: GONE, 3: DEAF}
    async with accepted_fleet(service.station_url, admin, tap, 5, behaviours=behaviours) as fleet:
        # A megabyte, so that a download cut at 37 % is cut long before the socket buffers hold the rest.
        data = build_image("esp32", project="sim-sensor", version="1.1.0", payload_size=1_000_000)
        image = await admin.import_image(data, "sensor-1.1.0.bin")
        started = await admin.start_rollout(
            image["sha256"], waves=["100%"], soak_s=1.0, timeout_s=4.0, max_failures_percent=100
        )
        await tap.first("rollout_completed", within=30, rollout=started["id"])
    stops, old, gone, deaf, healthy = (s.mac for s in fleet.stations)
    rows = by_mac(await admin.rollout(started["id"]))

    assert (rows[healthy]["state"], rows[healthy]["outcome"]) == ("updated", "updated")

    assert (rows[stops]["state"], rows[stops]["outcome"]) == ("failed", "partial")
    percent = int(rows[stops]["reason"].split("downloaded ")[1].split(" %")[0])
    # What the station's TCP acknowledged: the 37 % it read, give or take its window and a write's worth.
    assert abs(percent - 37) <= 8, rows[stops]["reason"]
    assert "then stopped; still checks in on 1.0.0" in rows[stops]["reason"]

    assert (rows[old]["state"], rows[old]["outcome"]) == ("failed", "old_version")
    assert "downloaded 1.1.0 in full, then came back on 1.0.0" in rows[old]["reason"]
    # It claimed success, as its sketch would; the claim changed nothing.
    claims = [e for e in await admin.events(mac=old, kind="update_finished") if "1.1.0" in e["message"]]
    assert claims, "the station did claim it was updated"
    (alert,) = await admin.events(kind="alert_wrong_version")
    assert alert["mac"] == old

    assert (rows[gone]["state"], rows[gone]["outcome"]) == ("timed_out", "downloaded")
    assert rows[gone]["reason"].startswith("downloaded the image in full, then never came back; not seen since")

    assert (rows[deaf]["state"], rows[deaf]["outcome"]) == ("failed", "never_asked")
    assert rows[deaf]["reason"] == "never asked for the image; still checks in on 1.0.0"
