# Floods of TCP connections that never finish their handshake, against a real s2sd (issue 19,
# findings 0 and 4):
#   - stopping the daemon (SIGTERM) with many handshakes pending is a clean exit 0, not a crash;
#   - a flood of idle connections from one address, reopened as fast as the receiver closes them,
#     does not keep senders from other addresses out.
#
# Loopback only. The flood comes from 127.0.0.3 (every 127/8 address is local on Linux), so that
# real daemon-to-daemon sends, which come from 127.0.0.1, are "another address"; the protocol
# client of peerclient.py sends from 127.0.0.2 as a third. Every loop is bounded in time and in
# count. The 20-of-20 form of the done-when is marked slow (`make test` skips it).

from __future__ import annotations

import errno
import os
import re
import select
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

import peerclient as pc
from conftest import Bus, free_port
from peerclient import PeerClient
from test_transfer import Side

HOST = "127.0.0.1"          # where the receiver listens
FLOOD_SOURCE = "127.0.0.3"  # where the flood comes from
CLIENT_SOURCE = "127.0.0.2" # where the protocol client's legitimate sends come from
CRASH_TEXT = re.compile(r"Program crashed|Fatal error|Illegal instruction|Segmentation fault|"
                        r"Deinited NIOAsyncWriter|💣", re.IGNORECASE)


class Flood(threading.Thread):
    """Keeps up to COUNT idle connections from SOURCE (an address, or a list used in turn) open to
    PORT, reopening each as soon as the receiver closes or resets it, until stopped, DURATION
    seconds passed, or MAX_CONNECTS connections were made."""

    def __init__(self, port: int, *, count: int = 300, source: str | list = FLOOD_SOURCE, duration: float = 60,
                 max_connects: int = 300_000):
        super().__init__(daemon=True, name="flood")
        self.port, self.count = port, count
        self.sources = [source] if isinstance(source, str) else list(source)
        self.duration, self.max_connects = duration, max_connects
        self.halt = threading.Event()
        self.connects = 0
        self.closed_by_receiver = 0
        self.connect_failures = 0
        self.peak_open = 0

    def _open(self) -> socket.socket | None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((self.sources[self.connects % len(self.sources)], 0))
            s.settimeout(2)
            s.connect((HOST, self.port))
        except OSError:
            s.close()
            self.connect_failures += 1
            return None
        s.setblocking(False)
        self.connects += 1
        return s

    def run(self):
        deadline = time.monotonic() + self.duration
        open_socks: set = set()
        try:
            while not self.halt.is_set() and time.monotonic() < deadline:
                while len(open_socks) < self.count and self.connects < self.max_connects and not self.halt.is_set():
                    s = self._open()
                    if s is None:
                        time.sleep(0.01)
                        break
                    open_socks.add(s)
                self.peak_open = max(self.peak_open, len(open_socks))
                if not open_socks:
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(open_socks), [], [], 0.05)
                for s in readable:
                    try:
                        data = s.recv(64)
                    except OSError:
                        data = b""
                    if not data:
                        open_socks.discard(s)
                        s.close()
                        self.closed_by_receiver += 1
        finally:
            for s in open_socks:
                s.close()

    def stop(self):
        self.halt.set()
        self.join(timeout=15)
        assert not self.is_alive(), "the flood thread did not stop"

    def __str__(self):
        return (f"flood: {self.connects} connections made, {self.closed_by_receiver} closed by the receiver, "
                f"{self.connect_failures} connects failed, peak {self.peak_open} open")


@pytest.fixture
def pair(scratch, daemon_factory):
    """(receiver, sender): two daemons on two buses; the receiver listens on a loopback port."""
    buses = []

    def side(listen: bool) -> Side:
        bus = Bus(scratch)
        buses.append(bus)
        port = free_port() if listen else None
        return Side(bus, daemon_factory(target_bus=bus, args=["--listen", f"{HOST}:{port}"] if listen else []), port)

    receiver, sender = side(True), side(False)
    yield receiver, sender
    for bus in buses:
        bus.close()


def new_endpoint(receiver: Side, directory: Path, owner) -> str:
    """An endpoint of OWNER on DIRECTORY; returns its bare ID."""
    r = receiver.ctl("endpoint", "new", str(directory), user=owner)
    assert r.rc == 0, r
    return r.out.strip().splitlines()[0].split("@")[0]


def owned_dir(path: Path, owner) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, owner.uid, owner.gid)
    return path


def owned_file(path: Path, content: bytes, owner) -> Path:
    path.write_bytes(content)
    os.chown(path, owner.uid, owner.gid)
    return path


