#!/usr/bin/env bash
# The boot test: the Debian package in a real Debian 12 system with systemd as PID 1.
#
#   scripts/boot-test.sh [--deb FILE] [--fast] [--keep]
#
# 1. A Debian 12 root file system, made once with debootstrap and cached in
#    $S2S_BOOT_CACHE (default /var/cache/s2s-boot-test); each run boots a fresh copy of it.
# 2. The package: --deb FILE, or built here: `make deb` (release build, as shipped), or with
#    --fast `make deb DEB_CONFIG=debug` (a debug build with the static Swift runtime: the same
#    files, units and checks, built several times faster; kept in .build-deb/debug-package, so
#    that a release package at the top stays as it was).
# 3. The copy boots under systemd-nspawn --boot (systemd as PID 1, a private network: only its
#    own loopback), and the checks run inside it through nsenter:
#    apt install ./s2s_*.deb, then at once, with no other command, an ordinary user's
#    `s2sctl endpoint new ~/in` (bus activation, as a user meets it); the package's files and
#    links; a peer connection starts s2sd (socket activation); endpoints
#    in the service's private /tmp and outside ReadWritePaths= are refused by name; a transfer
#    from alice's user daemon (s2sd --user, bus-activated on her session bus by her systemd
#    user manager) into bob's endpoint on the system daemon, and back into an endpoint of
#    alice's user daemon (listening on TCP under its sandbox); journalctl -u s2sd shows the
#    structured log; the daemon exits when idle and comes back on the next connection; a
#    reinstall takes the upgrade path (daemon stopped, socket back, state kept); polkit
#    (the real polkitd, with a rule) lets an administrator act on others' endpoints and change
#    limits, and nobody else; systemctl stop leaves no process behind; purge removes the state.
#
# Needs root, systemd-nspawn (systemd-container) and debootstrap (scripts/install-deps.sh).
# Prints one line per check and ends with "boot-test: N passed, N failed". --keep leaves the
# container's directory for a look (its path is printed).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

deb=
fast=0
keep=0
while (($#)); do
    case $1 in
        --deb) deb=$2; shift 2 ;;
        --fast) fast=1; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "boot-test: unknown argument $1" >&2; exit 2 ;;
    esac
done

say() { printf 'boot-test: %s\n' "$*"; }
die() { say "$*" >&2; echo "boot-test: 0 passed, 1 failed"; exit 1; }

((EUID == 0)) || die "needs root (debootstrap, systemd-nspawn)"
for tool in systemd-nspawn debootstrap nsenter dpkg-deb; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps.sh"
done

