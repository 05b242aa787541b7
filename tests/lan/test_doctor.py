"""`stationmaster doctor` on a LAN, with mDNS on as installed: it asks for the appliance's name by multicast."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import stationmaster_command
from tests.lan.conftest import ApplianceInNamespace


def test_doctor_finds_the_appliance_by_its_mdns_name(appliance: ApplianceInNamespace) -> None:
    # Run beside the service, on the test host's LAN, as an admin on the Pi runs it.
    result = subprocess.run(
        ["ip", "netns", "exec", appliance.ns, *stationmaster_command("doctor", "--json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            **os.environ,
            "STATIONMASTER_ADMIN_SOCKET": str(appliance.socket),
            "STATIONMASTER_HTTP_PORT": "8080",
            "STATIONMASTER_USB_PORTS": "",
        },
    )
    assert result.returncode in (0, 1), result.stderr  # a crash exits otherwise, with a traceback
    found = {item["check"]: item for item in json.loads(result.stdout)}
    assert found["mdns"]["verdict"] == "ok", found["mdns"]
    assert found["mdns"]["seen"].startswith("stationmaster.local answers with 10.")
