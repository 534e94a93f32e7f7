#!/usr/bin/env bash
# Installs what the benchmarks need besides the s2s build dependencies (scripts/install-deps.sh),
# only what is missing:
#   bench/bench.py        sshd, ssh/scp and rsync, the peers it compares s2s with;
#   bench/relay_bench.py  magic-wormhole, its mailbox server and the transit relay (pip, or Debian's
#                         packages where python3 is Debian's own), unshare and ip for its namespace.
#   bench/wan_bench.py    iperf3 (the line's ceiling) and sshd/scp across the emulated link of
#                         Tests/Integration/wan/wan-link.sh: ip, iptables, ping, and gcc with
#                         libnetfilter-queue-dev for its loss and delay emulator (nfq_delay.c).
# The benchmarks run an sshd of their own (on 127.0.0.1, or on the emulated link's far end); they
# never use or reconfigure the system one (which Debian enables when it installs openssh-server on
# a machine that runs systemd), nor the iperf3 service its package may offer.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/apt-install.sh openssh-server openssh-client rsync util-linux iproute2
scripts/apt-install.sh iperf3 iputils-ping iptables gcc libc6-dev libnetfilter-queue-dev

if ! python3 -c 'import wormhole, wormhole_mailbox_server, wormhole_transit_relay' 2>/dev/null; then
    managed=$(python3 -c 'import os, sysconfig; print(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))')
    if [[ $managed == True ]]; then  # Debian's own python3 refuses pip installs (PEP 668)
        scripts/apt-install.sh magic-wormhole magic-wormhole-mailbox-server magic-wormhole-transit-relay
    else
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
            python3 -m pip install -q -r bench/requirements.txt
    fi
fi
