# The relay route (issue 5): two daemons that know only a transit relay, a real
# magic-wormhole-transit-relay on loopback, and `s2sctl send PATH ID` with nothing but the ID.

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Bus, free_port, run
from s2sit import wakeups_during
from peerclient import (CANDIDATES, FLAG_DIRECT, FLAG_PAUSE, OFFER_BEGIN, PREAMBLE_LENGTH, NKResponder, PeerClient,
                        endpoint_key, hello)
from test_transfer import Side, random_file, sha256, visible, wait_for

TWISTD = shutil.which("twistd")


class TransitRelay:
    """An unmodified `twistd transitrelay` on 127.0.0.1, as a child of the test."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.workdir = workdir
        self.log_path = workdir / f"relay-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [TWISTD, "-n", "--pidfile=", "transitrelay", f"--port=tcp:{self.port}:interface=127.0.0.1"],
            cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the transit relay did not start: " + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def relays(scratch):
    """relays(n) -> n running transit relays, stopped after the test."""
    if TWISTD is None:
        pytest.fail("twistd (magic-wormhole-transit-relay) is not installed: scripts/install-deps.sh")
    made = []

    def make(n=1):
        out = []
        for _ in range(n):
            relay = TransitRelay(scratch)
            relay.start()
            made.append(relay)
            out.append(relay)
        return out

    yield make
    for relay in made:
        relay.stop()


@pytest.fixture
def relay_pair(scratch, daemon_factory, relays):
    """(receiver, sender, relay): two daemons on two buses that share one relay; neither listens."""
    (relay,) = relays(1)
    buses = []

    def side() -> Side:
        bus = Bus(scratch)
        buses.append(bus)
        return Side(bus, daemon_factory(target_bus=bus, args=["--relay", relay.address]), None)

    receiver, sender = side(), side()
    yield receiver, sender, relay
    for bus in buses:
        bus.close()


def plain_endpoint(receiver: Side, directory: Path, user) -> str:
    r = receiver.ctl("endpoint", "new", str(directory), user=user)
    assert r.rc == 0, r
    return r.out.strip()


def test_a_file_and_a_directory_arrive_by_the_id_alone(relay_pair, mkdir, user_a, user_b):
    receiver, sender, relay = relay_pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    source = random_file(outbox / "f.bin", 32 << 20, owner=user_a)
    tree = outbox / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.txt").write_text("a")
    (tree / "b.txt").write_text("bb")
    for root, dirs, files in os.walk(tree):
        for n in [root, *[os.path.join(root, x) for x in dirs + files]]:
            os.lchown(n, user_a.uid, user_a.gid)
    endpoint = plain_endpoint(receiver, inbox, user_b)
    assert "@" not in endpoint

    r = sender.ctl("send", "--json", str(source), endpoint, user=user_a, timeout=120)
    assert r.rc == 0, (r, receiver.daemon.log(), sender.daemon.log())
    assert json.loads(r.out)["state"] == "done"
    assert sha256(inbox / "f.bin") == sha256(source)

    r = sender.ctl("send", str(tree), endpoint, user=user_a, timeout=120)
    assert r.rc == 0, r
    assert visible(inbox) == ["f.bin", "tree", "tree/b.txt", "tree/sub", "tree/sub/a.txt"]
    assert (inbox / "tree" / "sub" / "a.txt").read_text() == "a"


def test_three_senders_at_once(relay_pair, mkdir, user_a, user_b):
    receiver, sender, relay = relay_pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    sources = [random_file(outbox / f"f{i}.bin", (4 + i) << 20, owner=user_a) for i in range(3)]
    endpoint = plain_endpoint(receiver, inbox, user_b)
    results = [None] * 3

    def send(i):
        results[i] = sender.ctl("send", str(sources[i]), endpoint, user=user_a, timeout=120)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.rc == 0, (r, receiver.daemon.log())
    for s in sources:
        assert sha256(inbox / s.name) == sha256(s)


def tcp_ports(pid: int) -> set[int]:
    """The local ports of the TCP sockets process PID holds (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_the_endpoint_shows_its_relay_and_the_transfer_its_route(relay_pair, mkdir, user_a, user_b):
    receiver, sender, relay = relay_pair
    inbox = mkdir("in", owner=user_b)
    endpoint = plain_endpoint(receiver, inbox, user_b)
    shown = wait_for(lambda: (lambda e: e if e.get("relayConnected") else None)(
        receiver.ctl("endpoint", "show", "--json", endpoint, user=user_b).json()), timeout=10, what="the waiting connection")
    assert shown["relay"] == relay.address
    r = receiver.ctl("endpoint", "show", endpoint, user=user_b)
    assert f"{relay.address}, waiting" in r.out, r.out
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 1 << 20, owner=user_a)
    r = sender.ctl("send", "--json", str(source), endpoint, user=user_a)
    assert r.rc == 0, r
    assert json.loads(r.out)["route"] == "relay"
    received = receiver.ctl("transfers", "--json", user=user_b).json()
    assert [t["route"] for t in received] == ["relay"]


