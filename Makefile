# s2s: the two commands of the README are `make run` and `make test`; the rest are conveniences.
# Swift builds happen in .build/ (SwiftPM); generated man pages and completions go to .build/man
# and .build/completions.

SHELL := /bin/bash
CONFIG ?= debug
BIN := .build/$(CONFIG)
PREFIX ?= /usr
DESTDIR ?=

.PHONY: help run test build release man completions verify-units install bench clean

help:
	@echo 'make run           build, then run s2sd --user in the foreground (starts a session bus if needed)'
	@echo 'make test          install dependencies, build once, run the unit and integration suites'
	@echo 'make build         swift build (CONFIG=debug, or CONFIG=release)'
	@echo 'make release       swift build -c release'
	@echo 'make man           man pages into .build/man (swift-argument-parser generate-manual plugin)'
	@echo 'make completions   bash, zsh and fish completions into .build/completions'
	@echo 'make verify-units  systemd-analyze verify the units; check the D-Bus policy and activation files'
	@echo 'make install       release build, then install into $$(DESTDIR)$$(PREFIX) (default /usr)'
	@echo 'make bench         release build, then s2s against scp and rsync over loopback (root; BENCH_ARGS=...)'
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
# --experimental-dump-help and writes mdoc pages into its work directory under .build/plugins.
man:
	swift package plugin generate-manual --configuration $(CONFIG)
	rm -rf .build/man && mkdir -p .build/man
	find .build/plugins \( -name 's2sctl*.[1-9]' -o -name 's2sd*.[1-9]' -o -name 's2s-notify*.[1-9]' \) \
	    -exec cp {} .build/man/ \;
	@ls .build/man/*.[1-9] >/dev/null 2>&1 || { echo 'make man: no pages were generated' >&2; exit 1; }
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

# By hand until the .deb (issue 7): binaries, units, D-Bus files, man pages, completions, docs, the
# notification agent's user unit and autostart entry.
# Afterwards: systemctl daemon-reload; systemctl reload dbus; systemctl enable --now s2sd.socket;
# systemctl --global enable s2s-notify.service (every user's graphical session starts the agent)
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
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 .build/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 0644 .build/completions/s2sctl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/s2sctl
	install -D -m 0644 .build/completions/_s2sctl     $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_s2sctl
	install -D -m 0644 .build/completions/s2sctl.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/s2sctl.fish
	install -d $(DESTDIR)$(PREFIX)/share/doc/s2s/docs
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/s2s/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/s2s/docs/

# As root: the benchmark starts its own sshd and s2sd pair (see bench/bench.py). Options go in
# BENCH_ARGS, e.g. make bench BENCH_ARGS='--runs 5 --size 512M --only scp,s2s --json bench.json'
bench:
	scripts/install-deps.sh
	bench/install-deps.sh
	swift build -c release
	python3 bench/bench.py --bin-dir .build/release $(BENCH_ARGS)

clean:
	swift package clean
	rm -rf .build/man .build/completions .build/test-logs
