#!/usr/bin/env bash
# Install (or upgrade) Stationmaster as a system service on Raspberry Pi OS Bookworm or Debian 12.
# Idempotent: running it again with the same options changes nothing; with new options it adds them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/common.sh
. "$HERE/common.sh"

usage() {
    cat <<'USAGE'
Usage: sudo deploy/install.sh [OPTIONS]

Installs Stationmaster into /opt/stationmaster/venv, a system user and group `stationmaster`, the
systemd unit, the udev rule for USB-serial adapters and /etc/stationmaster/, then starts the service.

  --from SOURCE             what to install: a checkout directory or a wheel file (default: the checkout
                            this script is in), or a requirement from an index, e.g. stationmaster==0.1.0
  --index-url URL           the package index for SOURCE and the dependencies (default: pip's own, PyPI)
  --admin USER              let USER use the admin socket (the TUI and the CLI); repeat for more users
  --tunnel USER@HOST[:PORT] set up the reverse SSH tunnel to the relay HOST (see README: reach it from anywhere)
                            as the system user stationmaster-tunnel, and check the relay's host key now
  --tunnel-remote-port N    the port the tunnel opens on the relay's loopback (default 2222)
  --tunnel-known-hosts FILE the relay's host key, as known_hosts lines (default: ask the relay, show the
                            fingerprint to compare)
  --no-start                install and enable, but do not start or restart anything
  --no-apt                  never call apt-get: fail if a Debian package is missing
  -h, --help                this help
USAGE
}

FROM="$(cd "$HERE/.." && pwd)"
INDEX_URL=""
ADMINS=()
TUNNEL=""
TUNNEL_REMOTE_PORT=""
TUNNEL_KNOWN_HOSTS=""
START=1
APT=1
while [ $# -gt 0 ]; do
    case "$1" in
        --from) FROM="${2:?--from needs a path or a requirement}"; shift 2 ;;
        --index-url) INDEX_URL="${2:?--index-url needs a URL}"; shift 2 ;;
        --admin) ADMINS+=("${2:?--admin needs a user name}"); shift 2 ;;
        --tunnel) TUNNEL="${2:?--tunnel needs USER@HOST[:PORT]}"; shift 2 ;;
        --tunnel-remote-port) TUNNEL_REMOTE_PORT="${2:?--tunnel-remote-port needs a port}"; shift 2 ;;
        --tunnel-known-hosts) TUNNEL_KNOWN_HOSTS="${2:?--tunnel-known-hosts needs a file}"; shift 2 ;;
        --no-start) START=0; shift ;;
        --no-apt) APT=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "run me as root: sudo $0 $*"

check_system() {
    local id="" version="" like=""
    if [ -r /etc/os-release ]; then
        id="$(. /etc/os-release && echo "${ID:-}")"
        version="$(. /etc/os-release && echo "${VERSION_ID:-}")"
        like="$(. /etc/os-release && echo "${ID_LIKE:-}")"
    fi
    case "$id:$version" in
        debian:12|raspbian:12) ;;
        *) warn "made for Raspberry Pi OS Bookworm and Debian 12; this is ${id:-unknown} ${version:-} (${like:-}): going on" ;;
    esac
}