def test_neither_side_learns_the_others_address(relay_pair, mkdir, user_a, user_b):
    """The ports each daemon uses towards the relay appear nowhere in the other daemon's log or
    bus properties (on loopback every address is 127.0.0.1, so the ports are what identify a side)."""
    receiver, sender, relay = relay_pair
    inbox = mkdir("in", owner=user_b)
    endpoint = plain_endpoint(receiver, inbox, user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 256 << 20, owner=user_a)
    ports = {"receiver": set(), "sender": set()}
    proc = sender.popen("send", str(source), endpoint, user=user_a)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        ports["receiver"] |= tcp_ports(receiver.daemon.pid) - {relay.port}
        ports["sender"] |= tcp_ports(sender.daemon.pid) - {relay.port}
        time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert ports["receiver"] and ports["sender"], ports
    views = {
        "receiver": receiver.daemon.log() + json.dumps(receiver.ctl("transfers", "--json", user=user_b).json())
        + receiver.ctl("endpoint", "list", "--json", user=user_b).out,
        "sender": sender.daemon.log() + json.dumps(sender.ctl("transfers", "--json", user=user_a).json()),
    }
    for side, other in (("receiver", "sender"), ("sender", "receiver")):
        for port in ports[other]:
            assert f":{port}" not in views[side] and f"port={port}" not in views[side], (side, port)


def test_both_sides_choose_the_same_of_two_relays(scratch, daemon_factory, relays, mkdir, user_a, user_b):
    first, second = relays(2)
    buses = [Bus(scratch), Bus(scratch)]
    try:
        # The two daemons list the relays in different orders.
        receiver = Side(buses[0], daemon_factory(target_bus=buses[0], args=[
            "--relay", first.address, "--relay", second.address]), None)
        sender = Side(buses[1], daemon_factory(target_bus=buses[1], args=[
            "--relay", second.address, "--relay", first.address]), None)
        inbox = mkdir("in", owner=user_b)
        chosen = set()
        for i in range(6):
            endpoint = plain_endpoint(receiver, inbox, user_b)
            source = random_file(mkdir(f"out{i}", owner=user_a) / f"f{i}.bin", 1 << 16, owner=user_a)
            # The receiver waits only at the relay it chose and the sender goes only to the one it
            # chose: the send arrives only if the two choices agree.
            r = sender.ctl("send", str(source), endpoint, user=user_a, timeout=60)
            assert r.rc == 0, r
            chosen.add(receiver.ctl("endpoint", "show", "--json", endpoint, user=user_b).json()["relay"])
        assert chosen <= {first.address, second.address}
    finally:
        for bus in buses:
            bus.close()


