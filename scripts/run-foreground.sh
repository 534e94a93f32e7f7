#!/usr/bin/env bash
# make run: install what is missing, build, and run s2sd --user in the foreground on this user's
# session bus at the standard place, $XDG_RUNTIME_DIR/bus, starting a bus there if none answers.
# Then, in another shell, `s2sctl --user ...` and `busctl --user ...` find the daemon.
# Ctrl-C (or SIGTERM to this script) stops the daemon cleanly, then the bus if this script
# started it. Extra arguments go to s2sd, e.g. scripts/run-foreground.sh --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'run: %s\n' "$*" >&2; }
as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

scripts/install-deps.sh
say "swift build"
swift build
s2sd=$PWD/.build/debug/s2sd

uid=$(id -u)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$uid}
if [[ ! -d $XDG_RUNTIME_DIR ]]; then
    say "creating $XDG_RUNTIME_DIR"
    as_root install -d -m 0700 -o "$uid" -g "$(id -g)" "$XDG_RUNTIME_DIR"
fi
bus=$XDG_RUNTIME_DIR/bus
export DBUS_SESSION_BUS_ADDRESS=unix:path=$bus

bus_answers() {
    timeout 5 dbus-send --bus="$DBUS_SESSION_BUS_ADDRESS" --print-reply --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1
}

bus_pid=
daemon_pid=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    if [[ -n $bus_pid ]]; then
        say "stopping the session bus at $bus"
        kill -TERM "$bus_pid" 2>/dev/null || true
        wait "$bus_pid" 2>/dev/null || true
        rm -f "$bus"
    fi
}
trap cleanup EXIT

if bus_answers; then
    say "using the session bus already running at $bus"
else
    [[ -e $bus ]] && rm -f "$bus"    # a stale socket nobody answers on
    say "starting a session bus at $bus"
    dbus-daemon --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork --nopidfile &
    bus_pid=$!
    for _ in $(seq 100); do bus_answers && break; sleep 0.1; done
    bus_answers || { say "the session bus did not come up"; exit 1; }
fi

if timeout 5 dbus-send --bus="$DBUS_SESSION_BUS_ADDRESS" --print-reply --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.s2s.Daemon1 2>/dev/null |
    grep -q 'boolean true'; then
    say "org.s2s.Daemon1 is already owned on $bus: another s2sd --user is running"
    exit 1
fi

say "s2sd --user $* (Ctrl-C stops it)"
if [[ ${XDG_RUNTIME_DIR} != "/run/user/$uid" ]]; then
    say "in another shell: export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
fi
# The daemon gets its own session so that Ctrl-C reaches it exactly once, through the trap below;
# "trap -" undoes the SIGINT/SIGQUIT ignoring that bash applies to background jobs.
( trap - INT QUIT TERM; exec setsid "$s2sd" --user "$@" ) &
daemon_pid=$!
trap 'kill -INT "$daemon_pid" 2>/dev/null || true' INT
trap 'kill -TERM "$daemon_pid" 2>/dev/null || true' TERM
while kill -0 "$daemon_pid" 2>/dev/null; do wait "$daemon_pid" || true; done
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
say "s2sd exited with status $status"
exit "$status"