# --- The root file system ---------------------------------------------------------------------
cache=${S2S_BOOT_CACHE:-/var/cache/s2s-boot-test}
mirror=${S2S_BOOT_MIRROR:-http://deb.debian.org/debian}
# systemd and the buses, polkit, a user session bus for the user daemon, what the package links
# against, and the few tools the checks use.
include=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,polkitd,libdbus-1-3,libsystemd0,libsqlite3-0,libxxhash0,libstdc++6,libgcc-s1,zlib1g,procps,python3-minimal
key=$(printf '%s %s bookworm 1' "$include" "$mirror" | sha256sum | cut -c1-12)
base=$cache/bookworm-$key
if [[ ! -f $base/.complete ]]; then
    say "making the Debian 12 root file system with debootstrap (once; cached in $base)"
    rm -rf "$base" && mkdir -p "$cache"
    start=$SECONDS
    if ! debootstrap --variant=minbase --include="$include" bookworm "$base" "$mirror" >"$cache/debootstrap.log" 2>&1; then
        tail -20 "$cache/debootstrap.log" >&2
        rm -rf "$base"
        die "debootstrap failed (log: $cache/debootstrap.log)"
    fi
    # No login prompt on the console, a hostname, nothing periodic that could get in the way.
    echo s2s-boot >"$base/etc/hostname"
    chroot "$base" systemctl mask console-getty.service apt-daily.timer apt-daily-upgrade.timer \
        e2scrub_all.timer dpkg-db-backup.timer >/dev/null 2>&1
    chroot "$base" apt-get clean
    touch "$base/.complete"
    say "root file system ready in $((SECONDS - start))s"
fi

# --- The package --------------------------------------------------------------------------------
if [[ -z $deb ]]; then
    mkdir -p .build
    if ((fast)); then
        # The debug package goes to .build-deb/debug-package; a release package at the top, if
        # there is one, is put back as it was.
        say "building the package from the debug build (make deb DEB_CONFIG=debug)"
        keep_dir=$(mktemp -d .build/boot-test-keep.XXXXXX)
        mv s2s_* s2s-dbgsym_* "$keep_dir"/ 2>/dev/null
        make deb DEB_CONFIG=debug >.build/boot-test-deb.log 2>&1
        rc=$?
        rm -rf .build-deb/debug-package && mkdir -p .build-deb/debug-package
        mv s2s_* s2s-dbgsym_* .build-deb/debug-package/ 2>/dev/null
        mv "$keep_dir"/* . 2>/dev/null
        rmdir "$keep_dir"
        ((rc == 0)) || { tail -30 .build/boot-test-deb.log >&2; die "make deb failed (log: .build/boot-test-deb.log)"; }
        deb=$(ls .build-deb/debug-package/s2s_*.deb 2>/dev/null | head -1)
    else
        say "building the package (make deb: release build)"
        make deb >.build/boot-test-deb.log 2>&1 || { tail -30 .build/boot-test-deb.log >&2; die "make deb failed (log: .build/boot-test-deb.log)"; }
        deb=$(ls -t s2s_*.deb 2>/dev/null | head -1)
    fi
fi
[[ -f $deb ]] || die "no package to test: $deb"
say "package: $deb ($(du -h "$deb" | cut -f1))"

# --- Boot ---------------------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/s2s-boot.XXXXXX)
root=$work/root
machine=s2sboot$$
nspawn_pid=
leader=
cleanup() {
    if [[ -n $leader ]] && kill -0 "$leader" 2>/dev/null; then
        timeout 30 nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
    fi
    if [[ -n $nspawn_pid ]]; then
        for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid" 2>/dev/null
        wait "$nspawn_pid" 2>/dev/null
    fi
    if ((keep)); then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

cp -a --reflink=auto "$base" "$root" || die "cannot copy the root file system"
mkdir -p "$root/var/cache/s2s-boot"
cp "$deb" "$root/var/cache/s2s-boot/" || die "cannot copy the package into the container"
debname=$(basename "$deb")

# Dependencies the base lacks are installed now, while the container still has the host's
# network; the booted container has a private one (loopback only) and installs offline.
missing=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/([^)]*)//g; s/^ *//; s/ *$//' | while read -r alternatives; do
    [[ -z $alternatives ]] && continue
    satisfied=0
    IFS='|' read -ra options <<<"$alternatives"
    for option in "${options[@]}"; do
        option=$(echo "$option" | tr -d ' ')
        chroot "$root" dpkg-query -W -f='${Status}\n' "$option" 2>/dev/null | grep -q 'install ok installed' && satisfied=1
        # Virtual packages (dbus-system-bus) are provided by one that is installed.
        chroot "$root" dpkg-query -W -f='${Provides}\n' 2>/dev/null | tr ',' '\n' | sed 's/([^)]*)//; s/ //g' | grep -qx "$option" && satisfied=1
    done
    ((satisfied)) || echo "${options[0]// /}"
done)
if [[ -n $missing ]]; then
    say "installing what the package needs and the cached system lacks: $missing"
    chroot "$root" apt-get update -q >/dev/null && chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >"$work/deps.log" 2>&1 ||
        die "cannot install $missing into the container (log: $work/deps.log)"