# Debian packages: python3-venv for the virtual environment, openssh-client for the tunnel.
ensure_packages() {
    local wanted=(python3 python3-venv) missing=() package
    [ -n "$TUNNEL" ] && wanted+=(openssh-client)
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$APT" = 1 ] || die "missing Debian packages: ${missing[*]} (install them, or run without --no-apt)"
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_user() {
    if ! getent group "$SERVICE_GROUP" >/dev/null; then
        groupadd --system "$SERVICE_GROUP"
        state_set created_group 1
        say "created group $SERVICE_GROUP (its members are the admins)"
    fi
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        useradd --system --gid "$SERVICE_GROUP" --home-dir "$DATA_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "Stationmaster service" "$SERVICE_USER"
        state_set created_user 1
        say "created system user $SERVICE_USER"
    fi
    # dialout: serial adapters the udev rule does not know still work for flashing.
    if getent group dialout >/dev/null && ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx dialout; then
        usermod -aG dialout "$SERVICE_USER"
    fi
    local admin
    for admin in ${ADMINS[@]+"${ADMINS[@]}"}; do
        getent passwd "$admin" >/dev/null || die "--admin $admin: no such user"
        if ! id -nG "$admin" | tr ' ' '\n' | grep -qx "$SERVICE_GROUP"; then
            usermod -aG "$SERVICE_GROUP" "$admin"
            say "$admin may now use the admin socket (log in again for it to take effect)"
        fi
    done
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        rm -rf "$VENV"
        mkdir -p "$PREFIX"
        python3 -m venv "$VENV"
        say "made the virtual environment $VENV"
    fi
    local source="$FROM" pip_args=(--quiet --disable-pip-version-check --no-input --no-cache-dir)
    [ -n "$INDEX_URL" ] && pip_args+=(--index-url "$INDEX_URL")
    if [ -d "$source" ] || [ -f "$source" ]; then
        source="$(realpath "$source")"
        local build wheel
        build="$(mktemp -d)"
        if [ -d "$source" ]; then
            [ -f "$source/pyproject.toml" ] || die "--from $source: not a Stationmaster checkout (no pyproject.toml)"
            # A checkout may carry the developer's own venv and caches: build from a clean copy.
            mkdir "$build/src"
            tar -C "$source" --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*/__pycache__' -cf - . | tar -C "$build/src" -xf -
            "$VENV/bin/pip" wheel "${pip_args[@]}" --no-deps --wheel-dir "$build" "$build/src"
            wheel="$(ls "$build"/stationmaster-*.whl)"
        else
            wheel="$source"
        fi
        # The same version number from a changed checkout must still replace what is installed:
        # reinstall the package itself, then bring only the missing dependencies in.
        "$VENV/bin/pip" install "${pip_args[@]}" --force-reinstall --no-deps "$wheel"
        "$VENV/bin/pip" install "${pip_args[@]}" "$wheel"
        rm -rf "$build"
    else
        "$VENV/bin/pip" install "${pip_args[@]}" --upgrade "$source"
    fi
    "$VENV/bin/stationmaster" --version >/dev/null || die "the installed stationmaster does not run"
    say "installed $("$VENV/bin/stationmaster" --version) in $VENV"
    # The README travels with the install: the units' Documentation= points at it.
    install -m 0644 "$HERE/../README.md" "$PREFIX/README.md" 2>/dev/null || true
    ln -sfn "$VENV/bin/stationmaster" "$CLI_LINK"
}

# Copy $1 to $2 with mode $3 unless it is already there, byte for byte; say so when it changes.
put_file() {
    if [ -f "$2" ] && cmp -s "$1" "$2"; then
        chmod "$3" "$2"
        return 1
    fi
    install -D -m "$3" "$1" "$2"
    say "wrote $2"
}

ensure_config() {
    local config="$CONFIG_DIR/stationmaster.toml" example="$CONFIG_DIR/stationmaster.toml.example"
    install -d -m 0755 "$CONFIG_DIR"
    # A config still byte for byte the example an earlier install put beside it was never edited: it is
    # replaced too (earlier examples set every key, which would pin those versions' defaults for good).
    if [ -f "$config" ] && [ -f "$example" ] && cmp -s "$config" "$example" && ! cmp -s "$config" "$HERE/stationmaster.toml"; then
        rm -f "$config"
    fi
    # The example is always the current one; the admin's own file is never overwritten.
    put_file "$HERE/stationmaster.toml" "$example" 0644 || true
    if [ ! -f "$config" ]; then
        install -m 0644 "$HERE/stationmaster.toml" "$config"
        say "wrote $config (every key commented out: uncomment what to change, then systemctl restart stationmaster)"
    fi
}

UNITS_CHANGED=0
ensure_units() {
    put_file "$HERE/stationmaster.service" "$UNIT_DIR/$UNIT" 0644 && UNITS_CHANGED=1
    # Without udev (a container, an image being built) the folder may be missing: note who made it.
    if [ ! -d "$(dirname "$UDEV_RULE")" ]; then
        [ -d /etc/udev ] || state_set made_udev_dir /etc/udev
        [ -d /etc/udev ] && state_set made_udev_dir "$(dirname "$UDEV_RULE")"
    fi
    if put_file "$HERE/60-stationmaster-serial.rules" "$UDEV_RULE" 0644; then
        if command -v udevadm >/dev/null && [ -S /run/udev/control ]; then
            udevadm control --reload-rules && udevadm trigger --subsystem-match=tty --action=change || true
        fi
    fi
}

# The unit starts After=time-sync.target, which waits for NTP only while systemd-time-wait-sync is enabled
# (it comes with systemd-timesyncd). Its wait is capped by our drop-in (deploy/time-wait-sync.conf).
ensure_time_wait_sync() {
    local unit=systemd-time-wait-sync.service
    if [ ! -f "/lib/systemd/system/$unit" ] && [ ! -f "/usr/lib/systemd/system/$unit" ]; then
        warn "no $unit here (it comes with systemd-timesyncd): the service may start before NTP sets the clock"
        return 0
    fi
    put_file "$HERE/time-wait-sync.conf" "$UNIT_DIR/$unit.d/stationmaster.conf" 0644 && UNITS_CHANGED=1
    command -v systemctl >/dev/null || return 0
    systemctl is-enabled --quiet "$unit" 2>/dev/null && return 0
    systemctl enable --quiet "$unit" 2>/dev/null || { warn "could not enable $unit"; return 0; }
    state_set enabled_time_wait_sync 1
    say "enabled $unit: the service starts once NTP has set the clock (or after 5 minutes without)"
}

# Avahi (on by default on Raspberry Pi OS) and the service's own responder share UDP port 5353: both
# bind it with SO_REUSEADDR, which Linux allows, unless avahi is told to keep the port to itself.
ensure_avahi_coexists() {
    [ -f "$AVAHI_CONF" ] || return 0
    if grep -Eq '^[[:space:]]*disallow-other-stacks[[:space:]]*=[[:space:]]*yes' "$AVAHI_CONF"; then
        sed -i.stationmaster-orig -E 's/^([[:space:]]*disallow-other-stacks[[:space:]]*=[[:space:]]*)yes/\1no/' "$AVAHI_CONF"
        state_set avahi_changed 1
        say "avahi-daemon kept port 5353 to itself (disallow-other-stacks=yes); set it to no so both can answer"
        if systemd_running && systemctl is-active --quiet avahi-daemon; then
            systemctl restart avahi-daemon || warn "could not restart avahi-daemon"
        fi
    fi
}

ensure_tunnel() {
    [ -n "$TUNNEL" ] || return 0
    local user host port
    case "$TUNNEL" in
        *@*) user="${TUNNEL%%@*}"; host="${TUNNEL#*@}" ;;
        *) die "--tunnel $TUNNEL: give the relay as USER@HOST or USER@HOST:PORT" ;;
    esac
    port=22
    case "$host" in *:*) port="${host##*:}"; host="${host%:*}" ;; esac
    [[ "$port" =~ ^[0-9]+$ ]] || die "--tunnel: the relay's port must be a number, got $port"
    local remote="${TUNNEL_REMOTE_PORT:-$(sed -n 's/^TUNNEL_REMOTE_PORT=//p' "$TUNNEL_DIR/tunnel.env" 2>/dev/null)}"
    remote="${remote:-2222}"
    [[ "$remote" =~ ^[0-9]+$ ]] || die "--tunnel-remote-port must be a number, got $remote"
    # The tunnel's own system user: ssh must be able to look up whoever runs it.
    if ! getent passwd "$TUNNEL_USER" >/dev/null; then
        useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin --comment "Stationmaster reverse SSH tunnel" "$TUNNEL_USER"
        state_set created_tunnel_user 1
        say "created system user $TUNNEL_USER"
    fi
    install -d -m 0700 "$TUNNEL_DIR"
    if [ ! -f "$TUNNEL_DIR/id_ed25519" ]; then
        ssh-keygen -q -t ed25519 -N '' -C "stationmaster-tunnel@$(hostname)" -f "$TUNNEL_DIR/id_ed25519"
        say "made the tunnel key $TUNNEL_DIR/id_ed25519"
    fi
    chmod 0600 "$TUNNEL_DIR/id_ed25519"
    local env_file
    env_file="$(mktemp)"
    cat > "$env_file" <<ENV