def client_send(port: int, endpoint_id: str, name: str, content: bytes, timeout: float = 15) -> pc.SessionResult:
    """A legitimate send with the protocol client from CLIENT_SOURCE; retries a connection the
    receiver refused or reset (as a sender must), within TIMEOUT."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((CLIENT_SOURCE, 0))
            sock.settimeout(10)
            sock.connect((HOST, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = PeerClient(sock, timeout=10)
            key = pc.endpoint_key(endpoint_id)
            c.send_preamble(key)
            c.handshake(key)
        except (OSError, pc.PeerClosed) as e:
            sock.close()
            last = e
            time.sleep(0.2)
            continue
        with c:
            return c.send_files({name: content})
    raise AssertionError(f"no handshake within {timeout}s from {CLIENT_SOURCE}: {last!r}")


SPREAD = [f"127.0.0.{i}" for i in range(10, 30)]  # 20 source addresses, 5 connections each


def hold_idle(port: int, count: int, sources=SPREAD, tolerate: bool = False) -> list:
    """Up to COUNT idle connections to PORT from SOURCES in turn (the caller closes them); spread
    over addresses so that the per-source cap does not refuse them all. A connection reset or
    refused is skipped; with TOLERATE, any failure to connect ends the loop (the daemon stopped)."""
    socks = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((sources[i % len(sources)], 0))
        s.settimeout(5)
        try:
            s.connect((HOST, port))
        except OSError as e:
            s.close()
            if tolerate:
                break
            if e.errno in (errno.ECONNRESET, errno.ECONNREFUSED):
                continue
            raise
        socks.append(s)
    return socks


def assert_clean_exit(daemon, rc: int):
    log = daemon.log()
    assert rc == 0, f"s2sd exited with {rc} on SIGTERM:\n{log}"
    crash = CRASH_TEXT.search(log)
    assert crash is None, f"crash text {crash.group(0)!r} in the log:\n{log}"


# --------------------------------------------------------------------------------------------
# Finding 0: stopping with handshakes pending

def test_sigterm_with_100_idle_connections_is_a_clean_exit(pair):
    """100 idle connections from 20 addresses (the table full, more than the daemon admits), and
    SIGTERM while a burst of 100 more is arriving (some are accepted but not yet served when the
    daemon stops: the window of the crash)."""
    receiver, _ = pair
    socks = hold_idle(receiver.port, 100)
    burst: list = []
    opener = threading.Thread(target=lambda: burst.extend(hold_idle(receiver.port, 100, tolerate=True)), daemon=True)
    try:
        assert len(socks) >= 50, f"only {len(socks)} of 100 connections were made"
        opener.start()
        time.sleep(0.02)
        rc = receiver.daemon.stop(signal.SIGTERM, timeout=20)
        opener.join(timeout=30)
    finally:
        for s in socks + burst:
            s.close()
    assert_clean_exit(receiver.daemon, rc)


def test_sigterm_during_a_flood_is_a_clean_exit(pair):
    receiver, _ = pair
    flood = Flood(receiver.port, count=300, duration=30)
    flood.start()
    try:
        deadline = time.monotonic() + 10
        while flood.connects < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        rc = receiver.daemon.stop(signal.SIGTERM, timeout=20)
    finally:
        flood.stop()
    assert flood.connects >= 300, flood
    assert_clean_exit(receiver.daemon, rc)


# --------------------------------------------------------------------------------------------
# Finding 4: a flood from one address does not lock out the others

def run_sends_under_flood(pair, scratch, user_a, user_b, *, ctl_sends: int, client_sends: int,
                          flood_source=FLOOD_SOURCE, first_send_timeout: float = 120):
    receiver, sender = pair
    inbox = owned_dir(scratch / "in", user_b)
    outbox = owned_dir(scratch / "out", user_a)
    endpoint = new_endpoint(receiver, inbox, user_b)
    flood = Flood(receiver.port, count=300, source=flood_source,
                  duration=first_send_timeout + 20 * (ctl_sends + client_sends))
    flood.start()
    expected = {}
    try:
        # Sends start once the flood has been reset and reopened a few times over.
        deadline = time.monotonic() + 20
        while flood.connects < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flood.connects >= 1000, flood
        times = []
        for i in range(ctl_sends):
            content = f"sent by s2sctl under a flood, {i}\n".encode()
            source = owned_file(outbox / f"ctl-{i}.txt", content, user_a)
            started = time.monotonic()
            r = sender.ctl("send", "--json", str(source), f"{endpoint}@{HOST}:{receiver.port}", user=user_a,
                           timeout=first_send_timeout if i == 0 else 120)
            times.append(time.monotonic() - started)
            assert r.rc == 0, f"send {i} failed under the flood ({flood}):\n{r}"
            expected[f"ctl-{i}.txt"] = content
        for i in range(client_sends):
            content = f"sent by the protocol client under a flood, {i}\n".encode()
            started = time.monotonic()
            result = client_send(receiver.port, endpoint, f"client-{i}.txt", content)
            times.append(time.monotonic() - started)
            assert result.ok, f"client send {i} failed under the flood ({flood}): {result}"
            expected[f"client-{i}.txt"] = content
        assert flood.is_alive() and flood.closed_by_receiver > 0, f"the flood did not run throughout: {flood}"
    finally:
        flood.stop()
    for name, content in expected.items():
        assert (inbox / name).read_bytes() == content
    print(f"{len(times)} sends under the flood, seconds each: {[round(t, 2) for t in times]}; {flood}")
    assert receiver.daemon.alive()


def test_a_flood_from_one_address_does_not_lock_out_senders(pair, scratch, user_a, user_b):
    run_sends_under_flood(pair, scratch, user_a, user_b, ctl_sends=3, client_sends=2)


def test_a_flood_from_twenty_addresses_does_not_lock_out_senders(pair, scratch, user_a, user_b):
    """300 idle connections from 20 addresses fill the handshake table (more than 64 = 20 x the
    per-source cap): the sources whose connections run out of time are penalized and refused while
    the table is under pressure, and a sender from another address gets in after a few retries.
    How many is a matter of chance (the sender's backoff doubles: 1, 2, 4 ... s; measured 14 to 58 s,
    once over 110 s): the first send may take up to four minutes."""
    run_sends_under_flood(pair, scratch, user_a, user_b, ctl_sends=2, client_sends=1, flood_source=SPREAD,
                          first_send_timeout=240)


@pytest.mark.slow
def test_twenty_of_twenty_sends_complete_under_a_flood(pair, scratch, user_a, user_b):
    """Issue 19's done-when: under 300 idle connections from one address, reopened as fast as
    they close, 20 of 20 legitimate sends from another address complete."""
    run_sends_under_flood(pair, scratch, user_a, user_b, ctl_sends=20, client_sends=0)