fi

say "booting Debian 12 under systemd-nspawn"
systemd-nspawn --quiet -D "$root" -M "$machine" --boot --register=no --keep-unit --private-network \
    </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!

# The container's PID 1 is the grandchild of systemd-nspawn whose PID in its namespace is 1.
for _ in $(seq 300); do
    for child in $(pgrep -P "$nspawn_pid"); do
        for grandchild in $(pgrep -P "$child") "$child"; do
            if [[ $(awk '/^NSpid:/ {print $NF}' "/proc/$grandchild/status" 2>/dev/null) == 1 ]]; then leader=$grandchild; fi
        done
    done
    [[ -n $leader ]] && break
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.1
done
[[ -n $leader ]] || { cat "$work/console.log" >&2; die "the container did not start"; }

# Runs a command inside the container, as root or (with `as USER`) as a user, with a clean
# environment and a time limit.
ct() { timeout "${T:-60}" nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
as() {
    local user=$1
    shift
    local uid
    uid=$(ct id -u "$user")
    ct setpriv --reuid="$user" --regid="$user" --init-groups --reset-env \
        env XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@"
}

connect_peer_port() { ct python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 7730), timeout=10); s.close()'; }
active() { [[ $(ct systemctl is-active s2sd.service) == active ]]; }
inactive() { [[ $(ct systemctl is-active s2sd.service) != active ]] && ! ct pgrep -u root -x s2sd >/dev/null; }

passed=0
failed=0
check() {   # check NAME COMMAND...: runs it, shows its output if it fails
    local name=$1 out rc start=$SECONDS
    shift
    out=$("$@" 2>&1)
    rc=$?
    if ((rc == 0)); then
        printf '  ok      %-66s %3ss\n' "$name" "$((SECONDS - start))"
        passed=$((passed + 1))
    else
        printf '  FAILED  %s (exit %d)\n' "$name" "$rc"
        printf '%s\n' "$out" | sed 's/^/          | /' | tail -40
        failed=$((failed + 1))
    fi
    return "$rc"
}
note() { printf '          %s\n' "$*"; }
# Polls until COMMAND succeeds or SECONDS pass.
until_ok() {
    local seconds=$1 deadline
    shift
    deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    "$@"
}

booted() {
    local state
    state=$(ct systemctl is-system-running --wait)
    [[ $state == running ]] && return 0
    echo "system state: $state"; ct systemctl --failed --no-legend; return 1
}
check "systemd is PID 1 and the system is up" until_ok 90 booted || { cat "$work/console.log"; die "the container did not boot"; }
note "$(ct systemctl --version | head -1) in $(ct cat /etc/debian_version | sed 's/^/Debian /')"

