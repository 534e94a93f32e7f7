#!/usr/bin/env bash
# scripts/apt-install.sh PACKAGE...: installs those of the Debian packages that are missing
# (dpkg-query), after one apt-get update unless the package lists are less than a day old.
# Idempotent and instant when everything is there. Used by scripts/install-deps.sh and
# bench/install-deps.sh; as root, or through sudo.
set -euo pipefail

say() { printf 'apt-install: %s\n' "$*"; }
as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

missing=()
for p in "$@"; do
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0

if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 -print -quit 2>/dev/null) ]]; then
    say "apt-get update"
    as_root apt-get update -q
fi
say "installing ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
