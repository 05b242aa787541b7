"""The adapters: the station and admin HTTP APIs, mDNS and the LAN, USB, Improv and the uplink."""