# --- Install, and the first call at once ---------------------------------------------------------
# The users and bob's directory exist before the package: after `apt install` the next command
# is bob's, as when a user tries the package just installed.
for user in alice bob carol; do ct useradd --create-home --shell /bin/bash "$user"; done
ct sh -c 'install -d -o bob -g bob -m 0755 /home/bob/in'
install_deb() { T=300 ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "/var/cache/s2s-boot/$debname"; }
check "apt install ./$debname" install_deb
first_call() {   # check runs it in a subshell: the ID goes through a file
    local id
    # Nothing started s2sd (pgrep, not systemctl: nothing may talk to systemd before bob).
    ! ct pgrep -x s2sd >/dev/null || { echo "the package started s2sd"; return 1; }
    id=$(as bob sh -c 's2sctl endpoint new ~/in') || { echo "$id"; return 1; }
    [[ $id == s2s1* ]] || { echo "not an ID: $id"; return 1; }
    active || { echo "s2sd.service is not running"; return 1; }
    echo "$id" >"$work/bob_id"
}
check "at once, as bob: s2sctl endpoint new ~/in (bus activation, nothing else run)" first_call
bob_id=$(cat "$work/bob_id" 2>/dev/null)
installed_files() {
    local f
    for f in /usr/bin/s2sd /usr/bin/s2sctl /lib/systemd/system/s2sd.service /lib/systemd/system/s2sd.socket \
        /usr/lib/systemd/user/s2sd.service /usr/share/dbus-1/system.d/org.s2s.Daemon1.conf \
        /usr/share/dbus-1/system-services/org.s2s.Daemon1.service /usr/share/dbus-1/services/org.s2s.Daemon1.service \
        /usr/share/dbus-1/interfaces/org.s2s.Daemon1.xml /usr/share/polkit-1/actions/org.s2s.Daemon1.policy \
        /usr/share/man/man1/s2sd.1.gz /usr/share/man/man1/s2sctl.1.gz /usr/share/bash-completion/completions/s2sctl \
        /usr/share/zsh/vendor-completions/_s2sctl /usr/share/fish/vendor_completions.d/s2sctl.fish /etc/s2s/s2sd.conf \
        /usr/bin/s2s-notify /usr/lib/systemd/user/s2s-notify.service /etc/xdg/autostart/s2s-notify.desktop \
        /usr/share/man/man1/s2s-notify.1.gz; do
        ct test -f "$f" || { echo "missing: $f"; return 1; }
    done
}
check "the package installed binaries, units, bus and polkit files, man pages, completions" installed_files
enabled() {
    [[ $(ct systemctl is-enabled s2sd.socket) == enabled ]] || { echo "s2sd.socket not enabled"; return 1; }
    [[ $(ct systemctl is-active s2sd.socket) == active ]] || { echo "s2sd.socket not active"; return 1; }
    [[ $(ct systemctl is-enabled s2sd.service) == enabled ]] || { echo "s2sd.service not enabled"; return 1; }
    ct test -L /etc/systemd/system/dbus-org.s2s.Daemon1.service || { echo "no D-Bus activation alias"; return 1; }
    # The desktop agent, for every user's graphical session.
    [[ $(ct systemctl --global is-enabled s2s-notify.service) == enabled ]] || { echo "s2s-notify.service not enabled globally"; return 1; }
}
check "the maintainer scripts enabled the socket, the bus alias and s2s-notify for all users" enabled
# --man=no: the minimal system has no man; the pages themselves are checked above.
verify_units() { ct systemd-analyze verify --man=no s2sd.socket s2sd.service; }
check "systemd-analyze verify s2sd.socket s2sd.service (installed)" verify_units
exposure() {
    local line
    line=$(ct systemd-analyze security --no-pager s2sd.service | grep 'Overall exposure level')
    echo "$line"
    awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) v = $i} END {exit !(v != "" && v <= 3.0)}' <<<"$line"
}
check "systemd-analyze security s2sd.service: exposure 3.0 or lower" exposure && note "$(exposure | sed 's/\x1b\[[0-9;]*m//g; s/^→ //')"

# A short idle timeout, so that the idle exit can be watched.
ct sh -c 'printf "[Daemon]\nIdleTimeout=5s\nLogLevel=debug\n" >/etc/s2s/s2sd.conf'

# --- Socket activation --------------------------------------------------------------------------
stop_service() {
    ct systemctl stop s2sd.service || return 1
    until_ok 10 inactive || return 1
    [[ $(ct systemctl is-active s2sd.socket) == active ]]
}
check "systemctl stop s2sd.service: no s2sd left, the socket still listens" stop_service
socket_activation() {
    inactive || { echo "s2sd was already running"; return 1; }
    connect_peer_port || return 1
    until_ok 30 active || { ct systemctl status --no-pager s2sd.service; return 1; }
    ct journalctl -u s2sd --no-pager -o cat | grep -q 'starting' || { echo "no start in the journal"; return 1; }
}
check "a peer connection starts s2sd again (socket activation)" socket_activation
# LimitNICE=-4 lets Dispatch give its timer thread nice -4, so that it does not log "Failed to
# set thread priority ... errno=13" at every start. systemd can raise the limit only where its
# PID 1 may (CAP_SYS_RESOURCE): a container on a machine without it cannot, and says so here.
nice_limit=$(ct sh -c 'awk "/^Max nice priority/ {print \$4}" /proc/$(systemctl show -P MainPID s2sd.service)/limits' 2>/dev/null)
if [[ $nice_limit == 24 ]]; then
    no_priority_complaint() { ! ct journalctl -u s2sd --no-pager -o cat | grep 'thread priority'; }
    check "LimitNICE=-4: no 'Failed to set thread priority' in the journal" no_priority_complaint
