# s2s: the two commands of the README are `make run` and `make test`; the rest are conveniences.
# Swift builds happen in .build/ (SwiftPM); generated man pages and completions go to .build/man
# and .build/completions.

SHELL := /bin/bash
CONFIG ?= debug
BIN := .build/$(CONFIG)
PREFIX ?= /usr
DESTDIR ?=

.PHONY: help run test build release man completions verify-units install deb lintian boot-test bench bench-relay bench-wan bench-nat fuzz fuzz-corpus soak clean

help:
	@echo 'make run           build, then run s2sd --user in the foreground (starts a session bus if needed)'
	@echo 'make test          install dependencies, build once, run the unit and integration suites'
	@echo 'make build         swift build (CONFIG=debug, or CONFIG=release)'
	@echo 'make release       swift build -c release'
	@echo 'make man           man pages into .build/man (swift-argument-parser generate-manual plugin)'
	@echo 'make completions   bash, zsh and fish completions into .build/completions'
	@echo 'make verify-units  systemd-analyze verify the units; check the D-Bus policy and activation files'
	@echo 'make install       release build, then install into $$(DESTDIR)$$(PREFIX) (default /usr)'
	@echo 'make deb           the Debian package, ./s2s_VERSION_ARCH.deb (release build; DEB_CONFIG=debug for a quick one)'
	@echo 'make lintian       make deb, then lintian on it (fails on errors)'
	@echo 'make boot-test     make deb, then boot Debian 12 with it under systemd-nspawn and check it (root)'
	@echo 'make bench         release build, then s2s against scp and rsync over loopback (root; BENCH_ARGS=...)'
	@echo 'make bench-relay   release build, then the relay route against magic-wormhole through one relay (root)'
	@echo 'make bench-wan     release build, then s2s against scp and iperf3 across an emulated 50/150 ms lossy link (root; long)'
	@echo 'make bench-nat     release build, then the punched route against the direct one through two NATs and a lossy link (root)'
	@echo 'make fuzz          the fuzzing harness: FUZZ_COUNT (1000000) mutated records, sessions, bus messages, frames from FUZZ_SEED'
	@echo 'make fuzz-corpus   capture the fuzz seed corpus from real sessions with a real s2sd (root; rewrites it)'
	@echo 'make soak          the load test (flood, slow senders, 50 concurrent senders, a legitimate send) and the largest offers'"'"' memory (root; minutes)'
	@echo 'make clean         swift package clean; remove generated files'

run:
	scripts/run-foreground.sh

test:
	scripts/test.sh

build:
	swift build -c $(CONFIG)

release:
	swift build -c release

# The plugin builds the package in $(CONFIG), runs each ArgumentParser executable with
# --experimental-dump-help and writes mdoc pages into its work directory under .build/plugins;
# scripts/man-pages.py adds ENVIRONMENT, FILES, EXAMPLES and SEE ALSO (Packaging/man) and writes
# s2sd.conf.5.
man:
	swift package plugin generate-manual --configuration $(CONFIG)
	rm -rf .build/man && mkdir -p .build/man
	find .build/plugins \( -name 's2sctl.1' -o -name 's2sd.1' -o -name 's2s-notify.1' \) -exec cp {} .build/man/ \;
	python3 scripts/man-pages.py .build/man
	@ls -1 .build/man

completions: build
	rm -rf .build/completions && mkdir -p .build/completions
	for tool in s2sctl s2sd; do \
	    $(BIN)/$$tool --generate-completion-script bash >.build/completions/$$tool.bash && \
	    $(BIN)/$$tool --generate-completion-script zsh  >.build/completions/_$$tool && \
	    $(BIN)/$$tool --generate-completion-script fish >.build/completions/$$tool.fish || exit 1; \
	done
	@ls -1 .build/completions

verify-units:
	scripts/verify-units.sh

