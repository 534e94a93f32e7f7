#!/usr/bin/env bash
# Installs everything s2s needs to build and to run its tests on Debian 12, except the Swift
# toolchain itself (swift must be on PATH). Idempotent: a second run only checks and is instant.
#   Debian packages: only those missing, through scripts/apt-install.sh.
#   Python packages: Tests/Integration/requirements.txt (jeepney, pytest, cryptography, xxhash,
#   magic-wormhole-transit-relay for the relay tests: twistd transitrelay) with python3 -m pip.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    libdbus-1-dev libsystemd-dev libsqlite3-dev   # headers and pkg-config files for the C bindings
    libxxhash-dev                                 # XXH3-128, the default whole-file digest
    libsrt-openssl-dev                            # SRT: a punched route over UDP when TCP will not punch
    pkg-config                                    # SwiftPM finds the C libraries through it
    dbus-daemon dbus-bin                          # buses for running and testing; dbus-send
    libglib2.0-bin                                # gdbus (tests use a client we did not write)
    systemd                                       # busctl, systemd-analyze, systemd-socket-activate
    util-linux passwd                             # setpriv, runuser; useradd (test users)
    python3 python3-pip                           # the integration tests
    dunst xvfb fonts-dejavu-core                  # s2s-notify's tests: a real notification server on a virtual screen
    imagemagick                                   # its screenshot (import, convert)
    xdg-utils file                                # "Open folder" without a file manager on the bus (xdg-open)
    desktop-file-utils                            # desktop-file-validate for the autostart entry
    dpkg-dev debhelper lintian                    # make deb, make lintian (Packaging/debian)
    debootstrap systemd-container                 # the boot test: a Debian 12 root, systemd-nspawn --boot
    iproute2 iptables iputils-ping gcc libc6-dev libnetfilter-queue-dev   # the emulated WAN link (Tests/Integration/wan)
    coturn srt-tools conntrack faketime           # the NAT rig (Tests/Integration/nat): a STUN server, its own checks; skewed clocks
)

say() { printf 'install-deps: %s\n' "$*"; }

scripts/apt-install.sh "${packages[@]}"

requirements=Tests/Integration/requirements.txt
if [[ ! -f $requirements ]]; then
    mkdir -p "$(dirname "$requirements")"
    printf 'jeepney\npytest\n' >"$requirements"
fi
# pip takes seconds even when everything is there: remember what was installed for which python.
stamp=.build/.install-deps.stamp
want="$(command -v python3) $(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]] || ! python3 -c 'import jeepney, pytest, cryptography, xxhash, wormhole_transit_relay' 2>/dev/null; then
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
    managed=$(python3 -c 'import os, sysconfig; print(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))')
    if [[ $managed == True ]]; then
        # Debian's own python3 refuses pip installs into the system (PEP 668): use its packages.
        say "python3 is Debian's: installing python3-jeepney python3-pytest python3-cryptography python3-xxhash magic-wormhole-transit-relay"
        scripts/apt-install.sh python3-jeepney python3-pytest python3-cryptography python3-xxhash magic-wormhole-transit-relay
    else
        say "python3 -m pip install -r $requirements"
        python3 -m pip install -q -r "$requirements"
    fi
    mkdir -p .build && printf '%s\n' "$want" >"$stamp"
fi

command -v swift >/dev/null || say "warning: swift is not on PATH; install a Swift 6 toolchain to build s2s"
exit 0
