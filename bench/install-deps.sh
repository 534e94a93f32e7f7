#!/usr/bin/env bash
# Installs what bench/bench.py needs besides the s2s build dependencies (scripts/install-deps.sh):
# sshd, ssh/scp and rsync for the peers it compares s2s with. Idempotent, like scripts/install-deps.sh:
# only missing packages, after one apt-get update unless the package lists are less than a day old.
# The benchmark runs an sshd of its own on 127.0.0.1; it never uses or reconfigures the system one
# (which Debian enables when it installs openssh-server on a machine that runs systemd).
set -euo pipefail

packages=(openssh-server openssh-client rsync)

say() { printf 'bench/install-deps: %s\n' "$*"; }
as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0

if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 -print -quit 2>/dev/null) ]]; then
    say "apt-get update"
    as_root apt-get update -q
fi
say "installing ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