# Without the package (make deb does it properly): binaries, units, D-Bus and polkit files, man
# pages, completions, docs, the notification agent's user unit and autostart entry. Afterwards:
# systemctl daemon-reload; systemctl enable s2sd.service (the bus activation alias and the socket);
# systemctl start s2sd.socket; systemctl --global enable s2s-notify.service (every user's
# graphical session starts the agent)
install:
	$(MAKE) release man completions CONFIG=release
	install -D -m 0755 .build/release/s2sd   $(DESTDIR)$(PREFIX)/bin/s2sd
	install -D -m 0755 .build/release/s2sctl $(DESTDIR)$(PREFIX)/bin/s2sctl
	install -D -m 0755 .build/release/s2s-notify $(DESTDIR)$(PREFIX)/bin/s2s-notify
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/systemd/user
	for f in Systemd/s2sd.service Systemd/s2sd.socket; do \
	    sed 's|/usr/bin/s2sd|$(PREFIX)/bin/s2sd|g' $$f >$(DESTDIR)$(PREFIX)/lib/systemd/system/$${f##*/}; done
	sed 's|/usr/bin/s2sd|$(PREFIX)/bin/s2sd|g' Systemd/user/s2sd.service >$(DESTDIR)$(PREFIX)/lib/systemd/user/s2sd.service
	sed 's|/usr/bin/s2s-notify|$(PREFIX)/bin/s2s-notify|g' Systemd/user/s2s-notify.service \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/user/s2s-notify.service
	install -D -m 0644 Packaging/xdg/s2s-notify.desktop $(DESTDIR)/etc/xdg/autostart/s2s-notify.desktop
	install -d $(DESTDIR)$(PREFIX)/share/dbus-1/system.d $(DESTDIR)$(PREFIX)/share/dbus-1/system-services \
	    $(DESTDIR)$(PREFIX)/share/dbus-1/services $(DESTDIR)$(PREFIX)/share/dbus-1/interfaces
	install -m 0644 Packaging/dbus/org.s2s.Daemon1.conf $(DESTDIR)$(PREFIX)/share/dbus-1/system.d/
	sed 's|/usr/bin/s2sd|$(PREFIX)/bin/s2sd|g' Packaging/dbus/org.s2s.Daemon1.service \
	    >$(DESTDIR)$(PREFIX)/share/dbus-1/system-services/org.s2s.Daemon1.service
	sed 's|/usr/bin/s2sd|$(PREFIX)/bin/s2sd|g' Packaging/dbus/session/org.s2s.Daemon1.service \
	    >$(DESTDIR)$(PREFIX)/share/dbus-1/services/org.s2s.Daemon1.service
	install -m 0644 Packaging/dbus/org.s2s.Daemon1.xml $(DESTDIR)$(PREFIX)/share/dbus-1/interfaces/
	install -D -m 0644 Packaging/polkit/org.s2s.Daemon1.policy $(DESTDIR)$(PREFIX)/share/polkit-1/actions/org.s2s.Daemon1.policy
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0644 .build/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 .build/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -D -m 0644 .build/completions/s2sctl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/s2sctl
	install -D -m 0644 .build/completions/_s2sctl     $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_s2sctl
	install -D -m 0644 .build/completions/s2sctl.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/s2sctl.fish
	install -d $(DESTDIR)$(PREFIX)/share/doc/s2s/docs
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/s2s/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/s2s/docs/

# The Debian package from this checkout (Packaging/debian): ./s2s_VERSION_ARCH.deb, with
# .buildinfo and .changes beside it. DEB_CONFIG=debug packages the debug build (quicker; the
# boot test's fast form). Swift is found on PATH, or set SWIFT=/path/to/swift.
DEB_CONFIG ?= release
deb:
	scripts/install-deps.sh
	cd Packaging && S2S_DEB_CONFIG=$(DEB_CONFIG) \
	    DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS) $(if $(filter debug,$(DEB_CONFIG)),noddebs)" \
	    dpkg-buildpackage -us -uc -b
	@ls -1 s2s_*.deb

