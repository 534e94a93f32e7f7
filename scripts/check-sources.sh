#!/usr/bin/env bash
# Checks of the sources that the compiler cannot make:
#   * no module imports all of Foundation, only FoundationEssentials: Foundation's other half
#     (Process, FileHandle, NSString, the formatters) links in ICU, 34 MB of the 40 MB package
#     (docs/systemd.md, "The Debian package").
set -euo pipefail
cd "$(dirname "$0")/.."

found=$(grep -rlE '^[[:space:]]*(@_exported |public |package |internal )?import (Foundation|FoundationInternationalization)$' Sources || true)
if [[ -n $found ]]; then
    echo "these sources import Foundation or FoundationInternationalization (ICU); import FoundationEssentials:"
    echo "$found"
    exit 1
fi
echo "ok: $(grep -rl 'import FoundationEssentials' Sources | wc -l) sources import FoundationEssentials, none all of Foundation"
