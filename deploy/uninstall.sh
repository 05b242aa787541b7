#!/usr/bin/env bash
# Remove what deploy/install.sh added. The site's data (/var/lib/stationmaster: registry, firmware, backups)
# and its settings (/etc/stationmaster: the config and the tunnel's identity) stay unless --purge is given.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/common.sh
. "$HERE/common.sh"

usage() {
    cat <<'USAGE'
Usage: sudo deploy/uninstall.sh [--purge]

Stops and removes the Stationmaster service, its tunnel, the virtual environment, the udev rule, the
`stationmaster` command and the system users and group. Keeps /var/lib/stationmaster (the registry and
the firmware) and /etc/stationmaster (the config, the tunnel's key and settings) so a reinstall picks up
where it was.

  --purge      remove /var/lib/stationmaster and /etc/stationmaster as well (the data is gone for good)
  -h, --help   this help
USAGE
}

PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --purge) PURGE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
done
[ "$(id -u)" = 0 ] || die "run me as root: sudo $0 $*"

if command -v systemctl >/dev/null; then
    for unit in "$TUNNEL_UNIT" "$UNIT"; do
        [ -f "$UNIT_DIR/$unit" ] || continue
        if systemd_running; then
            systemctl disable --now --quiet "$unit" || warn "could not stop $unit"
        else
            systemctl disable --quiet "$unit" 2>/dev/null || warn "could not disable $unit"
        fi
    done
fi
for unit in "$TUNNEL_UNIT" "$UNIT"; do
    if [ -f "$UNIT_DIR/$unit" ]; then
        rm -f "$UNIT_DIR/$unit"
        say "removed $UNIT_DIR/$unit"
    fi
    # Drop-ins made with `systemctl edit` belong to these units too.
    rm -rf "$UNIT_DIR/$unit.d"
done
# systemd-time-wait-sync stays enabled unless the install enabled it; our drop-in for it goes either way.
if [ "$(state_get enabled_time_wait_sync)" = 1 ] && command -v systemctl >/dev/null; then
    systemctl disable --quiet systemd-time-wait-sync.service 2>/dev/null || warn "could not disable systemd-time-wait-sync.service"
fi
if [ -f "$UNIT_DIR/systemd-time-wait-sync.service.d/stationmaster.conf" ]; then
    rm -f "$UNIT_DIR/systemd-time-wait-sync.service.d/stationmaster.conf"
    rmdir "$UNIT_DIR/systemd-time-wait-sync.service.d" 2>/dev/null || true
    say "removed $UNIT_DIR/systemd-time-wait-sync.service.d/stationmaster.conf"
fi
systemd_running && systemctl daemon-reload

if [ -f "$UDEV_RULE" ]; then
    rm -f "$UDEV_RULE"
    say "removed $UDEV_RULE"
    if command -v udevadm >/dev/null && [ -S /run/udev/control ]; then
        udevadm control --reload-rules || true
    fi
fi

made_udev_dir="$(state_get made_udev_dir)"
if [ -n "$made_udev_dir" ] && [ -d "$made_udev_dir" ]; then
    # Only folders the install made, and only if nothing else has been put in them since.
    find "$made_udev_dir" -depth -type d -empty -delete 2>/dev/null || true
fi

if [ "$(state_get avahi_changed)" = 1 ] && [ -f "$AVAHI_CONF.stationmaster-orig" ]; then
    mv "$AVAHI_CONF.stationmaster-orig" "$AVAHI_CONF"
    say "restored $AVAHI_CONF as it was before the install"
    if systemd_running && systemctl is-active --quiet avahi-daemon; then
        systemctl restart avahi-daemon || true
    fi
fi

created_user="$(state_get created_user)"
created_group="$(state_get created_group)"
created_tunnel_user="$(state_get created_tunnel_user)"
if [ -L "$CLI_LINK" ] && [ "$(readlink "$CLI_LINK")" = "$VENV/bin/stationmaster" ]; then
    rm -f "$CLI_LINK"
fi
if [ -d "$PREFIX" ]; then
    rm -rf "$PREFIX"
    say "removed $PREFIX"
fi

if [ "$PURGE" = 1 ]; then
    rm -rf "$DATA_DIR" "$CONFIG_DIR"
    say "removed $DATA_DIR and $CONFIG_DIR"
else
    # Only the example goes (the next install writes the current one). The config and everything the tunnel
    # needs stay: its key (the relay has it authorized), its settings and the relay's host key.
    rm -f "$CONFIG_DIR/stationmaster.toml.example"
    [ -d "$DATA_DIR" ] && say "kept the data in $DATA_DIR (--purge removes it)"
    [ -d "$CONFIG_DIR" ] && say "kept the settings in $CONFIG_DIR (--purge removes them)"
fi

# The user and group go last: nothing may still run as them. Files they owned in the kept data are
# taken back by systemd (StateDirectory=) when a reinstall makes the user again.
if [ "$created_tunnel_user" = 1 ] && getent passwd "$TUNNEL_USER" >/dev/null; then
    userdel "$TUNNEL_USER"  # its group of the same name goes with it
    say "removed user $TUNNEL_USER"
fi
remove_group=0
if [ "$created_group" = 1 ] && getent group "$SERVICE_GROUP" >/dev/null; then
    # The admins leave the group first: userdel takes a user's group of the same name along only when
    # nobody else is in it, and warns otherwise.
    gpasswd --members "" "$SERVICE_GROUP"
    remove_group=1
fi
if [ "$created_user" = 1 ] && getent passwd "$SERVICE_USER" >/dev/null; then
    userdel "$SERVICE_USER"
    say "removed user $SERVICE_USER"
fi
if [ "$remove_group" = 1 ]; then
    if getent group "$SERVICE_GROUP" >/dev/null; then
        groupdel "$SERVICE_GROUP"
    fi
    say "removed group $SERVICE_GROUP"
fi
say "Stationmaster is uninstalled."