else
    note "not checked: the container could not raise RLIMIT_NICE for the service (Max nice priority ${nice_limit:-unknown}, wanted 24)"
fi

# --- Endpoints the system service refuses -------------------------------------------------------
refused() {   # refused DIR TEXT: bob's directory DIR is refused, with TEXT in the message
    local out
    ct install -d -o bob -g bob "$1"
    out=$(as bob s2sctl endpoint new "$1" 2>&1) && { echo "accepted: $out"; return 1; }
    echo "$out"
    grep -q "$2" <<<"$out"
}
check "an endpoint under /tmp is refused by name (the service's private /tmp)" refused /tmp/bob-in PrivateTmp &&
    note "$(refused /tmp/bob-in PrivateTmp | head -1)"
check "an endpoint outside ReadWritePaths= is refused as read-only for the daemon" refused /opt/bob-in 'read-only for the daemon' &&
    note "$(refused /opt/bob-in 'read-only for the daemon' | head -1)"

# --- A transfer between two daemons -------------------------------------------------------------
# alice's own daemon (s2sd --user, started by her session bus through her systemd user manager)
# sends into bob's endpoint on the system daemon, through the peer port.
alice_uid=$(ct id -u alice)
user_manager() { ct loginctl enable-linger alice && until_ok 30 ct test -S "/run/user/$alice_uid/bus"; }
check "alice's systemd user manager and session bus (loginctl enable-linger)" user_manager
ct sh -c 'head -c 24M /dev/urandom >/home/alice/big.bin && mkdir -p /home/alice/tree/a/b &&
    echo one >/home/alice/tree/one.txt && echo two >/home/alice/tree/a/b/two.txt && : >/home/alice/tree/a/empty &&
    chown -R alice:alice /home/alice/big.bin /home/alice/tree &&
    install -d -o alice -g alice /home/alice/.config /home/alice/.config/s2s /home/alice/in &&
    printf "[Daemon]\nListen=127.0.0.1:7731\n" >/home/alice/.config/s2s/s2sd.conf && chown alice:alice /home/alice/.config/s2s/s2sd.conf &&
    echo hello >/home/bob/hello.txt && chown bob:bob /home/bob/hello.txt'
