#!/usr/bin/env bash
# make test (and CI): install what is missing, check the systemd units and D-Bus files
# (scripts/verify-units.sh) and what the compiler cannot check in the sources
# (scripts/check-sources.sh), build once (debug, with tests), then run
#   1. the Swift unit suites (XCTest and Swift Testing): swift test --skip-build
#   2. the integration suite against the binaries of that same build:
#      S2S_BIN_DIR=.build/debug python3 -m pytest Tests/Integration -q
#   3. the boot test's fast form (scripts/boot-test.sh --fast): the Debian package made from that
#      debug build, installed and checked in a Debian 12 system booted with systemd-nspawn.
#      S2S_BOOT_TEST=skip leaves it out; `make boot-test` runs the full form (release package).
# and print a summary. Exits non-zero if anything failed. Needs root for the integration suite
# (it creates test users and runs a system-like bus). Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

logs=.build/test-logs
steps=()
failed_steps=0
passed=0
failed=0

step() {   # step NAME LOG COMMAND...: run it, show its output, remember the result
    local name=$1 log=$2 start rc
    shift 2
    printf '\n==> %s\n' "$name"
    start=$SECONDS
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if ((rc == 0)); then
        steps+=("ok      $name ($((SECONDS - start))s)")
    else
        steps+=("FAILED  $name (exit $rc, log: $log)")
        failed_steps=$((failed_steps + 1))
    fi
    return "$rc"
}

nocolor() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

count_swift() {   # XCTest's and Swift Testing's closing lines
    local log=$1 n
    n=$(nocolor "$log" | sed -n 's/.*Executed \([0-9][0-9]*\) tests\{0,1\}, with \([0-9][0-9]*\) failures\{0,1\}.*/\1 \2/p' | tail -1)
    if [[ -n $n ]]; then
        local total failures
        read -r total failures <<<"$n"
        passed=$((passed + total - failures)); failed=$((failed + failures))
    fi
    n=$(nocolor "$log" | sed -n 's/.*Test run with \([0-9][0-9]*\) tests\{0,1\} .*/\1/p' | tail -1)
    if [[ -n $n ]]; then
        local f
        f=$(nocolor "$log" | grep -v 'Test run with' | grep -c 'Test .* failed after' || true)
        passed=$((passed + n - f)); failed=$((failed + f))
    fi
}

count_plain() {   # "NAME: N passed, N failed"
    local last
    last=$(nocolor "$1" | grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' | tail -1)
    [[ -n $last ]] || return 0
    passed=$((passed + $(sed -n 's/.*: \([0-9]*\) passed.*/\1/p' <<<"$last")))
    failed=$((failed + $(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$last")))
}

count_pytest() {
    local last p f e
    last=$(nocolor "$1" | grep -E '[0-9]+ (passed|failed|error)' | tail -1)
    p=$(sed -n 's/.*[^0-9]\{0,1\}\b\([0-9][0-9]*\) passed.*/\1/p' <<<"$last")
    f=$(sed -n 's/.*\b\([0-9][0-9]*\) failed.*/\1/p' <<<"$last")
    e=$(sed -n 's/.*\b\([0-9][0-9]*\) errors\{0,1\}\b.*/\1/p' <<<"$last")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0}))
}

mkdir -p "$logs"
if ! step "install dependencies" "$logs/deps.log" scripts/install-deps.sh; then
    printf '%s\n' "${steps[@]}"
    exit 1
fi

step "systemd units and D-Bus files" "$logs/units.log" scripts/verify-units.sh
step "sources: FoundationEssentials only (no ICU)" "$logs/sources.log" scripts/check-sources.sh

if step "swift build --build-tests" "$logs/build.log" swift build --build-tests; then
    step "swift test --skip-build (unit suites)" "$logs/unit.log" swift test --skip-build
    count_swift "$logs/unit.log"

    step "pytest Tests/Integration (integration suite)" "$logs/integration.log" \
        env S2S_BIN_DIR="$PWD/.build/debug" python3 -m pytest Tests/Integration -q -m "not slow" "$@"
    count_pytest "$logs/integration.log"

    if [[ ${S2S_BOOT_TEST:-} == skip ]]; then
        steps+=("skipped boot test (S2S_BOOT_TEST=skip)")
    else
        step "boot test, fast form (scripts/boot-test.sh --fast)" "$logs/boot.log" scripts/boot-test.sh --fast
        count_plain "$logs/boot.log"
    fi
else
    steps+=("skipped unit and integration suites: the build failed")
fi

# A failed step whose tests could not be counted (a crash, a build error) still counts as one.
if ((failed_steps > 0 && failed == 0)); then failed=$failed_steps; fi

# What failed, by name, where CI's short tail of the output shows it.
failures() {
    {
        nocolor "$logs/unit.log" | grep -E '✘ Test .*(recorded an issue|failed after)|error: .*XCT|Test Case .* failed'
        nocolor "$logs/integration.log" | grep -E '^(FAILED|ERROR) '
        nocolor "$logs/boot.log" | grep -E '^ *FAIL'
    } 2>/dev/null | grep -v -E '✘ Test run with' | cut -c1-300 | head -40
}

printf '\n==> summary\n'
if ((failed_steps > 0)); then
    failures | sed 's/^/  | /'
fi
printf '  %s\n' "${steps[@]}"
printf 'summary: %d passed, %d failed\n' "$passed" "$failed"
((failed_steps == 0))
