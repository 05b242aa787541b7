# Shared by install.sh and uninstall.sh: where things go, and small helpers. Sourced, never run.
# shellcheck shell=bash

PREFIX=/opt/stationmaster
VENV="$PREFIX/venv"
STATE_FILE="$PREFIX/install.state"
CONFIG_DIR=/etc/stationmaster
TUNNEL_DIR="$CONFIG_DIR/tunnel"
DATA_DIR=/var/lib/stationmaster
UNIT_DIR=/etc/systemd/system
UNIT=stationmaster.service
TUNNEL_UNIT=stationmaster-tunnel.service
UDEV_RULE=/etc/udev/rules.d/60-stationmaster-serial.rules
CLI_LINK=/usr/local/bin/stationmaster
SERVICE_USER=stationmaster
SERVICE_GROUP=stationmaster
TUNNEL_USER=stationmaster-tunnel
AVAHI_CONF=/etc/avahi/avahi-daemon.conf

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# systemd is PID 1 (a booted system, not a chroot or a container build): units may be started.
systemd_running() { [ -d /run/systemd/system ]; }

state_get() { [ -f "$STATE_FILE" ] && sed -n "s/^$1=//p" "$STATE_FILE" | tail -n 1; }
state_set() {
    mkdir -p "$PREFIX"
    touch "$STATE_FILE"
    grep -v "^$1=" "$STATE_FILE" > "$STATE_FILE.new" || true
    printf '%s=%s\n' "$1" "$2" >> "$STATE_FILE.new"
    mv "$STATE_FILE.new" "$STATE_FILE"
}
