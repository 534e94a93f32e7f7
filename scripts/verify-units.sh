#!/usr/bin/env bash
# Checks the systemd units, the D-Bus files and the autostart entry without installing them:
#   * systemd-analyze verify on temporary copies whose ExecStart= points at a binary that exists
#     (the built s2sd and s2s-notify if there are any, else /bin/true);
#   * desktop-file-validate on the XDG autostart entry of s2s-notify;
#   * a private dbus-daemon that loads the system bus policy and both activation files, and lists
#     org.s2s.Daemon1 as activatable;
#   * the introspection XML and the polkit policy are well-formed, and the policy declares the
#     actions the daemon asks polkit about;
#   * systemd-analyze security --offline rates s2sd.service's exposure 3.0 or lower, and the user
#     units' (user/s2sd.service, user/s2s-notify.service) 5.0 or lower.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
bus_pid=
cleanup() {
    if [[ -n $bus_pid ]]; then kill "$bus_pid" 2>/dev/null || true; wait "$bus_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

bin=/bin/true
[[ -x .build/debug/s2sd ]] && bin=$PWD/.build/debug/s2sd
notify_bin=/bin/true
[[ -x .build/debug/s2s-notify ]] && notify_bin=$PWD/.build/debug/s2s-notify
fail=0
step() { printf '%-64s' "$1"; }
ok() { echo ok; }
bad() { echo FAILED; fail=1; }

# systemd units -------------------------------------------------------------------------------
mkdir -p "$tmp/system" "$tmp/user"
for f in Systemd/*.service Systemd/*.socket; do
    sed "s|/usr/bin/s2sd|$bin|g" "$f" >"$tmp/system/$(basename "$f")"
done
for f in Systemd/user/*.service; do
    sed -e "s|/usr/bin/s2sd|$bin|g" -e "s|/usr/bin/s2s-notify|$notify_bin|g" "$f" >"$tmp/user/$(basename "$f")"
done

step "systemd-analyze verify s2sd.socket s2sd.service"
if out=$(cd "$tmp/system" && systemd-analyze verify --man=no s2sd.socket s2sd.service 2>&1) && [[ -z $out ]]; then ok; else bad; echo "$out"; fi

export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$tmp/runtime}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 0700 "$XDG_RUNTIME_DIR"
for unit in s2sd.service s2s-notify.service; do
    step "systemd-analyze --user verify user/$unit"
    if out=$(cd "$tmp/user" && systemd-analyze --user verify --man=no "$unit" 2>&1) && [[ -z $out ]]; then ok; else bad; echo "$out"; fi
done

# XDG autostart -------------------------------------------------------------------------------
step "desktop-file-validate xdg/s2s-notify.desktop"
if ! command -v desktop-file-validate >/dev/null; then
    echo "FAILED (desktop-file-validate is missing: scripts/install-deps.sh installs desktop-file-utils)"; fail=1
elif out=$(desktop-file-validate Packaging/xdg/s2s-notify.desktop 2>&1) && [[ -z $out ]]; then ok; else bad; echo "$out"; fi
# The entry must step aside where the systemd unit starts the agent (no second agent): systemd's
# own generator, run on it, makes no unit of it; gnome-session under systemd skips it too.
step "autostart entry left to the unit under systemd"
generator=/usr/lib/systemd/user-generators/systemd-xdg-autostart-generator
mkdir -p "$tmp/xdg/autostart" "$tmp/generated"
cp Packaging/xdg/s2s-notify.desktop "$tmp/xdg/autostart/"
if grep -qx 'X-GNOME-HiddenUnderSystemd=true' Packaging/xdg/s2s-notify.desktop &&
    grep -qx 'WantedBy=graphical-session.target' Systemd/user/s2s-notify.service &&
    { [[ ! -x $generator ]] ||
        { XDG_CONFIG_DIRS=$tmp/xdg XDG_CONFIG_HOME=$tmp/no-home SYSTEMD_LOG_LEVEL=debug \
            "$generator" "$tmp/generated" "$tmp/generated" "$tmp/generated" 2>&1 | grep -q 'marked as skipped by generator' &&
            [[ -z $(ls -A "$tmp/generated") ]]; }; }; then ok; else bad; fi

# D-Bus ---------------------------------------------------------------------------------------
step "XML well-formed (introspection, bus and polkit policy)"
if python3 - Packaging/dbus/org.s2s.Daemon1.xml Packaging/dbus/org.s2s.Daemon1.conf Packaging/polkit/org.s2s.Daemon1.policy <<'PY'
import sys, xml.dom.minidom
for path in sys.argv[1:]:
    xml.dom.minidom.parse(path)
PY
then ok; else bad; fi

# A bus configured like the system bus, with our policy included and both activation files in
# its service directories.
mkdir -p "$tmp/services"
cp Packaging/dbus/org.s2s.Daemon1.service "$tmp/services/"
mkdir -p "$tmp/session-services"
cp Packaging/dbus/session/org.s2s.Daemon1.service "$tmp/session-services/"
cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$tmp/services</servicedir>
  <servicedir>$tmp/session-services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow receive_type="method_call"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="signal"/>
    <allow receive_requested_reply="true" receive_type="method_return"/>
  </policy>
  <include>$PWD/Packaging/dbus/org.s2s.Daemon1.conf</include>
</busconfig>
CONF

# dbus-daemon run as root tries to raise its fd limit and may say it could not: not our problem.
bus_complaints() { grep -v 'fd limit' "$tmp/bus.log" | grep -qi -E 'fail|invalid|unknown|error'; }

step "dbus-daemon loads org.s2s.Daemon1.conf"
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --nosyslog >"$tmp/bus.log" 2>&1 &
bus_pid=$!
for _ in $(seq 50); do [[ -S $tmp/bus ]] && break; sleep 0.1; done
if [[ -S $tmp/bus ]] && ! bus_complaints; then ok; else bad; cat "$tmp/bus.log"; fi

step "activation files name org.s2s.Daemon1"
names=$(timeout 10 dbus-send --bus="unix:path=$tmp/bus" --print-reply --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.ListActivatableNames 2>&1 || true)
if grep -q '"org.s2s.Daemon1"' <<<"$names" && ! bus_complaints; then ok; else bad; echo "$names"; cat "$tmp/bus.log"; fi

# polkit and the system unit's sandbox -------------------------------------------------------
step "polkit policy declares manage-all and set-limits"
if python3 - Packaging/polkit/org.s2s.Daemon1.policy <<'PY'
import sys, xml.etree.ElementTree as ET
ids = {a.get("id") for a in ET.parse(sys.argv[1]).getroot().iter("action")}
missing = {"org.s2s.Daemon1.manage-all", "org.s2s.Daemon1.set-limits"} - ids
sys.exit(f"missing actions: {missing}" if missing else 0)
PY
then ok; else bad; fi

step "systemd-analyze security s2sd.service: exposure <= 3.0"
exposure=$(cd "$tmp/system" && systemd-analyze security --offline=true --no-pager ./s2sd.service 2>&1 |
    sed -n 's/.*Overall exposure level for s2sd.service: \([0-9.]*\).*/\1/p')
if [[ -n $exposure ]] && awk -v e="$exposure" 'BEGIN {exit !(e <= 3.0)}'; then echo "ok ($exposure)"; else bad; echo "exposure: ${exposure:-unknown}"; fi

# The user units, rated as systemd-analyze rates them offline, both as system units (no --user)
# and for a user manager (--user, which needs XDG_RUNTIME_DIR, set above).
for unit in s2sd.service s2s-notify.service; do
    for mode in "" --user; do
        step "systemd-analyze security ${mode:+$mode }user/$unit: <= 5.0"
        exposure=$(cd "$tmp/user" && systemd-analyze security $mode --offline=true --no-pager "./$unit" 2>&1 |
            sed -n "s/.*Overall exposure level for $unit: \([0-9.]*\).*/\1/p")
        if [[ -n $exposure ]] && awk -v e="$exposure" 'BEGIN {exit !(e <= 5.0)}'; then echo "ok ($exposure)"; else bad; echo "exposure: ${exposure:-unknown}"; fi
    done
done

if ((fail)); then echo "verify-units: FAILED"; exit 1; fi
echo "verify-units: all checks passed"