transfer() {
    local out
    out=$(T=180 as alice s2sctl --user send /home/alice/big.bin /home/alice/tree "$bob_id@127.0.0.1:7730" --json) || { echo "$out"; return 1; }
    grep -q '"state" *: *"done"' <<<"$out" || { echo "$out"; return 1; }
    [[ $(ct sha256sum /home/alice/big.bin | cut -d' ' -f1) == $(ct sha256sum /home/bob/in/big.bin | cut -d' ' -f1) ]] || { echo "content differs"; return 1; }
    [[ $(ct cat /home/bob/in/tree/a/b/two.txt) == two ]] || { echo "tree incomplete"; ct find /home/bob/in; return 1; }
    ct test -f /home/bob/in/tree/a/empty || return 1
    [[ $(ct stat -c %U /home/bob/in/big.bin) == bob ]] || { echo "not bob's"; return 1; }
    as alice systemctl --user is-active s2sd.service || { echo "alice's user daemon is not a unit of her manager"; return 1; }
}
check "a transfer from alice's user daemon into bob's endpoint completes" transfer
user_daemon_receives() {   # under the user unit's sandbox: it listens on TCP and writes in her home
    local id out
    id=$(as alice s2sctl --user endpoint new /home/alice/in) || { echo "$id"; return 1; }
    out=$(T=60 as bob s2sctl send /home/bob/hello.txt "$id@127.0.0.1:7731" 2>&1) || { echo "$out"; return 1; }
    [[ $(ct cat /home/alice/in/hello.txt) == hello ]] || { ct ls -la /home/alice/in; return 1; }
}
check "bob sends into an endpoint of alice's user daemon (its sandbox: TCP, writes in her home)" user_daemon_receives
notify_agent() {   # the agent's unit starts under its sandbox and stays up (no desktop here: it waits)
    as alice systemctl --user start s2s-notify.service || return 1
    sleep 1
    as alice systemctl --user is-active s2s-notify.service || { as alice systemctl --user status --no-pager s2s-notify.service; return 1; }
    as alice systemctl --user stop s2s-notify.service
}
check "alice's s2s-notify.service starts under its sandbox and runs" notify_agent
structured_log() {
    local json
    json=$(ct journalctl -u s2sd --no-pager -o json)
    grep -q '"S2S_TRANSFER"' <<<"$json" && grep -q '"S2S_ENDPOINT"' <<<"$json" && grep -q '"S2S_SUBSYSTEM"' <<<"$json" ||
        { echo "no structured fields"; ct journalctl -u s2sd --no-pager -o verbose | tail -40; return 1; }
    # The first entry about bob's transfer 1 (what he received from alice), as journalctl finds
    # it by its field: transfers are named by their owner's UID and their number among that
    # owner's, UID:N.
    ct journalctl -u s2sd --no-pager -o verbose "S2S_TRANSFER=$(ct id -u bob):1" | grep -m1 -A30 '^[A-Z][a-z][a-z] ' | grep -E 'MESSAGE=|S2S_TRANSFER=|S2S_ENDPOINT=|S2S_BYTES=|S2S_FILES=|PRIORITY=|SYSLOG_IDENTIFIER='
}
check "journalctl -u s2sd shows the structured log (S2S_TRANSFER=, S2S_ENDPOINT=...)" structured_log && structured_log | head -12 | sed 's/^ */          /'

# --- Idle exit and return -----------------------------------------------------------------------
idle_exit() {
    until_ok 60 inactive || { ct systemctl status --no-pager s2sd.service; return 1; }
    [[ $(ct systemctl show -p Result --value s2sd.service) == success ]] || { ct systemctl show -p Result -p ExecMainStatus s2sd.service; return 1; }
    [[ $(ct systemctl is-active s2sd.socket) == active ]] || return 1
    ct journalctl -u s2sd --no-pager -o cat | grep -i 'idle' | tail -1
}
check "s2sd exits when idle (IdleTimeout=5s), cleanly, and the socket stays" idle_exit
comes_back() {
    inactive || return 1
    ct sh -c 'echo again >/home/alice/again.txt && chown alice:alice /home/alice/again.txt'
    T=120 as alice s2sctl --user send /home/alice/again.txt "$bob_id@127.0.0.1:7730" >/dev/null || return 1
    [[ $(ct cat /home/bob/in/again.txt) == again ]]
}
check "the next connection brings it back, and a second transfer completes" comes_back
upgrade() {   # the upgrade path of the maintainer scripts, with a daemon running
    active || { connect_peer_port && until_ok 30 active; } || return 1
    T=300 ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "/var/cache/s2s-boot/$debname" >/dev/null || return 1
    inactive || { echo "the old daemon still runs"; return 1; }
    [[ $(ct systemctl is-active s2sd.socket) == active ]] || { echo "the socket was not started again"; return 1; }
    [[ $(ct systemctl is-enabled s2sd.service) == enabled ]] || return 1
    as bob s2sctl endpoint show "$bob_id" >/dev/null || { echo "the endpoint did not survive"; return 1; }
}
check "reinstall (upgrade path): the daemon stopped, the socket back, the state kept" upgrade

