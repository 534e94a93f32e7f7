# Transfers between two daemons, each on its own private bus, over loopback: what arrives, what
# both sides see on the bus, cancelling from either side, and resuming after an interruption.

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import select
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import S2SCTL, Bus, as_user_argv, base_env, free_port, make_dir, run
from s2sit import object_number


class Side:
    """One daemon with its bus, and s2sctl on that bus."""

    def __init__(self, bus: Bus, daemon, port: int | None):
        self.bus = bus
        self.daemon = daemon
        self.port = port

    def env(self) -> dict:
        return base_env(DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)

    def ctl(self, *args, user=None, timeout=120):
        return run([S2SCTL, *args], user=user, env=self.env(), timeout=timeout)

    def popen(self, *args, user=None) -> subprocess.Popen:
        return subprocess.Popen(as_user_argv(user, [S2SCTL, *args]), env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    def transfers(self, user=None) -> list:
        return self.ctl("transfers", "--json", user=user).json()


@pytest.fixture
def pair(scratch, daemon_factory, request):
    """(receiver, sender): two daemons on two buses; the receiver listens on a loopback port."""
    made = []

    def side(listen: bool, args=()) -> Side:
        bus = Bus(scratch)
        made.append(bus)
        port = free_port() if listen else None
        extra = ["--listen", f"127.0.0.1:{port}"] if listen else []
        return Side(bus, daemon_factory(target_bus=bus, args=[*extra, *args]), port)

    receiver = side(True, getattr(request, "param", ()))
    sender = side(False)
    yield receiver, sender
    # The daemons go before their buses: a daemon that loses its bus logs a failure, which would
    # read, in a failed test's log, as part of what went wrong.
    for s in (receiver, sender):
        s.daemon.cleanup()
    for bus in made:
        bus.close()


def new_endpoint(receiver: Side, directory: Path, user, *options) -> str:
    r = receiver.ctl("endpoint", "new", str(directory), *options, user=user)
    assert r.rc == 0, r
    return f"{r.out.strip()}@127.0.0.1:{receiver.port}"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def random_file(path: Path, size: int, owner=None) -> Path:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    if owner:
        os.chown(path, owner.uid, owner.gid)
    return path


def visible(directory: Path) -> list[str]:
    """Everything under DIR that a user would see (the hidden partial area left out)."""
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d != ".s2s-partial"]
        rel = os.path.relpath(root, directory)
        out += [os.path.normpath(os.path.join(rel, n)) for n in dirs + files]
    return sorted(out)


def read_until(proc: subprocess.Popen, predicate, timeout=60, what="a line") -> list[str]:
    """Reads PROC's standard output line by line until a line satisfies PREDICATE; returns the
    lines read, that one last (what follows it stays for the next call). Raises AssertionError if
    the output ends or TIMEOUT passes first."""
    fd = proc.stdout.fileno()
    pending: bytes = getattr(proc, "pending_output", b"")
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            lines.append(line.decode())
            if predicate(lines[-1]):
                proc.pending_output = pending
                return lines
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            proc.pending_output = pending
            raise AssertionError(f"timed out waiting for {what}: {lines}")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise AssertionError(f"output ended before {what}: {lines}")
        pending += chunk