# Written by install.sh --tunnel; change it with install.sh, or by hand and then
# systemctl restart stationmaster-tunnel.
TUNNEL_RELAY_USER=$user
TUNNEL_RELAY_HOST=$host
TUNNEL_RELAY_PORT=$port
TUNNEL_REMOTE_PORT=$remote
TUNNEL_LOCAL_PORT=22
ENV
    put_file "$env_file" "$TUNNEL_DIR/tunnel.env" 0644 && UNITS_CHANGED=1
    rm -f "$env_file"
    if [ -n "$TUNNEL_KNOWN_HOSTS" ]; then
        # Checked before it replaces the one in place: a wrong key given must not undo a right one.
        check_relay "$user" "$host" "$port" "$TUNNEL_KNOWN_HOSTS"
        put_file "$TUNNEL_KNOWN_HOSTS" "$TUNNEL_DIR/known_hosts" 0644 || true
    elif [ ! -s "$TUNNEL_DIR/known_hosts" ]; then
        # Trust on first use, shown to the admin: compare it with `ssh-keygen -lf` on the relay.
        if ssh-keyscan -T 15 -p "$port" -t ed25519,ecdsa,rsa "$host" > "$TUNNEL_DIR/known_hosts.new" 2>/dev/null \
            && [ -s "$TUNNEL_DIR/known_hosts.new" ]; then
            mv "$TUNNEL_DIR/known_hosts.new" "$TUNNEL_DIR/known_hosts"
            chmod 0644 "$TUNNEL_DIR/known_hosts"
            say "the relay's host keys (compare with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on it):"
            ssh-keygen -lf "$TUNNEL_DIR/known_hosts" | sed 's/^/    /'
        else
            rm -f "$TUNNEL_DIR/known_hosts.new"
            warn "could not reach $host:$port for its host key; give it with --tunnel-known-hosts FILE and run me again"
        fi
    fi
    if [ -z "$TUNNEL_KNOWN_HOSTS" ] && [ -s "$TUNNEL_DIR/known_hosts" ]; then
        check_relay "$user" "$host" "$port" "$TUNNEL_DIR/known_hosts"
    fi
    put_file "$HERE/stationmaster-tunnel.service" "$UNIT_DIR/$TUNNEL_UNIT" 0644 && UNITS_CHANGED=1
    state_set tunnel 1
    say "on the relay, add this line to ~$user/.ssh/authorized_keys (it may open only its own port):"
    say "    restrict,port-forwarding,permitlisten=\"127.0.0.1:$remote\" $(cat "$TUNNEL_DIR/id_ed25519.pub")"
}