# --- polkit -------------------------------------------------------------------------------------
# carol is an administrator by a polkit rule; alice is not. The real polkitd decides.
ct sh -c 'cat >/etc/polkit-1/rules.d/50-s2s-boot-test.rules <<RULES
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.s2s.Daemon1.") == 0 && subject.user == "carol")
        return polkit.Result.YES;
});
RULES'
polkit_admin() {
    local all
    all=$(as carol s2sctl endpoint list --json) || { echo "$all"; return 1; }
    grep -q '/home/bob/in' <<<"$all" || { echo "carol does not see bob's endpoint: $all"; return 1; }
    as carol busctl call org.s2s.Daemon1 /org/s2s/Daemon1 org.s2s.Daemon1.Manager SetLimits 'a{sv}' 1 MaxEndpointsPerUser t 7 || return 1
    [[ $(ct busctl get-property org.s2s.Daemon1 /org/s2s/Daemon1 org.s2s.Daemon1.Manager MaxEndpointsPerUser) == 't 7' ]] || return 1
    ct grep -q '^MaxEndpointsPerUser=7$' /var/lib/s2s/limits.conf
}
check "polkit: an administrator by rule sees others' endpoints and changes limits" polkit_admin
polkit_others() {
    local out
    out=$(as alice s2sctl endpoint list --json) || return 1
    grep -q '/home/bob/in' <<<"$out" && { echo "alice sees bob's endpoint"; return 1; }
    out=$(as alice busctl call org.s2s.Daemon1 /org/s2s/Daemon1 org.s2s.Daemon1.Manager SetLimits 'a{sv}' 1 MaxEndpointsPerUser t 1 2>&1) && { echo "alice changed limits"; return 1; }
    grep -q 'administrator' <<<"$out" || { echo "$out"; return 1; }
    out=$(as alice s2sctl endpoint rm "$bob_id" 2>&1) && { echo "alice deleted bob's endpoint"; return 1; }
    as bob s2sctl endpoint show "$bob_id" >/dev/null || { echo "bob's endpoint is gone"; return 1; }
    as carol s2sctl endpoint rm "$bob_id" || return 1
    out=$(as bob s2sctl endpoint list --json) && ! grep -q '/home/bob/in' <<<"$out"
}
check "polkit: others are refused; the administrator deletes bob's endpoint" polkit_others

# --- Stop and purge -----------------------------------------------------------------------------
stop_all() {
    ct systemctl stop s2sd.socket s2sd.service || return 1
    until_ok 10 inactive || return 1
    [[ $(ct systemctl is-active s2sd.socket) != active ]] || return 1
    # alice's user daemon goes with her user manager.
    ct loginctl disable-linger alice && ct systemctl stop "user@$alice_uid.service" || return 1
    until_ok 20 eval '! ct pgrep -x s2sd' || { ct ps -o user,pid,args -C s2sd; return 1; }
}
check "systemctl stop leaves no s2sd process behind" stop_all
purge() {
    T=300 ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q s2s >/dev/null || return 1
    ct test ! -e /var/lib/s2s || { echo "/var/lib/s2s is still there"; return 1; }
    ct test ! -e /usr/bin/s2sd || return 1
    ct test ! -e /etc/systemd/system/dbus-org.s2s.Daemon1.service || { echo "the alias is still there"; return 1; }
    ! ct pgrep -x s2sd >/dev/null
}
check "apt purge s2s removes the package, its state and its links" purge

if ((failed)); then
    say "journal of s2sd:"
    ct journalctl -u s2sd --no-pager -o short-precise | tail -60 | sed 's/^/  | /'
fi
echo "boot-test: $passed passed, $failed failed"
((failed == 0))
