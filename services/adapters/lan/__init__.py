"""On the LAN: announce the appliance by mDNS and see the ESP devices around it."""
