# The load test of issue 19 ("Also"): everything at once against one receiving s2sd, and a
# legitimate send that still completes within its retry window. `make soak` runs it (it is marked
# slow, so `make test` leaves it out); it prints the timings and both daemons' peak RSS (VmHWM).
#
# The load, all on loopback, for SOAK_SECONDS (default 60) at most:
#   - the flood of finding 4: 300 idle connections from 127.0.0.3, reopened as fast as the
#     receiver closes them (test_flood.Flood);
#   - a slow sender per send slot: a second daemon whose four slots (MaxActiveSends=4, the
#     default) each hold a real send throttled to 50 KB/s (--rate 50K) of a file too large to finish;
#   - 50 concurrent senders: protocol clients (peerclient.py) from 50 other addresses, all starting
#     at the same moment, each sending 64 KiB files one after another until SOAK_SECONDS are over,
#     and retrying a refused or reset handshake and REFUSE(busy) (as a sender must);
#   - the legitimate send: a third daemon's `s2sctl send --retry-for 2min` of a small file, started
#     once all of the above is running.
#
# And the memory that the largest offers the protocol allows make a receiver hold, per offer,
# against the bound docs/security.md gives.

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import S2SCTL, Bus, base_env, free_port
import peerclient as pc
from peerclient import PeerClient
from test_flood import HOST, Flood, Side, new_endpoint, owned_dir, owned_file

RETRY_WINDOW = 120        # the legitimate send's --retry-for, seconds
CONCURRENT = 50
SLOW_SENDS = 4
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))


