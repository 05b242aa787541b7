"""`python -m appliance` is the `stationmaster` command."""

from appliance.cli.main import main

raise SystemExit(main())
