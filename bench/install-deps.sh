#!/usr/bin/env bash
# Installs what bench/bench.py needs besides the s2s build dependencies (scripts/install-deps.sh):
# sshd, ssh/scp and rsync for the peers it compares s2s with, through scripts/apt-install.sh (only
# what is missing).
# The benchmark runs an sshd of its own on 127.0.0.1; it never uses or reconfigures the system one
# (which Debian enables when it installs openssh-server on a machine that runs systemd).
set -euo pipefail

packages=(openssh-server openssh-client rsync)

exec "$(dirname "$0")/../scripts/apt-install.sh" "${packages[@]}"