def test_a_receiver_that_is_not_waiting(scratch, daemon_factory, relays, mkdir, user_a):
    """An ID nobody waits for: the sender retries until RelayWaitTimeout, then fails clearly."""
    (relay,) = relays(1)
    bus = Bus(scratch)
    try:
        conf = f"[Daemon]\nRelay={relay.address}\nRelayWaitTimeout=3s\n"
        sender = Side(bus, daemon_factory(target_bus=bus, config=conf), None)
        other = Bus(scratch)
        try:
            idle = Side(other, daemon_factory(target_bus=other), None)
            r = idle.ctl("endpoint", "new", str(mkdir("nobody")))
            assert r.rc == 0, r
            endpoint = r.out.strip()
        finally:
            other.close()
        source = random_file(mkdir("out", owner=user_a) / "f.bin", 1024, owner=user_a)
        start = time.monotonic()
        r = sender.ctl("send", "--max-attempts", "1", str(source), endpoint, user=user_a, timeout=60)
        assert r.rc != 0
        assert 2.5 < time.monotonic() - start < 20
        assert "no receiver was waiting at the relay" in r.err, r
    finally:
        bus.close()


class FakeRelay:
    """A scripted relay in the test process: `pair` pairs like the transit relay (same token,
    different sides) and can flip one byte of the sender-to-receiver stream at `tamper_at`, or
    close the first `drops` pairings right after ok;
    `garbage` answers a line that is not ok, `silent` never answers, `close` closes at once."""

    def __init__(self, mode: str, tamper_at: int | None = None, drops: int = 0):
        self.mode = mode
        self.drops = drops  # pairings to break right after ok
        self.tamper_at = tamper_at
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.waiting: dict[bytes, list] = {}
        self.open: set = set()
        self.requests = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _close(self, conn):
        with self.lock:
            self.open.discard(conn)
        try:
            conn.close()
        except OSError:
            pass

    def _serve(self, conn):
        if self.mode == "close":
            return self._close(conn)
        line = b""
        while not line.endswith(b"\n") and len(line) < 1024:
            try:
                data = conn.recv(1)
            except OSError:
                data = b""
            if not data:
                return self._close(conn)
            line += data
        with self.lock:
            self.requests += 1
        if self.mode == "garbage":
            conn.sendall(b"HTTP/1.0 400 nope\r\n")
            time.sleep(0.1)
            return self._close(conn)
        if self.mode == "silent":
            # Never answers; notices only the client's close.
            while True:
                try:
                    if not conn.recv(65536):
                        break
                except OSError:
                    break
            return self._close(conn)
        parts = line.split()
        token, side = parts[2], parts[5]
        with self.lock:
            peers = self.waiting.setdefault(token, [])
            match = next((p for p in peers if p[1] != side), None)
            if match is None:
                peers.append((conn, side))
                return
            peers.remove(match)
        other, other_side = match
        for c in (conn, other):
            c.sendall(b"ok\n")
        with self.lock:
            drop = self.drops > 0
            self.drops -= 1 if drop else 0
        if drop:
            self._close(conn)
            self._close(other)
            return
        receiver, sender = (conn, other) if side == b"7332737265637631" else (other, conn)
        threading.Thread(target=self._pipe, args=(sender, receiver, self.tamper_at), daemon=True).start()
        threading.Thread(target=self._pipe, args=(receiver, sender, None), daemon=True).start()

    def _pipe(self, src, dst, tamper_at):
        count = 0
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if tamper_at is not None and count <= tamper_at < count + len(data):
                i = tamper_at - count
                data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
            count += len(data)
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close(src)
        self._close(dst)

    def connections(self) -> int:
        with self.lock:
            return len(self.open)

    def stop(self):
        self.stopped = True
        self.server.close()
        with self.lock:
            conns = list(self.open)
        for c in conns:
            self._close(c)


@pytest.fixture
def fake_relay():
    made = []

    def make(mode, **kw):
        relay = FakeRelay(mode, **kw)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.stop()


def two_daemons(scratch, daemon_factory, relay_address, wait="3s"):
    buses = [Bus(scratch), Bus(scratch)]
    conf = f"[Daemon]\nRelay={relay_address}\nRelayWaitTimeout={wait}\n"
    sides = [Side(bus, daemon_factory(target_bus=bus, config=conf), None) for bus in buses]
    return sides, buses


