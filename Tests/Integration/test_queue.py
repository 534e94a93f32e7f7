# The persistent send queue (docs/queue.md): crash consistency under kill -9 of either daemon,
# scheduling limits and priorities, retries with backoff, pause/resume, the history, the
# ResumeRetention= sweep, and bad input.

from __future__ import annotations

import hashlib
import os
import random
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from conftest import Bus, free_port
from s2sit import MANAGER, ROOT, TRANSFER, Client, DBusError, number_of
from test_transfer import Side, new_endpoint, random_file, sha256, visible, wait_for

ERR_ACCESS_DENIED = "org.s2s.Error.AccessDenied"
ERR_INVALID = "org.s2s.Error.InvalidArgument"
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"


@pytest.fixture
def queue_pair(scratch, daemon_factory):
    """make(sender_conf="", receiver_conf="") -> (receiver, sender): two daemons on two buses,
    with extra [Daemon] settings; the receiver listens on a fixed loopback port (the same after a
    restart)."""
    buses = []

    def make(sender_conf: str = "", receiver_conf: str = ""):
        rbus, sbus = Bus(scratch), Bus(scratch)
        buses.extend([rbus, sbus])
        port = free_port()
        receiver = Side(rbus, daemon_factory(target_bus=rbus, args=["--listen", f"127.0.0.1:{port}"],
                                             config=f"[Daemon]\n{receiver_conf}\n"), port)
        sender = Side(sbus, daemon_factory(target_bus=sbus, config=f"[Daemon]\n{sender_conf}\n"), None)
        return receiver, sender

    yield make
    for bus in buses:
        bus.close()


class PatientProxy:
    """A TCP proxy on loopback that slows the sender-to-receiver direction down to RATE bytes a
    second per connection (so that a kill lands mid-transfer), and, while the receiver is down,
    holds a new connection and keeps trying to reach it (as a relay would) instead of closing it."""

    def __init__(self, target_port: int, rate: int):
        self.target_port = target_port
        self.rate = rate
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.sockets: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        deadline = time.monotonic() + 30
        while True:
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
                break
            except OSError:
                if self.closed or time.monotonic() > deadline:
                    client.close()
                    return
                time.sleep(0.05)
        self.sockets += [client, upstream]
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, target, slowed: bool):
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                if slowed:
                    time.sleep(len(data) / self.rate)
                target.sendall(data)
        except OSError:
            for s in (source, target):
                try:
                    s.close()
                except OSError:
                    pass

    def via(self, dest: str) -> str:
        return dest.rsplit(":", 1)[0] + f":{self.port}"

    def close(self):
        self.closed = True
        self.listener.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


def transfer_number(send_output: str) -> int:
    return number_of(send_output.strip())


def history(side: Side, user) -> dict:
    return {t["number"]: t for t in side.ctl("transfers", "--all", "--json", user=user).json()}


def wait_finished(side: Side, user, number: int, timeout=180) -> dict:
    def finished():
        t = history(side, user).get(number)
        return t if t and t["state"] in ("done", "failed", "cancelled") else None
    return wait_for(finished, timeout=timeout, interval=0.2, what=f"transfer {number} to finish")


def make_sources(outbox: Path, owner, sizes) -> list[Path]:
    return [random_file(outbox / f"part-{i}.bin", size, owner=owner) for i, size in enumerate(sizes)]


def assert_arrived(inbox: Path, sources: list[Path]):
    assert visible(inbox) == sorted(s.name for s in sources), visible(inbox)
    for s in sources:
        assert sha256(inbox / s.name) == sha256(s), s.name


# --------------------------------------------------------------------------------------------
# Crash consistency