def status_kib(pid: int, field: str) -> int:
    """A kB line of /proc/PID/status: VmHWM (peak RSS), VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def vm_hwm_kib(pid: int) -> int:
    return status_kib(pid, "VmHWM")


@pytest.fixture
def trio(scratch, daemon_factory):
    """(receiver, slow sender, legitimate sender): three daemons, each on its own bus."""
    buses = []

    def side(conf: str = "", listen: bool = False) -> Side:
        bus = Bus(scratch)
        buses.append(bus)
        port = free_port() if listen else None
        args = ["--listen", f"{HOST}:{port}"] if listen else []
        return Side(bus, daemon_factory(target_bus=bus, args=args, config=f"[Daemon]\n{conf}\n"), port)

    sides = (side(listen=True),
             side(f"MaxActiveSends={SLOW_SENDS}\nMaxActiveSendsPerDestination={SLOW_SENDS}\n"
                  f"MaxActiveSendsPerUser={SLOW_SENDS}"),
             side())
    yield sides
    for bus in buses:
        bus.close()


@pytest.mark.slow
def test_soak_a_legitimate_send_completes_under_flood_slow_senders_and_50_concurrent(trio, scratch, user_a, user_b):
    receiver, slow, legit = trio
    inbox = owned_dir(scratch / "in", user_b)
    outbox = owned_dir(scratch / "out", user_a)
    endpoint = new_endpoint(receiver, inbox, user_b)
    dest = f"{endpoint}@{HOST}:{receiver.port}"
    started = time.monotonic()

    flood = Flood(receiver.port, count=300, duration=SOAK_SECONDS + 120)
    flood.start()
    slow_procs: list[subprocess.Popen] = []
    results: dict[int, tuple[bool, float, str]] = {}
    try:
        deadline = time.monotonic() + 20
        while flood.connects < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flood.connects >= 1000, flood
        print(f"\nsoak: flood running after {time.monotonic() - started:.1f} s ({flood})")

        # A slow sender per slot.
        for i in range(SLOW_SENDS):
            big = owned_file(outbox / f"slow-{i}.bin", os.urandom(1 << 20) * 16, user_a)  # 16 MiB
            slow_procs.append(subprocess.Popen(
                ["setpriv", f"--reuid={user_a.uid}", f"--regid={user_a.gid}", "--clear-groups",
                 str(S2SCTL), "send", "--rate", "50K", str(big), dest],
                env=base_env(DBUS_SYSTEM_BUS_ADDRESS=slow.bus.address), stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE))
        deadline = time.monotonic() + 60
        receiving = 0
        while time.monotonic() < deadline:
            receiving = sum(1 for p in (inbox / ".s2s-partial").rglob("*") if p.is_file()) \
                if (inbox / ".s2s-partial").exists() else 0
            if receiving >= SLOW_SENDS:
                break
            time.sleep(0.2)
        print(f"soak: {receiving} slow sends streaming at 50 KB/s after {time.monotonic() - started:.1f} s")

        # 50 concurrent senders, all released at once.
        gate = threading.Barrier(CONCURRENT)

        load_until = time.monotonic() + SOAK_SECONDS
        rounds = [0] * CONCURRENT

        def concurrent(i: int):
            gate.wait(timeout=30)
            # Round after round until the soak's time is up; the first round's time is reported.
            while True:
                content = os.urandom(64 << 10)
                name = f"c-{i}-{rounds[i]}.bin"
                t0 = time.monotonic()
                try:
                    r = send_from(f"127.0.1.{i + 1}", receiver.port, endpoint, name, content)
                    ok = r.ok and (inbox / name).read_bytes() == content
                    outcome = (ok, time.monotonic() - t0, "" if ok else str(r))
                except BaseException as e:  # noqa: BLE001 -- reported below
                    outcome = (False, time.monotonic() - t0, repr(e))
                if rounds[i] == 0 or not outcome[0]:
                    results[i] = outcome
                rounds[i] += 1
                if not outcome[0] or time.monotonic() > load_until:
                    return

        threads = [threading.Thread(target=concurrent, args=(i,), daemon=True) for i in range(CONCURRENT)]
        for t in threads:
            t.start()

        # The legitimate send, while all of it runs.
        time.sleep(min(10.0, SOAK_SECONDS / 2))
        content = b"the legitimate send under load\n"
        source = owned_file(outbox / "legit.txt", content, user_a)
        t0 = time.monotonic()
        r = legit.ctl("send", "--retry-for", f"{RETRY_WINDOW}s", str(source), dest, user=user_a,
                      timeout=RETRY_WINDOW + 30)
        legit_seconds = time.monotonic() - t0
        for t in threads:
            t.join(timeout=max(1.0, load_until + 100 - time.monotonic()))
        assert flood.is_alive(), f"the flood stopped early: {flood}"
    finally:
        flood.stop()
        for p in slow_procs:
            p.terminate()
        for p in slow_procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()

    peaks = {name: vm_hwm_kib(side.daemon.pid) for name, side in
             (("receiver", receiver), ("slow sender", slow), ("legitimate sender", legit))}
    ok = [v for v in results.values() if v[0]]
    times = sorted(v[1] for v in ok)
    print(f"soak: legitimate send rc={r.rc} in {legit_seconds:.2f} s (retry window {RETRY_WINDOW} s)")
    print(f"soak: {sum(rounds)} sends by the {CONCURRENT} concurrent senders in {SOAK_SECONDS:.0f} s")
    print(f"soak: {len(ok)} of {CONCURRENT} concurrent senders completed; first round's seconds min/median/max "
          + (f"{times[0]:.2f}/{times[len(times) // 2]:.2f}/{times[-1]:.2f}" if times else "-"))
    failures = [f"{i}: {v[2]}" for i, v in sorted(results.items()) if not v[0]][:5]
    if failures:
        print(f"soak: first failures: {failures}")
    print(f"soak: {flood}")
    print("soak: peak RSS (VmHWM): " + ", ".join(f"{n} {kib / 1024:.1f} MiB" for n, kib in peaks.items()))
    print(f"soak: {time.monotonic() - started:.1f} s in all")

    assert r.rc == 0, f"the legitimate send failed under load:\n{r}"
    assert legit_seconds < RETRY_WINDOW
    assert (inbox / "legit.txt").read_bytes() == content
    assert len(ok) == CONCURRENT, f"{CONCURRENT - len(ok)} concurrent senders failed: {failures}"
    for side in (receiver, slow, legit):
        assert side.daemon.alive()


def send_from(source: str, port: int, endpoint: str, name: str, content: bytes, window: float = 90):
    """One file by the protocol client from SOURCE; a refused, reset or unanswered handshake, and
    REFUSE(busy), are retried until WINDOW has passed, as a sender retries within its --retry-for."""
    key = pc.endpoint_key(endpoint)
    deadline = time.monotonic() + window
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((source, 0))
            sock.settimeout(10)
            sock.connect((HOST, port))
            client = PeerClient(sock, timeout=10)
            client.send_preamble(key)
            client.handshake(key)
        except (OSError, pc.PeerClosed):
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        with client:
            result = client.send_files({name: content})
        if result.refuse == pc.BUSY and time.monotonic() < deadline:
            time.sleep(0.5)  # the receiver's slots are full: a passing refusal, retried
            continue
        return result


def vm_rss_kib(pid: int) -> int:
    return status_kib(pid, "VmRSS")


# The documented bound (docs/security.md, "Memory"): what one incoming transfer can make the
# receiver hold at most, whatever its sender offers (65,536 entries, 8 MiB of paths).
MIB_PER_LARGEST_OFFER = 64


@pytest.mark.slow
def test_soak_memory_of_the_largest_offers(scratch, daemon_factory, user_b):
    """The receiver's memory under the largest offers the protocol allows: eight sessions (an
    endpoint's MaxIncomingTransfersPerEndpoint) each offer 65,536 files whose paths take the
    8 MiB an offer may, are accepted and then hold their sessions without sending a byte. The RSS
    that this adds, per session, stays within the bound docs/security.md gives; it is printed."""
    bus = Bus(scratch)
    try:
        port = free_port()
        receiver = Side(bus, daemon_factory(target_bus=bus, args=["--listen", f"{HOST}:{port}"],
                                            config="[Daemon]\nPeerOfferTimeout=10min\nPeerIdleTimeout=10min\n"), port)
        inbox = owned_dir(scratch / "in", user_b)
        endpoint = new_endpoint(receiver, inbox, user_b)
        pid = receiver.daemon.proc.pid
        sessions = 8
        entries = 65_536
        name_bytes = (8 << 20) // entries - 3  # with "dNNN/": nearly the 8 MiB of paths an offer may carry
        before = vm_rss_kib(pid)
        clients = []
        try:
            for s in range(sessions):
                dirs = [pc.Item(f"d{i:03}".encode()) for i in range(256)]
                files = [pc.Item(f"d{i % 256:03}/{s}-{i}-".encode().ljust(name_bytes, b"x"), b"x")
                         for i in range(entries - len(dirs))]
                client = PeerClient.connect(HOST, port, endpoint, timeout=120)
                clients.append(client)
                client.offer(dirs + files, os.urandom(16), pc.DIGEST_XXH3)
                result = pc.SessionResult()
                assert client.read_answer(result, timeout=120), f"offer {s} was not accepted: {result}"
            time.sleep(2)
            held = vm_rss_kib(pid)
        finally:
            for client in clients:
                client.close()
        per_session = (held - before) / 1024 / sessions
        print(f"\nsoak: receiver RSS {before / 1024:.1f} MiB before, {held / 1024:.1f} MiB holding {sessions} "
              f"accepted offers of {entries} entries and 8 MiB of paths each: {per_session:.1f} MiB per offer "
              f"(bound {MIB_PER_LARGEST_OFFER} MiB); peak {vm_hwm_kib(pid) / 1024:.1f} MiB")
        assert per_session <= MIB_PER_LARGEST_OFFER
    finally:
        bus.close()