def test_a_relay_that_changes_one_byte(scratch, daemon_factory, fake_relay, mkdir, user_a, user_b):
    """One flipped bit 5 MiB into the stream: the session dies on the failed authentication and
    nothing appears under a final name."""
    relay = fake_relay("pair", tamper_at=5 << 20)
    (receiver, sender), buses = two_daemons(scratch, daemon_factory, relay.address)
    try:
        inbox = mkdir("in", owner=user_b)
        endpoint = plain_endpoint(receiver, inbox, user_b)
        source = random_file(mkdir("out", owner=user_a) / "f.bin", 16 << 20, owner=user_a)
        r = sender.ctl("send", "--max-attempts", "1", str(source), endpoint, user=user_a, timeout=60)
        assert r.rc != 0, r
        assert visible(inbox) == []
        received = receiver.ctl("transfers", "--json", user=user_b).json()
        assert received and received[0]["state"] == "failed", received
        assert "authenticat" in (received[0].get("error") or "").lower() or "noise" in (received[0].get("error") or "").lower(), received
    finally:
        for bus in buses:
            bus.close()


@pytest.mark.parametrize("mode,message", [
    ("garbage", 'answered "HTTP/1.0 400 nope?"'),
    ("silent", "no receiver was waiting at the relay"),
    ("close", "closed the connection before pairing"),
])
def test_a_broken_relay(scratch, daemon_factory, fake_relay, mkdir, user_a, user_b, mode, message):
    """Clear errors on the sender; the receiver keeps reconnecting with backoff and shows it is
    not connected; no connection is left behind by either daemon once the endpoint is gone.
    Leaks are judged across rounds: thread pools and caches settle in the first round, so the
    second must end with no more descriptors or threads than the first."""
    relay = fake_relay(mode)
    (receiver, sender), buses = two_daemons(scratch, daemon_factory, relay.address)
    sides = {"receiver": receiver, "sender": sender}
    try:
        ports_before = {name: len(tcp_ports(d.daemon.pid)) for name, d in sides.items()}
        inbox = mkdir("in", owner=user_b)
        source = random_file(mkdir("out", owner=user_a) / "f.bin", 1024, owner=user_a)

        def round_trip():
            endpoint = plain_endpoint(receiver, inbox, user_b)
            r = sender.ctl("send", "--max-attempts", "1", str(source), endpoint, user=user_a, timeout=60)
            assert r.rc != 0
            assert message in r.err, r
            shown = receiver.ctl("endpoint", "show", "--json", endpoint, user=user_b).json()
            assert shown["relay"] == relay.address
            if mode != "silent":
                assert shown["relayConnected"] is False
            r = receiver.ctl("endpoint", "rm", endpoint, user=user_b)
            assert r.rc == 0, r
            for name, d in sides.items():
                wait_for(lambda: len(tcp_ports(d.daemon.pid)) <= ports_before[name], timeout=10,
                         what=f"the {name}'s relay connections to close")
            wait_for(lambda: relay.connections() == 0, timeout=10, what="the relay to see every connection closed")
            return {name: (open_descriptors(d.daemon.pid), threads(d.daemon.pid)) for name, d in sides.items()}

        first = round_trip()
        second = round_trip()
        for name in sides:
            # Settled counts may still drift by a worker thread parked or woken; a leak per round would not stay within 1.
            wait_for(lambda: open_descriptors(sides[name].daemon.pid) <= first[name][0], timeout=10,
                     what=f"the {name}'s descriptors to return to {first[name][0]} (now {second[name][0]})")
            assert threads(sides[name].daemon.pid) <= first[name][1] + 1, (name, first, second)
    finally:
        for bus in buses:
            bus.close()


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_the_relay_restarted_mid_transfer(relay_pair, mkdir, user_a, user_b):
    """The relay is killed in the middle of a large file and started again on the same port: the
    receiver's endpoint reconnects by itself, and the same send again resumes from the data the
    receiver kept (BytesResumed > 0)."""
    receiver, sender, relay = relay_pair
    inbox = mkdir("in", owner=user_b)
    size = 768 << 20
    source = random_file(mkdir("out", owner=user_a) / "big.bin", size, owner=user_a)
    endpoint = plain_endpoint(receiver, inbox, user_b)
    # One attempt: the queue would retry on its own (test_queue.py); here the user does.
    proc = sender.popen("send", "--max-attempts", "1", str(source), endpoint, user=user_a)
    try:
        # Past the first checkpoint (256 MiB) the receiver has durable data to resume from.
        wait_for(lambda: [t for t in receiver.ctl("transfers", "--json", user=user_b).json() if t["bytesDone"] > 400 << 20],
                 timeout=300, interval=0.1, what="400 MiB received")
        relay.proc.kill()
        relay.proc.wait(timeout=10)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and "again resumes" in err, err
    assert "big.bin" not in visible(inbox)

    relay.start()
    wait_for(lambda: receiver.ctl("endpoint", "show", "--json", endpoint, user=user_b).json()["relayConnected"],
             timeout=30, what="the endpoint to wait at the restarted relay")
    r = sender.ctl("send", "--json", str(source), endpoint, user=user_a, timeout=600)
    assert r.rc == 0, r
    info = json.loads(r.out)
    assert info["bytesResumed"] >= 256 << 20, info
    assert sha256(inbox / "big.bin") == sha256(source)
    assert visible(inbox) == ["big.bin"]