lintian: deb
	lintian --fail-on error --display-info --tag-display-limit 0 $$(ls -t s2s_*.changes | head -1)

# As root. BOOT_TEST_ARGS=--fast uses the debug build; see scripts/boot-test.sh.
boot-test:
	scripts/install-deps.sh
	scripts/boot-test.sh $(BOOT_TEST_ARGS)

# As root: the benchmark starts its own sshd and s2sd pair (see bench/bench.py). Options go in
# BENCH_ARGS, e.g. make bench BENCH_ARGS='--runs 5 --size 512M --only scp,s2s --json bench.json'
bench:
	scripts/install-deps.sh
	bench/install-deps.sh
	swift build -c release
	python3 bench/bench.py --bin-dir .build/release $(BENCH_ARGS)

# As root: the relay route against magic-wormhole through the same transit relay, in a network
# namespace with only lo (see bench/relay_bench.py), e.g. make bench-relay BENCH_ARGS='--size 512M'
bench-relay:
	scripts/install-deps.sh
	bench/install-deps.sh
	swift build -c release
	python3 bench/relay_bench.py --bin-dir .build/release $(BENCH_ARGS)

# As root: s2s (BBR, and CongestionControl=system), scp and iperf3 (bbr, 4 streams) across the
# emulated link of Tests/Integration/wan/wan-link.sh at 50 and 150 ms and 0, 0.5 and 2 % loss (see
# bench/wan_bench.py; about half an hour), e.g. make bench-wan BENCH_ARGS='--quick' for a smoke run,
# or BENCH_ARGS='--size 256M --rtt 50 --json wan.json'; then the same 50 ms, 0.5 % path through two
# NATs: the punched routes (TCP, and SRT over UDP) against the direct one (bench-nat, one run).
bench-wan:
	scripts/install-deps.sh
	bench/install-deps.sh
	swift build -c release
	python3 bench/wan_bench.py --bin-dir .build/release $(BENCH_ARGS)
	python3 bench/nat_bench.py --bin-dir .build/release --runs 1

# As root: the punched route against the direct route (a forwarded port) through two cone NATs of
# Tests/Integration/nat/nat-rig.sh with a long, lossy path between them (bench/nat_bench.py),
# e.g. make bench-nat BENCH_ARGS='--size 1G --rtt 150'
bench-nat:
	scripts/install-deps.sh
	bench/install-deps.sh
	swift build -c release
	python3 bench/nat_bench.py --bin-dir .build/release $(BENCH_ARGS)

# The seeded mutation fuzzer of Tests/S2SFuzzTests (the unit suite runs it with 30,000 inputs and a
# fixed seed). A failure prints the seed, count and input; rerun with the same FUZZ_SEED and
# FUZZ_COUNT to reproduce it. Each target prints its inputs, inputs per second and peak RSS growth.
FUZZ_COUNT ?= 1000000
FUZZ_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fuzz:
	swift build --build-tests
	@echo "make fuzz: FUZZ_COUNT=$(FUZZ_COUNT) FUZZ_SEED=$(FUZZ_SEED)"
	FUZZ_COUNT=$(FUZZ_COUNT) FUZZ_SEED=$(FUZZ_SEED) stdbuf -oL swift test --skip-build --filter S2SFuzzTests

# As root, after a debug build: Tests/S2SFuzzTests/Corpus from real sessions (see its README.md).
fuzz-corpus:
	S2S_BIN_DIR=.build/$(CONFIG) python3 -m pytest Tests/Integration/capture_corpus.py -q -s -p no:cacheprovider

# As root: Tests/Integration/test_soak.py (marked slow); prints timings and the daemons' peak RSS.
soak:
	swift build
	S2S_BIN_DIR=.build/$(CONFIG) python3 -m pytest Tests/Integration/test_soak.py -m slow -k soak -s -q

clean:
	swift package clean
	rm -rf .build/man .build/completions .build/test-logs