def wait_for(predicate, timeout=60, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("checksum", ["xxh3-128", "sha256"])
def test_a_large_file_arrives_byte_for_byte(pair, mkdir, user_a, user_b, checksum):
    """1 GiB (xxh3) or 256 MiB (sha256) from user A's file to user B's endpoint: equal bytes,
    owned by B, and the digest reported by s2sctl is the file's."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    size = (1 << 30) if checksum == "xxh3-128" else (256 << 20)
    source = random_file(outbox / "big.bin", size, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)

    before = {side: (phase_cpu(side), process_cpu(side)) for side in (sender, receiver)}
    r = sender.ctl("send", "--checksum", checksum, "--json", str(source), dest, user=user_a, timeout=600)
    assert r.rc == 0, r
    # Each daemon counted its hot path's phases (CPUTimeByPhase), and no more than its CPU time.
    for side, phases in ((sender, ("read", "digest", "seal", "socket")), (receiver, ("socket", "open", "digest", "write"))):
        (phases_before, cpu_before), phases_after, cpu_after = before[side], phase_cpu(side), process_cpu(side)
        spent = {phase: phases_after[phase] - phases_before[phase] for phase in phases_after}
        assert all(spent[phase] > 0 for phase in phases), spent
        assert sum(spent.values()) <= cpu_after - cpu_before + 0.05, (spent, cpu_after - cpu_before)
    info = json.loads(r.out)
    assert info["state"] == "done" and info["bytesDone"] == size and info["filesDone"] == 1
    assert info["digestAlgorithm"] == checksum
    if checksum == "sha256":
        assert info["digest"] == sha256(source)
    arrived = inbox / "big.bin"
    assert visible(inbox) == ["big.bin"]
    assert arrived.stat().st_size == size and sha256(arrived) == sha256(source)
    assert (arrived.stat().st_uid, arrived.stat().st_gid) == (user_b.uid, user_b.gid)
    assert not (inbox / ".s2s-partial").exists(), "the partial area is removed after a finished transfer"
    endpoint = receiver.ctl("endpoint", "list", "--json", user=user_b).json()[0]
    assert endpoint["bytesReceived"] == size and endpoint["filesReceived"] == 1


def phase_cpu(side: Side) -> dict:
    """The daemon's CPUTimeByPhase, in seconds, read with busctl."""
    r = run(["busctl", f"--address={side.bus.address}", "--json=short", "get-property", "org.s2s.Daemon1",
             "/org/s2s/Daemon1", "org.s2s.Daemon1.Manager", "CPUTimeByPhase"])
    assert r.rc == 0, r
    reply = json.loads(r.out)
    assert reply["type"] == "a{st}", reply
    return {phase: ns / 1e9 for phase, ns in reply["data"].items()}


def process_cpu(side: Side) -> float:
    """The daemon's user and system CPU seconds so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{side.daemon.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hardware_aes() -> bool:
    """Whether this CPU runs AES-GCM in hardware as BoringSSL sees it (x86: AES-NI and PCLMULQDQ)."""
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith(("flags", "Features"))), [])
    return "aes" in flags and ("pclmulqdq" in flags or "pmull" in flags)


def test_a_second_send_to_an_endpoint_uses_aes_gcm_when_both_cpus_run_it(pair, mkdir, user_a, user_b):
    """The first session with an endpoint announces ChaChaPoly (the sender cannot know the
    receiver's CPU yet) and asks for AES-GCM transport keys, which the receiver grants: its data
    goes with AES-GCM. The receiver's HELLO says it takes AES-GCM, so the next session announces
    AES-GCM in its preamble, and so does one after the sending daemon started again (it exits when
    idle: the state database remembers). Every file arrives identical."""
    if not hardware_aes():
        pytest.skip("this CPU has no AES instructions: both sides keep ChaChaPoly")
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    for name in ("first.bin", "second.bin", "after-a-restart.bin"):
        if name == "after-a-restart.bin":
            sender.daemon.restart()
        source = random_file(outbox / name, 3 << 20, owner=user_a)
        r = sender.ctl("send", str(source), dest, user=user_a, timeout=120)
        assert r.rc == 0, r
        assert sha256(inbox / name) == sha256(source)
    ciphers = re.findall(r"incoming transfer accepted .*announced=(\w+) .*cipher=(\w+)", receiver.daemon.log())
    assert ciphers == [("ChaChaPoly", "AESGCM"), ("AESGCM", "AESGCM"), ("AESGCM", "AESGCM")], receiver.daemon.log()[-3000:]


def test_all_sixteen_streams_join(pair, mkdir, user_a, user_b):
    """send --streams 16: the sender lets its further connections through their handshakes six at
    a time, under the eight unfinished handshakes the receiver admits from one address
    (HandshakeAdmission), so all fifteen join; opened at once, the receiver dropped some. The rate
    limit keeps the transfer going until they have."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 32 << 20, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    r = sender.ctl("send", "--streams", "16", "--rate", "16M", str(source), dest, user=user_a, timeout=120)
    assert r.rc == 0, r
    assert sha256(inbox / "f.bin") == sha256(source)
    finished = [line for line in receiver.daemon.log().splitlines() if "incoming transfer finished" in line]
    assert len(finished) == 1 and "connections=16" in finished[0], receiver.daemon.log()[-3000:]
    assert "did not join" not in sender.daemon.log(), sender.daemon.log()[-3000:]


def test_a_tree_arrives_whole(pair, mkdir, user_a, user_b):
    """10,000 small files, empty files and directories, non-ASCII names; modes and mtimes kept;
    a symbolic link is skipped with a warning."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    top = mkdir("out", owner=user_a) / "photos"
    (top / "empty dir").mkdir(parents=True)
    for d in range(100):
        sub = top / f"d{d:03}" / "nested"
        sub.mkdir(parents=True)
        for i in range(100):
            (sub / f"f{i}.txt").write_bytes(os.urandom(i * 37 % 4096))
    (top / "ünïcødé ✓.txt").write_text("héllo")
    (top / "zero").write_bytes(b"")
    os.chmod(top / "zero", 0o600)
    os.utime(top / "zero", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    (top / "link").symlink_to("/etc/passwd")
    for root, dirs, files in os.walk(top.parent):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), user_a.uid, user_a.gid)
    dest = new_endpoint(receiver, inbox, user_b)

    r = sender.ctl("send", str(top), dest, user=user_a, timeout=600)
    assert r.rc == 0, r
    assert "skipped symbolic link" in r.err and "link" in r.err
    expected = [p for p in visible(top.parent) if not p.endswith("link")]
    assert visible(inbox) == expected
    for rel in expected:
        a, b = top.parent / rel, inbox / rel
        if a.is_file():
            assert a.read_bytes() == b.read_bytes(), rel
    zero = (inbox / "photos" / "zero").stat()
    assert zero.st_size == 0 and zero.st_mode & 0o777 == 0o600
    assert zero.st_mtime_ns == 1_600_000_000_123_456_789


def test_progress_is_seen_on_both_sides(pair, mkdir, user_a, user_b):
    """`s2sctl watch --json` on each bus shows the transfer added, progressing and done; the
    receiver's view names the endpoint and nothing about the sender."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 512 << 20, owner=user_a)
    watchers = [receiver.popen("watch", "--json", user=user_b), sender.popen("watch", "--json", user=user_a)]
    outputs = [[], []]

    def event_is(kind):
        return lambda line: bool(line.strip()) and json.loads(line)["event"] == kind

    try:
        dest = new_endpoint(receiver, inbox, user_b)
        # A watcher has subscribed once it reports an endpoint its user created: create marker
        # endpoints until each has reported one (one made before it subscribed goes unseen).
        for w, out, side, user in zip(watchers, outputs, (receiver, sender), (user_b, user_a)):
            for attempt in itertools.count():
                marker = new_endpoint(side, mkdir(f"marker-{user.name}-{attempt}", owner=user), user)
                try:
                    out += read_until(w, event_is("endpoint-added"), timeout=1, what="the watcher's subscription")
                    break
                except AssertionError:
                    assert attempt < 30, "a watcher never subscribed"
                finally:
                    assert side.ctl("endpoint", "rm", marker.split("@")[0], user=user).rc == 0
        r = sender.ctl("send", str(source), dest, user=user_a, timeout=600)
        assert r.rc == 0, r
        for w, out in zip(watchers, outputs):
            out += read_until(w, event_is("finished"), timeout=30, what="the finished event")
    finally:
        for w in watchers:
            w.terminate()
    for w, out, direction in zip(watchers, outputs, ("receive", "send")):
        w.communicate(timeout=10)
        events = [json.loads(line) for line in out if line.strip()]
        kinds = [e["event"] for e in events]
        assert "added" in kinds and "finished" in kinds, (direction, kinds)
        added = next(e for e in events if e["event"] == "added")["transfer"]
        assert added["direction"] == direction
        finished = next(e for e in events if e["event"] == "finished")
        assert finished["state"] == "done", finished
        progress = [e["progress"] for e in events if e["event"] == "progress"]
        assert progress, f"no progress signal on the {direction} side"
        assert all(p["bytesTotal"] == 512 << 20 for p in progress)
        done = [p["bytesDone"] for p in progress]
        assert done == sorted(done)
        if direction == "receive":
            assert added["destination"] is None and added["sources"] == []
            assert added["endpoint"].startswith("/org/s2s/Daemon1/endpoint/")


def cancel_mid_transfer(receiver: Side, sender: Side, user_a, user_b, side: str, proc: subprocess.Popen, after: int):
    """Once the send PROC has moved AFTER bytes, its user on SIDE cancels it: s2sctl send fails
    saying so, and the transfer ends cancelled on both sides."""
    try:
        who, user = (sender, user_a) if side == "sender" else (receiver, user_b)
        running = wait_for(lambda: [t for t in who.transfers(user) if t["state"] in ("sending", "receiving")
                                    and t["bytesDone"] > after], what="a running transfer")
        r = who.ctl("cancel", str(running[0]["number"]), user=user)
        assert r.rc == 0, r
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "cancel" in err
    for s, user in ((sender, user_a), (receiver, user_b)):
        t = wait_for(lambda: [t for t in s.transfers(user) if t["state"] not in ("sending", "receiving", "verifying",
                                                                                    "connecting")],
                     what="the transfer to end")[0]
        assert t["state"] == "cancelled", t


@pytest.mark.parametrize("side", ["sender", "receiver"])
def test_cancel_from_either_side(pair, mkdir, user_a, user_b, side):
    """A transfer cancelled by either user ends as cancelled on both sides; nothing partial is
    visible; files confirmed before stay."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    top = make_dir(outbox / "batch", user_a)
    random_file(top / "a-small", 1000, owner=user_a)
    random_file(top / "b-big", 2 << 30, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    proc = sender.popen("send", str(top), dest, user=user_a)
    cancel_mid_transfer(receiver, sender, user_a, user_b, side, proc, after=1 << 20)
    assert "batch/b-big" not in visible(inbox)
    wait_for(lambda: not (inbox / ".s2s-partial").exists(), what="the partial area to go")
    # The cancelled one is not resumed: a new send starts over.
    r = receiver.ctl("cancel", "1", user=user_b)
    assert r.rc != 0


def test_refusals_reach_the_sender_as_short_codes(pair, mkdir, user_a, user_b):
    """Quota and use count: the sender learns the code, nothing more; nothing arrives."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    source = random_file(outbox / "f.bin", 2 << 20, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b, "--quota", "1M")
    r = sender.ctl("send", str(source), dest, user=user_a)
    assert r.rc == 1 and "quota exceeded" in r.err, r
    assert visible(inbox) == []

    once = mkdir("once", owner=user_b)
    dest = new_endpoint(receiver, once, user_b, "--once")
    assert sender.ctl("send", str(source), dest, user=user_a).rc == 0
    second = random_file(outbox / "g.bin", 10, owner=user_a)
    r = sender.ctl("send", str(second), dest, user=user_a)
    assert r.rc == 1 and "expired or used up" in r.err, r
    assert visible(once) == ["f.bin"]


def test_the_sender_reads_only_what_its_user_may_read(pair, mkdir, user_a, user_b):
    """The daemon runs as root but reads sources as the calling user."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    secret = random_file(mkdir("root-only", mode=0o700) / "secret", 100)
    dest = new_endpoint(receiver, inbox, user_b)
    r = sender.ctl("send", str(secret), dest, user=user_a)
    assert r.rc == 66 and "Permission denied" in r.err, r  # EX_NOINPUT
    assert visible(inbox) == []


def test_bad_destinations_are_clear_errors(pair, mkdir, user_a):
    receiver, sender = pair
    source = random_file(mkdir("out", owner=user_a) / "f", 10, owner=user_a)
    for dest, message in [("nonsense", "ID"), ("s2s1qqqq@127.0.0.1:1", ""), ]:
        r = sender.ctl("send", str(source), dest, user=user_a)
        assert r.rc == 65, r  # EX_DATAERR
    # A valid ID that the receiver does not serve: the handshake is refused without a word.
    from s2sit import random_valid_id
    r = sender.ctl("send", str(source), f"{random_valid_id()}@127.0.0.1:{receiver.port}", user=user_a)
    assert r.rc == 1 and "transfer failed" in r.err, r


def test_a_retry_resumes_after_the_receiver_was_killed(pair, mkdir, user_a, user_b):
    """kill -9 the receiving daemon in the middle of a large file: the sender's queue retries on
    its own, and once the receiver is back the same s2sctl send finishes; the receiver kept its
    verified data (BytesResumed > 0) and the file arrives whole."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    size = 1 << 30
    source = random_file(mkdir("out", owner=user_a) / "big.bin", size, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    proc = sender.popen("send", "--json", str(source), dest, user=user_a)
    try:
        # Past the first checkpoint (256 MiB) the receiver has durable data to resume from.
        wait_for(lambda: [t for t in receiver.transfers(user_b) if t["bytesDone"] > 400 << 20],
                 timeout=300, interval=0.1, what="400 MiB received")
        receiver.daemon.kill9()
        wait_for(lambda: [t for t in sender.transfers(user_a) if t["state"] == "queued" and t["attempts"] >= 1
                          and t["lastError"]], timeout=60, interval=0.1, what="the sender waiting to retry")
        assert proc.poll() is None, "s2sctl send gave up while the queue retries"
        assert "big.bin" not in visible(inbox)
        receiver.daemon.start()
        # The retry starts counting from what the receiver holds, below what attempt 1 reached:
        # the rate must start over, not wrap around (it once read about 2^63 bytes a second).
        rates = []
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            rates += [t["rate"] for t in sender.transfers(user_a) if t["state"] != "done"]
            time.sleep(0.1)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "retrying" in err, err
    assert max(rates, default=0) < 1 << 40, rates
    info = json.loads(out)
    assert info["bytesResumed"] >= 256 << 20, info
    assert sha256(inbox / "big.bin") == sha256(source)
    assert visible(inbox) == ["big.bin"]


def test_a_retry_after_a_dropped_connection_carries_only_the_rest(pair, mkdir, user_a, user_b):
    """A proxy between the daemons drops the connection half-way; the same send again carries
    the rest (measured by the bytes through the proxy), and the file arrives whole."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    size = 768 << 20
    source = random_file(mkdir("out", owner=user_a) / "f.bin", size, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    proxy = CuttingProxy(receiver.port, cut_after=size // 2)
    try:
        via_proxy = dest.rsplit(":", 1)[0] + f":{proxy.port}"
        # One attempt: the queue would retry on its own (test_queue.py); here the user does.
        r = sender.ctl("send", "--max-attempts", "1", str(source), via_proxy, user=user_a, timeout=600)
        assert r.rc == 1 and "again resumes" in r.err, r
        first = proxy.carried
        assert first >= size // 2
        proxy.cut_after = None
        r = sender.ctl("send", "--json", str(source), via_proxy, user=user_a, timeout=600)
        assert r.rc == 0, r
        second = proxy.carried - first
    finally:
        proxy.close()
    info = json.loads(r.out)
    assert info["bytesResumed"] > 0
    assert second < size - info["bytesResumed"] + (16 << 20), (first, second, info["bytesResumed"])
    assert sha256(inbox / "f.bin") == sha256(source)


def test_a_full_disk_is_a_clear_error_and_loses_nothing(pair, mkdir, user_a, user_b, scratch):
    """The endpoint on a 64 MiB file system: a transfer that does not fit is refused or cancelled
    with "insufficient space" on both sides; the files already there are intact; nothing partial
    is visible."""
    receiver, sender = pair
    mount = make_dir(scratch / "small")
    r = run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(mount)])
    if r.rc != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.err}")
    try:
        inbox = make_dir(mount / "in", user_b)
        keep = inbox / "keep.txt"
        keep.write_text("precious")
        os.chown(keep, user_b.uid, user_b.gid)
        outbox = mkdir("out", owner=user_a)
        # The reserve (64 MiB by default) alone exceeds this file system: the offer is refused.
        small = random_file(outbox / "small.bin", 1 << 20, owner=user_a)
        dest = new_endpoint(receiver, inbox, user_b)
        r = sender.ctl("send", str(small), dest, user=user_a)
        assert r.rc == 1 and "insufficient space" in r.err, r
        assert visible(inbox) == ["keep.txt"] and keep.read_text() == "precious"
        # A refused offer leaves no trace, not even an empty partial directory.
        partial = inbox / ".s2s-partial"
        assert not partial.exists() or not list(partial.iterdir()), list(partial.iterdir())
    finally:
        run(["umount", "-l", str(mount)])


class CuttingProxy:
    """A TCP proxy on loopback that counts the bytes it carries towards the target and can cut
    the connection once a number of them has passed; with RATE (bytes a second) it also slows
    that direction down, so that a transfer lasts long enough to be watched."""

    def __init__(self, target_port: int, cut_after: int | None, rate: int | None = None):
        import socket
        self.target_port = target_port
        self.cut_after = cut_after
        self.rate = rate
        self.carried = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, target, counted: bool):
        import socket
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                if counted:
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                    self.carried += len(data)
                    if self.cut_after is not None and self.carried >= self.cut_after:
                        for s in (source, target):
                            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                            s.close()
                        return
                target.sendall(data)
        except OSError:
            for s in (source, target):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.listener.close()


def test_external_address_gives_the_senders_form(scratch, daemon_factory, mkdir, user_b):
    """`s2sd --external-address` gives the ID@HOST:PORT form in the "address" key of --json, and
    on standard error when it is a terminal (test_messages.py), while stdout stays the ID alone."""
    bus = Bus(scratch)
    try:
        daemon_factory(target_bus=bus, args=["--external-address", "files.example.org"])
        side = Side(bus, None, None)
        r = side.ctl("endpoint", "new", str(mkdir("in", owner=user_b)), user=user_b)
        assert r.rc == 0, r
        endpoint_id = r.out.strip()
        assert "\n" not in endpoint_id and r.err == "", r  # not a terminal: the ID alone
        info = side.ctl("endpoint", "new", str(mkdir("in2", owner=user_b)), "--json", user=user_b).json()
        assert info["address"] == f"{info['id']}@files.example.org:7730"
    finally:
        bus.close()