def relay_token(endpoint_id: str) -> str:
    """docs/protocol.md, "Relay route": SHA-256("s2s relay token v1" ‖ key), as hex."""
    import hashlib
    from s2sit import assert_valid_id
    return hashlib.sha256(b"s2s relay token v1" + assert_valid_id(endpoint_id)).hexdigest()


def test_a_striped_send_pairs_each_connection_under_its_own_token(relay_pair, mkdir, user_a, user_b):
    """send --streams 4 by the plain ID: the receiver's session, once accepted, waits at the relay
    under three tokens derived from its secret, the sender's three further connections pair
    there, the file arrives identical over four connections, and afterwards the receiver holds
    only its endpoint's one waiting connection again."""
    receiver, sender, relay = relay_pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 24 << 20, owner=user_a)
    endpoint = plain_endpoint(receiver, inbox, user_b)
    wait_for(lambda: len(tcp_ports(receiver.daemon.pid)) == 1, timeout=10, what="the waiting connection")
    r = sender.ctl("send", "--streams", "4", str(source), endpoint, user=user_a, timeout=120)
    assert r.rc == 0, (r, receiver.daemon.log()[-3000:], sender.daemon.log()[-3000:])
    assert sha256(inbox / "f.bin") == sha256(source)
    finished = [line for line in receiver.daemon.log().splitlines() if "incoming transfer finished" in line]
    assert len(finished) == 1 and "connections=4" in finished[0], receiver.daemon.log()[-3000:]
    wait_for(lambda: len(tcp_ports(receiver.daemon.pid)) == 1, timeout=15,
             what="only the endpoint's waiting connection")


def test_silent_senders_at_the_relay_cost_little(relay_pair, mkdir, user_a, user_b):
    """Whoever knows the token (the relay) pairs silent 'senders' with an endpoint one after
    another: the receiver takes at most 4 into the handshake at once and opens no further waiting
    connection until one is done; once they are gone, a real send arrives."""
    receiver, sender, relay = relay_pair
    inbox = mkdir("in", owner=user_b)
    endpoint = plain_endpoint(receiver, inbox, user_b)
    wait_for(lambda: receiver.ctl("endpoint", "show", "--json", endpoint, user=user_b).json()["relayConnected"],
             timeout=10, what="the waiting connection")
    request = f"please relay {relay_token(endpoint)} for side 73327373656e6431\n".encode()
    silent = []
    paired = 0
    try:
        # One after another (the relay drops every other waiting connection of a token when it
        # pairs one): each is paired while the receiver has a free handshake slot.
        for _ in range(6):
            s = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
            s.sendall(request)
            silent.append(s)
            s.settimeout(1.5)
            try:
                if s.recv(3) == b"ok\n":
                    paired += 1
            except OSError:
                pass
        assert paired == 4, paired
        held = len(tcp_ports(receiver.daemon.pid))
        assert held <= 4, held
    finally:
        for s in silent:
            s.close()
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 1 << 20, owner=user_a)
    r = sender.ctl("send", str(source), endpoint, user=user_a, timeout=60)
    assert r.rc == 0, r
    assert sha256(inbox / "f.bin") == sha256(source)