# Log in to the relay as the tunnel will (its key, the known_hosts FILE), so that a host key the relay does
# not have is found now, at the bench, rather than by a tunnel that never comes up on site.
check_relay() {
    local user="$1" host="$2" port="$3" known="$4" answer code=0
    answer="$(ssh -F none -T -i "$TUNNEL_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known" -o ConnectTimeout=15 \
        -p "$port" "$user@$host" true </dev/null 2>&1)" || code=$?
    # ssh answers 255 for its own failures; anything else is the relay's command (or its ForceCommand) running.
    if [ "$code" != 255 ]; then
        say "the relay $host:$port has the host key in $known and accepts the tunnel key"
        return 0
    fi
    case "$answer" in
        *"Host key verification failed"*)
            die "the relay $host:$port showed a host key that is not in $known: the tunnel would never come up." \
                "Compare the relay's \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` with \`ssh-keygen -lf $known\`;" \
                "if the relay was reinstalled, give its key with --tunnel-known-hosts FILE" ;;
        *"Permission denied"*)
            say "the relay $host:$port has the host key in $known; it does not accept the tunnel key yet" ;;
        *)
            warn "could not check the relay's host key: ${answer##*$'\n'}" ;;
    esac
}

start_units() {
    local units=("$UNIT")
    [ -f "$UNIT_DIR/$TUNNEL_UNIT" ] && units+=("$TUNNEL_UNIT")
    if ! command -v systemctl >/dev/null; then
        warn "no systemctl here: the units are in $UNIT_DIR but nothing was enabled"
        return
    fi
    if ! systemd_running; then
        # A chroot or an image being built: enabling only makes the links, the next boot starts them.
        systemctl enable "${units[@]}" >/dev/null 2>&1 || warn "could not enable ${units[*]}"
        say "systemd is not running here: ${units[*]} enabled, they start at the next boot"
        return
    fi
    [ "$UNITS_CHANGED" = 1 ] && systemctl daemon-reload
    systemctl enable --quiet "${units[@]}"
    if [ "$START" = 1 ]; then
        # Restart even when only the package changed: the new code must be what runs.
        systemctl restart "${units[@]}"
        say "started ${units[*]}; check it with: stationmaster doctor"
    fi
}

check_system
ensure_packages
ensure_user
ensure_venv
ensure_config
ensure_units
ensure_time_wait_sync
ensure_avahi_coexists
ensure_tunnel
state_set installed_from "$FROM"
start_units
say "done. Admins (members of group $SERVICE_GROUP) run \`stationmaster\` for the TUI, \`stationmaster doctor\` to check the install."