@pytest.mark.parametrize("victim", ["sender", "receiver"])
def test_kill_9_at_random_moments(queue_pair, mkdir, user_a, user_b, victim):
    """Twenty trials: a three-file send through a slow proxy, the sending (or receiving) daemon
    killed with SIGKILL at a random moment and started again; the sender carries on by itself
    (no second s2sctl send), every file arrives once, whole."""
    receiver, sender = queue_pair()
    proxy = PatientProxy(receiver.port, rate=8 << 20)
    seed = int(os.environ.get("S2S_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"kill trials: victim={victim} seed={seed}")
    sources = make_sources(mkdir("out", owner=user_a), user_a, [3 << 20, 1 << 20, 2 << 20])
    started = time.monotonic()
    try:
        for trial in range(20):
            inbox = mkdir(f"in{trial}", owner=user_b)
            dest = proxy.via(new_endpoint(receiver, inbox, user_b))
            r = sender.ctl("send", "--no-wait", *map(str, sources), dest, user=user_a)
            assert r.rc == 0, r
            number = transfer_number(r.out)
            time.sleep(rng.uniform(0.0, 0.9))
            side = sender if victim == "sender" else receiver
            side.daemon.kill9()
            side.daemon.start()
            t = wait_finished(sender, user_a, number)
            assert t["state"] == "done", (trial, t)
            assert_arrived(inbox, sources)
    finally:
        proxy.close()
    print(f"kill trials: victim={victim}: 20 trials in {time.monotonic() - started:.1f}s")


def test_numbers_and_history_survive_a_restart(queue_pair, mkdir, user_a, user_b):
    """Numbers never start again at 1; finished transfers stay in the history across restarts
    (and on the bus as recent ones); --clear removes them, only the caller's."""
    receiver, sender = queue_pair()
    inbox = mkdir("in", owner=user_b)
    dest = new_endpoint(receiver, inbox, user_b)
    src = random_file(mkdir("out", owner=user_a) / "a.txt", 1000, owner=user_a)
    r = sender.ctl("send", str(src), dest, user=user_a)
    assert r.rc == 0, r
    first = sender.transfers(user_a)
    assert [t["state"] for t in first] == ["done"]
    sender.daemon.restart()
    assert [t["number"] for t in sender.transfers(user_a)] == [first[0]["number"]], "recent transfers survive"
    src2 = random_file(mkdir("out2", owner=user_a) / "b.txt", 1000, owner=user_a)
    r = sender.ctl("send", str(src2), dest, user=user_a)
    assert r.rc == 0, r
    sender.daemon.kill9()
    sender.daemon.start()
    all_a = history(sender, user_a)
    assert len(all_a) == 2 and len(set(all_a)) == 2 and min(all_a) == first[0]["number"], all_a
    assert all(t["state"] == "done" for t in all_a.values())
    # Root's own transfer, then user A clears only hers.
    src3 = random_file(mkdir("out3") / "c.txt", 10)
    r = sender.ctl("send", str(src3), dest)
    assert r.rc == 0, r
    r = sender.ctl("transfers", "--clear", user=user_a)
    assert r.rc == 0 and "Cleared 2" in r.err, r
    assert history(sender, user_a) == {}
    assert sender.transfers(user_a) == []
    assert [t["sources"] for t in history(sender, None).values()] == [[str(src3)]]
    # The receiver's side has a history too, with numbers of its own.
    assert len(history(receiver, user_b)) == 3


def test_resume_retention_sweep(queue_pair, mkdir, user_a, user_b):
    """Partial data of an abandoned incoming transfer (the sender paused and never came back)
    goes once ResumeRetention= has passed without activity, with its resume records."""
    receiver, sender = queue_pair(receiver_conf="ResumeRetention=3s")
    proxy = PatientProxy(receiver.port, rate=1 << 20)
    try:
        inbox = mkdir("in", owner=user_b)
        dest = proxy.via(new_endpoint(receiver, inbox, user_b))
        sources = make_sources(mkdir("out", owner=user_a), user_a, [256 << 10, 256 << 10, 8 << 20])
        r = sender.ctl("send", "--no-wait", *map(str, sources), dest, user=user_a)
        assert r.rc == 0, r
        number = transfer_number(r.out)
        partial = inbox / ".s2s-partial"
        wait_for(lambda: partial.is_dir() and any(partial.iterdir()) and len(visible(inbox)) >= 1, timeout=60,
                 what="partial data and a first file")
        r = sender.ctl("pause", str(number), user=user_a)
        assert r.rc == 0, r
        wait_for(lambda: history(sender, user_a)[number]["state"] == "paused", timeout=30, what="paused")
    finally:
        proxy.close()
    # Nothing running any more: the sweep removes the partial directory within a few seconds.
    wait_for(lambda: not partial.exists() or not any(partial.iterdir()), timeout=60, interval=0.5,
             what="the abandoned partial data to be swept")
    assert "part-2.bin" not in visible(inbox)


# --------------------------------------------------------------------------------------------
# Scheduling


def test_fifty_sends_with_a_limit_of_three_start_in_priority_order(queue_pair, mkdir, user_a, user_b):
    """MaxActiveSends=3 (and 2 per destination, over two endpoints): never more than three run,
    all arrive, and once three sends that hold the slots (slowed to a trickle by their own rate
    limit until every send is queued) go, the 47 others start by priority, higher first, first
    come first served within one."""
    # The blockers hold their slots mid-transfer, past their handshakes, so that nothing about
    # connecting (timeouts, retries) can hand a slot to a send queued early; SetRateLimit(0)
    # releases them.
    receiver, sender = queue_pair(sender_conf="MaxActiveSends=3\nMaxActiveSendsPerDestination=2")
    proxy = PatientProxy(receiver.port, rate=1 << 20)
    watcher = Client(sender.bus.address, user_a)
    poller = Client(sender.bus.address, user_a)
    try:
        inboxes = [mkdir(f"in{i}", owner=user_b) for i in range(2)]
        endpoints = [new_endpoint(receiver, d, user_b) for d in inboxes]
        outbox = mkdir("out", owner=user_a)
        watcher.subscribe()
        # At 16 KiB/s, a blocker takes minutes: time enough to queue the others on a slow machine.
        blockers = [random_file(outbox / f"blocker-{i}.bin", 4 << 20, owner=user_a) for i in range(3)]
        small = [random_file(outbox / f"small-{i:02}.bin", 128 << 10, owner=user_a) for i in range(47)]
        rng = random.Random(4)
        priorities = {}
        paths = []
        for i, f in enumerate(blockers):
            (path, _w) = watcher.manager("Send", "assa{sv}", ([str(f)], endpoints[i % 2], {
                "Priority": ("i", -100), "RateLimit": ("t", 16 << 10)}))
            paths.append(path)
            priorities[path] = -100
        wait_for(lambda: all(poller.get(p, TRANSFER, "State") == "sending" for p in paths), timeout=60,
                 what="three sends holding the slots, past their handshakes")
        for i, f in enumerate(small):
            p = rng.randint(-100, 100)
            (path, _w) = watcher.manager("Send", "assa{sv}", ([str(f)], proxy.via(endpoints[i % 2]), {"Priority": ("i", p)}))
            paths.append(path)
            priorities[path] = p
        assert poller.get(ROOT, MANAGER, "QueuedSends") == 47
        assert all(poller.get(p, TRANSFER, "State") == "sending" for p in paths[:3])
        for p in paths[:3]:
            poller.call(p, TRANSFER, "SetRateLimit", "t", (0,))
        started, finished, seen_max = [], set(), 0
        deadline = time.monotonic() + 300
        while len(finished) < 50:
            assert time.monotonic() < deadline, f"only {len(finished)} finished"
            for m in watcher.drain_signals(0.05):
                member = m.header.fields.get(3)  # HeaderFields.member
                if member == "TransferProgress" and m.body[1] == "connecting" and m.body[0] not in started:
                    started.append(m.body[0])
                elif member == "TransferFinished":
                    assert m.body[1] == "done", m.body
                    finished.add(m.body[0])
            active = poller.get(ROOT, MANAGER, "ActiveSends")
            seen_max = max(seen_max, active)
            assert active <= 3, active
        assert seen_max >= 2, "the sends never ran side by side"
        later = [p for p in started if p not in paths[:3]]
        assert set(later) == set(paths[3:])
        key = {p: (-priorities[p], number_of(p)) for p in paths}
        # The queue starts them in order, to each endpoint (a send to an endpoint that already
        # has two running waits while others to the other endpoint start); sends started in the
        # same round (at most three, when several slots freed at once) may announce themselves
        # in any order among them.
        endpoint_of = {p: i % 2 for i, p in enumerate(paths[3:])}
        for e in (0, 1):
            mine = [p for p in later if endpoint_of[p] == e]
            for i in range(len(mine)):
                for j in range(i + 3, len(mine)):
                    assert key[mine[i]] <= key[mine[j]], (e, i, j, [key[p] for p in mine])
        # Across endpoints: the slots the blockers free go to the best sends whose endpoint has
        # room, so each endpoint's highest is among the first four to start. (How far down one
        # endpoint's list goes while the other's two are running depends on when those finish,
        # which a loaded machine decides: no stronger order across endpoints holds.)
        for e in (0, 1):
            best = min((p for p in paths[3:] if endpoint_of[p] == e), key=key.get)
            assert best in later[:4], (e, key[best], [key[p] for p in later[:4]])
        for group in (blockers, small):
            for i, f in enumerate(group):
                assert sha256(inboxes[i % 2] / f.name) == sha256(f)
        assert len(visible(inboxes[0])) + len(visible(inboxes[1])) == 50
    finally:
        watcher.close()
        poller.close()
        proxy.close()


def test_a_destination_that_is_down_is_retried_with_growing_delays(queue_pair, mkdir, user_a, user_b):
    """Nothing listens at the destination: the send waits in "queued" with LastError and a
    NextAttempt that moves further out each time; once the receiver is up, it arrives, and a
    plain s2sctl send says meanwhile that it is retrying."""
    receiver, sender = queue_pair()
    inbox = mkdir("in", owner=user_b)
    dest = new_endpoint(receiver, inbox, user_b)
    receiver.daemon.stop()
    src = random_file(mkdir("out", owner=user_a) / "f.bin", 1 << 20, owner=user_a)
    proc = sender.popen("send", str(src), dest, user=user_a)
    try:
        seen = {}

        def waited_enough():
            for t in sender.transfers(user_a):
                if t["state"] == "queued" and t["attempts"] and t["nextAttempt"]:
                    seen[t["attempts"]] = (time.time(), t)
            return len(seen) >= 4 and max(seen) >= 4
        wait_for(waited_enough, timeout=90, interval=0.2, what="four attempts")
        t = seen[max(seen)][1]
        assert "refused" in t["lastError"].lower() or "connect" in t["lastError"].lower(), t
        from datetime import datetime
        nexts = [datetime.fromisoformat(seen[a][1]["nextAttempt"].replace("Z", "+00:00")).timestamp() for a in sorted(seen)]
        gaps = [b - a for a, b in zip(nexts, nexts[1:])]
        assert gaps[-1] > gaps[0], (nexts, gaps)
        assert proc.poll() is None
        receiver.daemon.start()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "retrying" in err and "attempt" in err, err
    assert_arrived(inbox, [src])


def test_a_senders_handshake_timeout_is_its_setting(queue_pair, mkdir, user_a, user_b):
    """PeerHandshakeTimeout= bounds the handshakes a daemon starts, not only those it answers:
    against a listener that accepts and never says a word, the sender resets each attempt after
    its configured 2 s (the default is 10 s), and the send waits for its next attempt."""
    receiver, sender = queue_pair(sender_conf="PeerHandshakeTimeout=2s")
    from s2sit import random_valid_id
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    silent.settimeout(60)
    src = random_file(mkdir("out", owner=user_a) / "f.bin", 1000, owner=user_a)
    r = sender.ctl("send", "--no-wait", str(src), f"{random_valid_id()}@127.0.0.1:{silent.getsockname()[1]}",
                   user=user_a)
    assert r.rc == 0, r
    number = transfer_number(r.out)
    try:
        conn, _ = silent.accept()
        accepted = time.monotonic()
        conn.settimeout(60)
        try:
            while conn.recv(4096):  # the preamble and handshake message 1, then the sender's reset
                pass
        except ConnectionResetError:  # a handshake that runs out of time is reset (docs/protocol.md)
            pass
        held = time.monotonic() - accepted
        conn.close()
    finally:
        silent.close()
    assert 1.5 <= held < 9, f"the sender gave up after {held:.1f} s"

    def failed_once():
        t = history(sender, user_a)[number]
        return t if t["attempts"] >= 1 and t["lastError"] else None
    t = wait_for(failed_once, timeout=30, what="the first attempt's error")
    assert t["state"] == "queued" and "handshake" in t["lastError"].lower(), t
    assert sender.ctl("cancel", str(number), user=user_a).rc == 0


def test_permanent_errors_are_not_retried(queue_pair, mkdir, user_a, user_b):
    """A refusal (quota, an endpoint used up) fails at once after one attempt; an unknown
    endpoint ID after three handshakes the receiver closed."""
    receiver, sender = queue_pair()
    src = random_file(mkdir("out", owner=user_a) / "f.bin", 2 << 20, owner=user_a)
    dest = new_endpoint(receiver, mkdir("in", owner=user_b), user_b, "--quota", "1M")
    r = sender.ctl("send", "--json", str(src), dest, user=user_a)
    assert r.rc == 1 and "quota exceeded" in r.err, r
    once = new_endpoint(receiver, mkdir("once", owner=user_b), user_b, "--once")
    r = sender.ctl("send", str(src), once, user=user_a)
    assert r.rc == 0, r
    src2 = random_file(mkdir("out2", owner=user_a) / "g.bin", 10, owner=user_a)
    r = sender.ctl("send", str(src2), once, user=user_a)
    assert r.rc == 1 and "expired or used up" in r.err, r
    from s2sit import random_valid_id
    r = sender.ctl("send", str(src2), f"{random_valid_id()}@127.0.0.1:{receiver.port}", user=user_a)
    assert r.rc == 1 and "no endpoint with this ID" in r.err, r
    attempts = sorted((t["attempts"], t["state"]) for t in history(sender, user_a).values())
    assert attempts == [(1, "done"), (1, "failed"), (1, "failed"), (3, "failed")], attempts


def test_pause_and_resume(queue_pair, mkdir, user_a, user_b):
    """Pausing a running send disconnects it without cancelling (CANCEL(paused)); the receiver
    keeps its data and shows the transfer paused, not failed; paused survives the sender's
    restart; resume finishes it, and the receiver's same transfer carries on to done. Pausing a
    finished transfer, resuming one that is not paused, and another user's transfer are clear
    errors."""
    receiver, sender = queue_pair()
    proxy = PatientProxy(receiver.port, rate=2 << 20)
    try:
        inbox = mkdir("in", owner=user_b)
        dest = proxy.via(new_endpoint(receiver, inbox, user_b))
        # More than the socket buffers on the way hold (sender, proxy): the pause lands mid-file.
        sources = make_sources(mkdir("out", owner=user_a), user_a, [1 << 20, 1 << 20, 16 << 20])
        r = sender.ctl("send", "--no-wait", *map(str, sources), dest, user=user_a)
        assert r.rc == 0, r
        number = transfer_number(r.out)
        wait_for(lambda: history(sender, user_a)[number]["filesDone"] >= 1, timeout=60, what="a first file")
        r = sender.ctl("resume", str(number), user=user_a)
        assert r.rc == 1 and "not paused" in r.err, r
        r = sender.ctl("pause", str(number), user=user_b)
        assert r.rc == 1, r
        r = sender.ctl("pause", str(number), user=user_a)
        assert r.rc == 0, r
        wait_for(lambda: history(sender, user_a)[number]["state"] == "paused", timeout=30, what="paused")
        incoming = wait_for(lambda: [t for t in history(receiver, user_b).values() if t["state"] == "paused"],
                            timeout=30, what="the receiver to show the transfer paused")
        assert len(incoming) == 1 and incoming[0]["error"] is None, incoming
        r = receiver.ctl("transfers", user=user_b)
        assert r.rc == 0 and "paused by the sender" in r.out, r
        r = sender.ctl("pause", str(number), user=user_a)
        assert r.rc == 1 and "already paused" in r.err, r
        # Said once: the pause, not also an interruption of the attempt it ended.
        log = sender.daemon.log()
        assert "transfer paused" in log and "transfer interrupted" not in log, log[-2000:]
        sender.daemon.restart()
        time.sleep(1.5)  # on purpose: the restored send must stay paused while time passes
        assert history(sender, user_a)[number]["state"] == "paused"
        r = sender.ctl("resume", str(number), user=user_a)
        assert r.rc == 0, r
        t = wait_finished(sender, user_a, number)
        assert t["state"] == "done", t
        assert t["bytesResumed"] > 0, t
        assert_arrived(inbox, sources)
        # The receiver's transfer that was paused is the one that finished: no second one.
        received = history(receiver, user_b)
        assert [u["state"] for u in received.values()] == ["done"], received
        assert received[incoming[0]["number"]]["bytesResumed"] > 0, received
        r = sender.ctl("pause", str(number), user=user_a)
        assert r.rc == 1 and "already ended" in r.err, r
    finally:
        proxy.close()


def test_the_receiver_cancels_a_paused_transfer(queue_pair, mkdir, user_a, user_b):
    """The receiver's owner cancels an incoming transfer its sender paused: it ends cancelled at
    once, its partial data goes, and when the sender resumes it is told CANCEL(cancelled) and its
    send ends cancelled, with nothing more delivered."""
    receiver, sender = queue_pair()
    proxy = PatientProxy(receiver.port, rate=2 << 20)
    try:
        inbox = mkdir("in", owner=user_b)
        dest = proxy.via(new_endpoint(receiver, inbox, user_b))
        sources = make_sources(mkdir("out", owner=user_a), user_a, [1 << 20, 16 << 20])
        r = sender.ctl("send", "--no-wait", *map(str, sources), dest, user=user_a)
        assert r.rc == 0, r
        number = transfer_number(r.out)
        wait_for(lambda: history(sender, user_a)[number]["filesDone"] >= 1, timeout=60, what="a first file")
        assert sender.ctl("pause", str(number), user=user_a).rc == 0
        incoming = wait_for(lambda: [t for t in history(receiver, user_b).values() if t["state"] == "paused"],
                            timeout=30, what="the receiver to show the transfer paused")[0]
        partial = inbox / ".s2s-partial"
        assert any(partial.iterdir()), "the paused transfer keeps its partial data"
        r = receiver.ctl("cancel", str(incoming["number"]), user=user_b)
        assert r.rc == 0, r
        assert history(receiver, user_b)[incoming["number"]]["state"] == "cancelled"
        assert not partial.exists() or not any(partial.iterdir()), "its partial data is gone"
        assert sender.ctl("resume", str(number), user=user_a).rc == 0
        t = wait_finished(sender, user_a, number)
        assert t["state"] == "cancelled" and "receiver" in t["error"], t
        assert visible(inbox) == [sources[0].name]
    finally:
        proxy.close()


def test_bad_input_is_a_clear_error(queue_pair, mkdir, user_a, user_b):
    receiver, sender = queue_pair()
    src = random_file(mkdir("out", owner=user_a) / "f.bin", 10, owner=user_a)
    dest = new_endpoint(receiver, mkdir("in", owner=user_b), user_b)
    for args, message in [
        (["--priority", "101"], "--priority must be from -100 to 100"),
        (["--priority", "-101"], "--priority must be from -100 to 100"),
        (["--priority", "99999999999999"], "priority"),
        (["--priority", "high"], "priority"),
        (["--retry-for", "soon"], "--retry-for"),
        (["--retry-for", "-5s"], "--retry-for"),
        (["--retry-for", "400d"], "at most 366 days"),
        (["--max-attempts", "-1"], "max-attempts"),
    ]:
        r = sender.ctl("send", *args, str(src), dest, user=user_a)
        assert r.rc == 64 and message in r.err, (args, r)
    for command in ("pause", "resume", "cancel"):
        r = sender.ctl(command, "0", user=user_a)
        assert r.rc == 64, r
        r = sender.ctl(command, "abc", user=user_a)
        assert r.rc == 64, r
        r = sender.ctl(command, "987654", user=user_a)
        assert r.rc == 1 and r.err.startswith("s2sctl: "), r
    r = sender.ctl("transfers", "--all", "--clear", user=user_a)
    assert r.rc == 64, r
    # The bus: a Priority out of range or of the wrong type, a bad RetryFor; nothing is queued.
    with Client(sender.bus.address, user_a) as c:
        for options in ({"Priority": ("i", 1000)}, {"Priority": ("s", "high")}, {"RetryFor": ("s", "1d")},
                        {"MaxAttempts": ("i", -1)}, {"Bogus": ("b", True)}):
            with pytest.raises(DBusError) as e:
                c.manager("Send", "assa{sv}", ([str(src)], dest, options))
            assert e.value.name == ERR_INVALID, (options, e.value)
        assert c.manager("ListTransferHistory")[0] == []
        # A negative priority within range is fine.
        (path, _w) = c.manager("Send", "assa{sv}", ([str(src)], dest, {"Priority": ("i", -7)}))
        assert c.get(path, TRANSFER, "Priority") == -7
    # Another user's transfer: not even visible.
    with Client(sender.bus.address, user_b) as c:
        assert c.error_of(path, TRANSFER, "Pause") == UNKNOWN_OBJECT
        assert c.error_of(path, TRANSFER, "Resume") == UNKNOWN_OBJECT
        assert list(c.manager("ClearFinished")) == [0]


@pytest.mark.slow
def test_an_interrupted_send_resumes_with_the_same_token(queue_pair, mkdir, user_a, user_b):
    """Done-when: s2sctl send of twenty files to a receiver daemon that is then stopped for a
    minute and started again finishes on its own."""
    receiver, sender = queue_pair()
    proxy = PatientProxy(receiver.port, rate=4 << 20)
    try:
        inbox = mkdir("in", owner=user_b)
        dest = proxy.via(new_endpoint(receiver, inbox, user_b))
        sources = make_sources(mkdir("out", owner=user_a), user_a, [512 << 10] * 20)
        proc = sender.popen("send", *map(str, sources), dest, user=user_a)
        try:
            wait_for(lambda: [t for t in sender.transfers(user_a) if t["filesDone"] >= 3], timeout=60, what="three files")
            receiver.daemon.stop()
            time.sleep(60)
            assert proc.poll() is None, "s2sctl send gave up"
            receiver.daemon.start()
            back = time.monotonic()
            out, err = proc.communicate(timeout=300)
            print(f"twenty files: done {time.monotonic() - back:.1f} s after the receiver came back")
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        proxy.close()
    assert proc.returncode == 0, err
    assert "retrying" in err, err
    assert_arrived(inbox, sources)
    (t,) = sender.transfers(user_a)
    assert t["state"] == "done" and t["attempts"] >= 2, t


def test_ctrl_c_cancels_a_send_that_waits_for_its_destination(queue_pair, mkdir, user_a, user_b):
    """A plain s2sctl send to a receiver that is down says that it retries, and Ctrl-C cancels
    the waiting send for good."""
    import signal
    receiver, sender = queue_pair()
    dest = new_endpoint(receiver, mkdir("in", owner=user_b), user_b)
    receiver.daemon.stop()
    src = random_file(mkdir("out", owner=user_a) / "f.bin", 1000, owner=user_a)
    proc = sender.popen("send", str(src), dest, user=user_a)
    try:
        wait_for(lambda: [t for t in sender.transfers(user_a) if t["attempts"] >= 2], timeout=60, what="two attempts")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err  # interrupted
    assert "retrying" in err and "Ctrl-C cancels" in err and "cancelled" in err, err
    (t,) = sender.transfers(user_a)
    assert t["state"] == "cancelled", t
    time.sleep(3)  # on purpose: longer than the retry delay, so that an attempt after the cancel would show
    assert history(sender, user_a)[t["number"]]["attempts"] == t["attempts"], "no attempt after the cancel"


def test_move_mode_survives_kill_9_of_the_sender(queue_pair, mkdir, user_a, user_b):
    """send --remove-source of four files, the sending daemon killed at a random moment and
    started again (eight trials): every file arrives once, whole, and every source is gone, even
    one the receiver confirmed to the attempt that died before removing it (it is unchanged since
    it was first offered)."""
    receiver, sender = queue_pair()
    proxy = PatientProxy(receiver.port, rate=8 << 20)
    seed = int(os.environ.get("S2S_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"move-mode kill trials: seed={seed}")
    try:
        for trial in range(8):
            inbox = mkdir(f"in{trial}", owner=user_b)
            sources = make_sources(mkdir(f"out{trial}", owner=user_a), user_a, [1 << 20] * 4)
            digests = {s.name: sha256(s) for s in sources}
            dest = proxy.via(new_endpoint(receiver, inbox, user_b))
            r = sender.ctl("send", "--no-wait", "--remove-source", *map(str, sources), dest, user=user_a)
            assert r.rc == 0, r
            number = transfer_number(r.out)
            time.sleep(rng.uniform(0.0, 0.6))
            sender.daemon.kill9()
            sender.daemon.start()
            t = wait_finished(sender, user_a, number)
            assert t["state"] == "done", (trial, seed, t)
            assert visible(inbox) == sorted(digests), (trial, seed, visible(inbox))
            for name, digest in digests.items():
                assert sha256(inbox / name) == digest, (trial, seed, name)
            assert not [s for s in sources if s.exists()] and t["keptSources"] == [], (trial, seed, t)
    finally:
        proxy.close()


def send_paused_half_way(queue_pair, mkdir, user_a, user_b, files: dict[str, int], while_paused=lambda tree: None):
    """Sends a directory "tree" holding FILES (name: size) through a 1 MiB/s proxy, pauses it once
    bytes flow, calls WHILE_PAUSED(tree), resumes it and waits for its end. Returns the finished
    transfer, the receiver's copy of the tree, and the source tree."""
    receiver, sender = queue_pair()
    proxy = PatientProxy(receiver.port, rate=1 << 20)
    try:
        inbox = mkdir("in", owner=user_b)
        dest = proxy.via(new_endpoint(receiver, inbox, user_b))
        tree = mkdir("out", owner=user_a) / "tree"
        tree.mkdir()
        os.chown(tree, user_a.uid, user_a.gid)
        for name, size in files.items():
            random_file(tree / name, size, owner=user_a)
        r = sender.ctl("send", "--no-wait", str(tree), dest, user=user_a)
        assert r.rc == 0, r
        number = transfer_number(r.out)
        wait_for(lambda: history(sender, user_a)[number]["bytesDone"] > 0, timeout=60, what="bytes flowing")
        assert sender.ctl("pause", str(number), user=user_a).rc == 0
        wait_for(lambda: history(sender, user_a)[number]["state"] == "paused", timeout=30, what="paused")
        while_paused(tree)
        assert sender.ctl("resume", str(number), user=user_a).rc == 0
        return wait_finished(sender, user_a, number), inbox / "tree", tree
    finally:
        proxy.close()


def test_a_resumed_send_whose_offer_grew_publishes_each_file_under_its_own_name(queue_pair, mkdir, user_a, user_b):
    """A directory send is paused half-way; a file that sorts first is added to the directory;
    the resumed attempt offers it at the index the half-sent file had. Each file must arrive under
    its own name with its own content (the receiver once published by partial-file slot, which
    swapped them)."""
    def add_a(tree):
        random_file(tree / "a.bin", 1000, owner=user_a)

    t, received, tree = send_paused_half_way(queue_pair, mkdir, user_a, user_b, {"b.bin": 4 << 20}, add_a)
    assert t["state"] == "done", t
    for name in ("a.bin", "b.bin"):
        assert sha256(received / name) == sha256(tree / name), name


def test_names_that_differ_only_in_unicode_normalization_resume(queue_pair, mkdir, user_a, user_b):
    """A directory holds café.txt in NFC and in NFD (two names, both valid). Interrupted and
    resumed, the send completes, each file once under its own name (the receiver once merged the
    two names in its resume records and refused every retry)."""
    names = ["caf\u00e9.txt", "cafe\u0301.txt"]
    t, received, tree = send_paused_half_way(queue_pair, mkdir, user_a, user_b, {name: 1 << 20 for name in names})
    assert t["state"] == "done" and t["bytesResumed"] > 0, t
    assert sorted(os.listdir(os.fsencode(received))) == sorted(os.fsencode(name) for name in names)
    for name in names:
        assert sha256(received / name) == sha256(tree / name), name


def test_a_receiver_killed_mid_file_resumes_from_a_recent_checkpoint(queue_pair, mkdir, user_a, user_b):
    """The receiver records a durable resume point every 2 s (or 256 MiB) of a file: killed with
    SIGKILL a few seconds into one large file, it resumes from there instead of from zero."""
    receiver, sender = queue_pair()
    proxy = PatientProxy(receiver.port, rate=4 << 20)
    try:
        inbox = mkdir("in", owner=user_b)
        dest = proxy.via(new_endpoint(receiver, inbox, user_b))
        src = random_file(mkdir("out", owner=user_a) / "big.bin", 24 << 20, owner=user_a)
        r = sender.ctl("send", "--no-wait", str(src), dest, user=user_a)
        assert r.rc == 0, r
        number = transfer_number(r.out)
        # Killed once the receiver has recorded a resume point of 4 MiB or more: what the sender
        # has written says little of what the receiver made durable (the proxy and both sockets
        # hold megabytes, and a loaded machine syncs late).
        def durable() -> int:
            with sqlite3.connect(f"file:{receiver.daemon.state_dir / 's2s.sqlite'}?mode=ro", uri=True) as db:
                return db.execute("SELECT coalesce(max(durable), 0) FROM receive_entry").fetchone()[0]
        wait_for(lambda: durable() >= 4 << 20, timeout=60, what="a resume point of 4 MiB recorded by the receiver")
        receiver.daemon.kill9()
        receiver.daemon.start()
        t = wait_finished(sender, user_a, number)
    finally:
        proxy.close()
    assert t["state"] == "done", t
    assert t["bytesResumed"] >= 4 << 20, t
    assert sha256(inbox / "big.bin") == sha256(src)