def test_a_relay_that_pairs_and_then_drops(scratch, daemon_factory, fake_relay, mkdir, user_a, user_b):
    """The first two pairings break right after ok: the sender connects again within its
    deadline, the receiver opens new waiting connections, and the file arrives."""
    relay = fake_relay("pair", drops=2)
    (receiver, sender), buses = two_daemons(scratch, daemon_factory, relay.address, wait="20s")
    try:
        inbox = mkdir("in", owner=user_b)
        endpoint = plain_endpoint(receiver, inbox, user_b)
        source = random_file(mkdir("out", owner=user_a) / "f.bin", 4 << 20, owner=user_a)
        r = sender.ctl("send", str(source), endpoint, user=user_a, timeout=60)
        assert r.rc == 0, (r, sender.daemon.log())
        assert relay.drops <= 0
        assert sha256(inbox / "f.bin") == sha256(source)
    finally:
        for bus in buses:
            bus.close()


def test_nothing_waits_for_an_endpoint_that_expired(relay_pair, mkdir, user_b):
    receiver, sender, relay = relay_pair
    before = len(tcp_ports(receiver.daemon.pid))
    endpoint = receiver.ctl("endpoint", "new", str(mkdir("in", owner=user_b)), "--expires", "2s", user=user_b)
    assert endpoint.rc == 0, endpoint
    wait_for(lambda: len(tcp_ports(receiver.daemon.pid)) == before + 1, timeout=5, what="the waiting connection")
    wait_for(lambda: len(tcp_ports(receiver.daemon.pid)) == before, timeout=10,
             what="the waiting connection to close at expiry")


def test_two_hundred_idle_endpoints(relay_pair, mkdir, user_b):
    """A seedbox's worth of endpoints: one waiting connection each, no wake-ups of their own while
    idle (over 10 s the daemon's wake-ups grow by less than one per two endpoints: one wake-up per
    endpoint per timer or poll would be 200 or more), and every connection gone once the endpoints
    are."""
    receiver, _, relay = relay_pair
    pid = receiver.daemon.pid
    count = 200
    before = len(tcp_ports(pid))

    def idle_wakeups():
        time.sleep(3)  # let what just happened settle
        return wakeups_during(pid, 10)

    base = idle_wakeups()
    inbox = mkdir("in", owner=user_b)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        endpoints = list(pool.map(lambda _: plain_endpoint(receiver, inbox, user_b), range(count)))
    assert len(set(endpoints)) == count
    wait_for(lambda: len(tcp_ports(pid)) == before + count, timeout=30,
             what=f"{count} waiting connections (now {len(tcp_ports(pid)) - before})")
    loaded = idle_wakeups()
    print(f"idle wake-ups over 10 s: {base} with no endpoint, {loaded} with {count}")
    assert loaded <= base + count // 2, (base, loaded)
    assert len(tcp_ports(pid)) == before + count  # no reconnection churn meanwhile

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda e: receiver.ctl("endpoint", "rm", e, user=user_b), endpoints))
    assert all(r.rc == 0 for r in results), [r for r in results if r.rc != 0][:1]
    wait_for(lambda: len(tcp_ports(pid)) == before, timeout=30, what="every waiting connection to close")


def relayed_peer(relay, endpoint_id: str, flags: int) -> PeerClient:
    """The test's own sender through the relay: pairs under the endpoint's token, then the
    preamble and the handshake with these HELLO flags."""
    s = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
    s.sendall(f"please relay {relay_token(endpoint_id)} for side 73327373656e6431\n".encode())
    assert s.recv(3) == b"ok\n"
    client = PeerClient(s)
    key = endpoint_key(endpoint_id)
    client.send_preamble(key)
    client.handshake(key, payload=hello(flags=flags))
    return client


def test_a_receiver_offers_a_direct_path_only_to_a_sender_that_asks_where_its_endpoint_allows_it(
        scratch, daemon_factory, relays, mkdir, user_b):
    """On the wire, by a peer of the test's own: the receiver's HELLO answers the direct flag and
    its first record is CANDIDATES only when the sender asked and the endpoint allows it; in the
    other cases no CANDIDATES record ever comes, and the session runs as always."""
    (relay,) = relays(1)
    bus = Bus(scratch)
    try:
        # No STUN server: the receiver's CANDIDATES, when it sends them, are empty (it declines).
        receiver = Side(bus, daemon_factory(target_bus=bus, config=f"[Daemon]\nRelay={relay.address}\nStunServer=\n"), None)
        for allow, ask in ((True, True), (True, False), (False, True)):
            inbox = mkdir(f"in-{allow}-{ask}", owner=user_b)
            args = ["endpoint", "new", str(inbox)] + (["--allow-direct"] if allow else [])
            endpoint_id = receiver.ctl(*args, user=user_b).out.split()[0]
            wait_for(lambda: receiver.ctl("endpoint", "show", "--json", endpoint_id, user=user_b).json()["relayConnected"],
                     timeout=10, what="the waiting connection")
            client = relayed_peer(relay, endpoint_id, FLAG_PAUSE | (FLAG_DIRECT if ask else 0))
            try:
                assert bool(client.peer_hello.flags & FLAG_DIRECT) == (allow and ask), (allow, ask, client.peer_hello)
                if allow and ask:
                    kind, body = client.recv_record()
                    assert (kind, body) == (CANDIDATES, b"\x00"), (kind, body)
                result = client.send_files({"hello.txt": b"hello"})
                assert result.ok, result
                assert CANDIDATES not in [kind for kind, _ in result.records], result
            finally:
                client.close()
            assert (inbox / "hello.txt").read_bytes() == b"hello"
    finally:
        bus.close()


def test_a_sender_asks_for_a_direct_path_only_when_its_user_allows_it(scratch, daemon_factory, relays, mkdir, user_a):
    """On the wire, by a receiver of the test's own waiting at the relay: the sending daemon's
    HELLO sets the direct bit only with --allow-direct. Without it, even a receiver that answers
    the bit and sends CANDIDATES first gets none back: the sender's first record is its offer."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from s2sit import bech32_encode
    (relay,) = relays(1)
    bus = Bus(scratch)
    try:
        # No STUN server: an asking sender's own CANDIDATES are empty (it declines), which is enough here.
        sender = Side(bus, daemon_factory(target_bus=bus, config=f"[Daemon]\nRelay={relay.address}\nStunServer=\n"), None)
        source = random_file(mkdir("out", owner=user_a) / "x.bin", 1024, owner=user_a)
        for ask in (False, True):
            key = X25519PrivateKey.generate()
            endpoint_id = bech32_encode("s2s", key.public_key().public_bytes_raw())
            s = socket.create_connection(("127.0.0.1", relay.port), timeout=30)
            s.sendall(f"please relay {relay_token(endpoint_id)} for side 7332737265637631\n".encode())
            r = sender.ctl("send", "--no-wait", *(["--allow-direct"] if ask else []), str(source), endpoint_id, user=user_a)
            assert r.rc == 0, r
            receiver = PeerClient(s, timeout=30)
            try:
                assert receiver.recv_exact(3) == b"ok\n"
                receiver.recv_exact(PREAMBLE_LENGTH)
                responder = NKResponder(key)
                sender_hello = responder.read_message_1(receiver.recv_frame())
                flags = int.from_bytes(sender_hello[2:4], "big")
                assert bool(flags & FLAG_DIRECT) == ask, (ask, hex(flags))
                message = responder.write_message_2(hello(flags=FLAG_PAUSE | FLAG_DIRECT))
                receiver.send_raw(len(message).to_bytes(2, "big") + message)
                receiver._send, receiver._recv = responder.split()
                receiver.send_record(bytes([CANDIDATES, 1, 4, 198, 51, 100, 7, 0x0f, 0xa0]))
                kind, body = receiver.recv_record()
                assert (kind, body) == ((CANDIDATES, b"\x00") if ask else (OFFER_BEGIN, body)), (ask, kind, body)
            finally:
                receiver.close()
    finally:
        bus.close()
