"""Two daemons across an emulated long, lossy link (Tests/Integration/wan/wan-link.sh: network
namespaces, a router that delays and drops): every peer connection asks for BBR whatever the
system default (issue 16), CongestionControl=system keeps the default, a send held back by the
send buffer's maximum says so in the journal, and files arrive whole. A striped send (several
connections for one transfer) arrives identical, resumes after one of its connections is cut,
and is cancelled cleanly from either side.
The link is short here (10 ms round trip, 0.2 % loss) so that the test stays fast; the long
runs are `make bench-wan`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Bus, make_dir, run
from test_transfer import Side, cancel_mid_transfer, random_file, sha256, visible, wait_for

WAN = Path(__file__).parent / "wan" / "wan-link.sh"
# The suite's own namespaces (wan-link.sh's WAN_PREFIX), so that `make bench-wan` (wanA, wanB)
# may run at the same time.
PREFIX = "s2stest"
SENDER_NS, RECEIVER_NS = f"{PREFIX}A", f"{PREFIX}B"
RECEIVER_ADDRESS = "198.18.1.1"


def wan(work: Path, *args) -> int:
    """Runs wan-link.sh; its output goes to a log file (the loss emulator it starts in the
    background would hold a pipe open for ever)."""
    log = work / "wan-link.log"
    with open(log, "ab") as out:
        return subprocess.run(["bash", str(WAN), *args],
                              env={"WAN_WORK": str(work), "WAN_PREFIX": PREFIX, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                              stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=300).returncode


@pytest.fixture(scope="module")
def wan_link(tmp_path_factory):
    work = tmp_path_factory.mktemp("wan")
    if wan(work, "up", "5", "2000", "1gbit") != 0:
        wan(work, "down")
        pytest.fail(f"cannot build the emulated link:\n{(work / 'wan-link.log').read_text()[-3000:]}")
    # As users have it: CUBIC is the namespaces' default, so BBR shows only if s2s asks for it.
    # A namespace's default must be on the (global) allowed list: add it there for the test, and
    # give the list back afterwards.
    allowed = Path("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
    before = allowed.read_text().strip()
    if "cubic" not in before.split():
        allowed.write_text(before + " cubic")
    try:
        for ns in (SENDER_NS, RECEIVER_NS):
            r = run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.tcp_congestion_control=cubic"])
            assert r.rc == 0, r
        yield
    finally:
        allowed.write_text(before)
        wan(work, "down")


def congestion_controls(ns: str, peer: str) -> set[str]:
    """The congestion control of each established TCP connection in NS to or from PEER."""
    r = run(["ip", "netns", "exec", ns, "ss", "-tinH", "state", "established", "dst", peer])
    assert r.rc == 0, r
    return set(re.findall(r"\b(bbr|cubic|reno)\b", r.out))


def test_peer_connections_use_bbr_whatever_the_default(wan_link, scratch, daemon_factory, mkdir, user_a, user_b):
    rbus, sbus = Bus(scratch), Bus(scratch)
    try:
        port = 7730
        receiver = Side(rbus, daemon_factory(target_bus=rbus, wrapper=["ip", "netns", "exec", RECEIVER_NS],
                                             args=["--listen", f"{RECEIVER_ADDRESS}:{port}"]), port)
        sender = Side(sbus, daemon_factory(target_bus=sbus, wrapper=["ip", "netns", "exec", SENDER_NS],
                                           config="[Daemon]\nCongestionControl=system\n"), None)
        inbox = mkdir("in", owner=user_b)
        r = receiver.ctl("endpoint", "new", str(inbox), user=user_b)
        assert r.rc == 0, r
        dest = f"{r.out.strip()}@{RECEIVER_ADDRESS}:{port}"
        src = random_file(mkdir("out", owner=user_a) / "f.bin", 6 << 20, owner=user_a)
        send = sender.popen("send", "--rate", "2M", str(src), dest, user=user_a)
        seen_sender, seen_receiver = set(), set()
        deadline = time.monotonic() + 60
        while (not seen_sender or not seen_receiver) and send.poll() is None and time.monotonic() < deadline:
            seen_sender |= congestion_controls(SENDER_NS, RECEIVER_ADDRESS)
            seen_receiver |= congestion_controls(RECEIVER_NS, "198.18.0.1")
            time.sleep(0.1)
        out, err = send.communicate(timeout=120)
        assert send.returncode == 0, err
        # The receiver asked for BBR on the connection it accepted; the sender, told
        # CongestionControl=system, kept the namespace's default.
        assert seen_receiver == {"bbr"}, seen_receiver
        assert seen_sender == {"cubic"}, seen_sender
        assert sha256(inbox / "f.bin") == sha256(src)
        # The automatic count stripes from a 10 ms round trip (the 128 MiB send below opens 4),
        # but not 6 MiB: no more than one connection per 8 MiB to send.
        assert "striping the transfer" not in sender.daemon.log(), sender.daemon.log()[-3000:]
        assert "incoming transfer finished connections=1 " in receiver.daemon.log(), receiver.daemon.log()[-3000:]
    finally:
        rbus.close()
        sbus.close()


def test_a_send_held_back_by_the_send_buffer_maximum_says_so(wan_link, scratch, daemon_factory, mkdir, user_a, user_b):
    """With net.ipv4.tcp_wmem's maximum at 32 KiB in the sender's namespace, a send across the
    10 ms link spends most of its time limited by the send buffer (TCP_INFO says so): the sender's
    journal says which setting to raise; the file still arrives whole. A send with the automatic
    stream count, held back the same way, opens more connections than the 4 it starts with."""
    key = "net.ipv4.tcp_wmem"
    r = run(["ip", "netns", "exec", SENDER_NS, "sysctl", "-n", key])
    assert r.rc == 0, r
    before = r.out.split()
    r = run(["ip", "netns", "exec", SENDER_NS, "sysctl", "-qw", f"{key}=4096 16384 32768"])
    assert r.rc == 0, r
    rbus, sbus = Bus(scratch), Bus(scratch)
    try:
        port = 7731
        receiver = Side(rbus, daemon_factory(target_bus=rbus, wrapper=["ip", "netns", "exec", RECEIVER_NS],
                                             args=["--listen", f"{RECEIVER_ADDRESS}:{port}"]), port)
        sender = Side(sbus, daemon_factory(target_bus=sbus, wrapper=["ip", "netns", "exec", SENDER_NS]), None)
        inbox = mkdir("in", owner=user_b)
        r = receiver.ctl("endpoint", "new", str(inbox), user=user_b)
        assert r.rc == 0, r
        src = random_file(mkdir("out", owner=user_a) / "f.bin", 8 << 20, owner=user_a)
        # One connection: the report is of the session's first connection.
        r = sender.ctl("send", "--streams", "1", str(src), f"{r.out.strip()}@{RECEIVER_ADDRESS}:{port}", user=user_a,
                       timeout=120)
        assert r.rc == 0, r
        assert sha256(inbox / "f.bin") == sha256(src)
        lines = [line for line in sender.daemon.log().splitlines() if "send buffer maximum" in line]
        assert len(lines) == 1 and "net.ipv4.tcp_wmem" in lines[0] and "limited_by=tcp_wmem" in lines[0], \
            sender.daemon.log()[-3000:]
        print(f"\nsender: {lines[0]}")
        # The receiver, whose buffers were not limited, says nothing of the kind.
        assert "maximum held" not in receiver.daemon.log()

        big = random_file(mkdir("out2", owner=user_a) / "big.bin", 128 << 20, owner=user_a)
        r = receiver.ctl("endpoint", "new", str(inbox), user=user_b)
        assert r.rc == 0, r
        r = sender.ctl("send", str(big), f"{r.out.strip()}@{RECEIVER_ADDRESS}:{port}", user=user_a, timeout=180)
        assert r.rc == 0, r
        assert sha256(inbox / "big.bin") == sha256(big)
        assert "striping the transfer streams=4" in sender.daemon.log(), sender.daemon.log()[-3000:]
        assert "held back by their buffers: one more" in sender.daemon.log(), sender.daemon.log()[-3000:]
        counts = [int(c) for c in re.findall(r"incoming transfer finished connections=(\d+)", receiver.daemon.log())]
        assert counts[-1] > 4, receiver.daemon.log()[-3000:]
        print(f"connections at the end: {counts[-1]}")
    finally:
        rbus.close()
        sbus.close()
        run(["ip", "netns", "exec", SENDER_NS, "sysctl", "-qw", f"{key}={' '.join(before)}"])


def peer_connections(ns: str, peer: str, port: int | None = None) -> list[str]:
    """The established TCP connections in NS to PEER (to its PORT, if given), one `ss` line each."""
    selector = ["dst", peer] + (["dport", "=", f":{port}"] if port else [])
    r = run(["ip", "netns", "exec", ns, "ss", "-tinH", "state", "established", *selector])
    assert r.rc == 0, r
    return [line for line in r.out.splitlines() if line.strip() and not line.startswith(("\t", " "))]


@pytest.fixture
def wan_pair(wan_link, scratch, daemon_factory):
    """(receiver, sender) across the link; the receiver listens on RECEIVER_ADDRESS."""
    rbus, sbus = Bus(scratch), Bus(scratch)
    port = 7740
    receiver = Side(rbus, daemon_factory(target_bus=rbus, wrapper=["ip", "netns", "exec", RECEIVER_NS],
                                         args=["--listen", f"{RECEIVER_ADDRESS}:{port}"]), port)
    sender = Side(sbus, daemon_factory(target_bus=sbus, wrapper=["ip", "netns", "exec", SENDER_NS]), None)
    try:
        yield receiver, sender
    finally:
        rbus.close()
        sbus.close()


def striped_send(receiver, sender, inbox, source, user_a, user_b, *options):
    r = receiver.ctl("endpoint", "new", str(inbox), user=user_b)
    assert r.rc == 0, r
    dest = f"{r.out.strip()}@{RECEIVER_ADDRESS}:{receiver.port}"
    proc = sender.popen("send", "--json", "--streams", "4", *options, str(source), dest, user=user_a)
    try:
        wait_for(lambda: len(peer_connections(SENDER_NS, RECEIVER_ADDRESS, receiver.port)) >= 4 or proc.poll() is not None,
                 timeout=60, what="four connections")
    except BaseException:
        proc.kill()
        raise
    return proc


def test_a_striped_send_arrives_whole_over_several_connections(wan_pair, mkdir, user_a, user_b):
    """A tree (an empty file, small ones, a large one) sent with --streams 4: four connections
    carry it, each with BBR, and it arrives identical."""
    receiver, sender = wan_pair
    inbox = mkdir("in", owner=user_b)
    top = make_dir(mkdir("out", owner=user_a) / "tree", user_a)
    random_file(top / "empty", 0, owner=user_a)
    for i in range(20):
        random_file(top / f"small-{i:02}", 1000 + i * 4099, owner=user_a)
    random_file(top / "large", 24 << 20, owner=user_a)
    proc = striped_send(receiver, sender, inbox, top, user_a, user_b, "--rate", "8M")
    connections = peer_connections(SENDER_NS, RECEIVER_ADDRESS, receiver.port)
    controls = congestion_controls(SENDER_NS, RECEIVER_ADDRESS)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert len(connections) == 4, connections
    assert controls == {"bbr"}, controls
    for f in sorted(top.iterdir()):
        assert sha256(inbox / "tree" / f.name) == sha256(f), f.name
    finished = [line for line in receiver.daemon.log().splitlines() if "incoming transfer finished" in line]
    assert len(finished) == 1 and "connections=4" in finished[0], receiver.daemon.log()[-3000:]
    assert "striping the transfer" in sender.daemon.log()


def test_a_striped_send_resumes_after_one_connection_is_cut(wan_pair, mkdir, user_a, user_b):
    """One of the four connections is reset mid-transfer: the attempt ends, the queue's retry
    resumes from what the receiver made durable, and the file arrives identical."""
    receiver, sender = wan_pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 40 << 20, owner=user_a)
    proc = striped_send(receiver, sender, inbox, source, user_a, user_b, "--rate", "6M")
    try:
        wait_for(lambda: any(t["bytesDone"] > 12 << 20 for t in receiver.transfers(user_b)), timeout=60,
                 what="12 MiB received")
        victim = peer_connections(SENDER_NS, RECEIVER_ADDRESS, receiver.port)[-1].split()
        local_port = victim[2].rsplit(":", 1)[1]
        r = run(["ip", "netns", "exec", SENDER_NS, "ss", "-K", "dst", RECEIVER_ADDRESS, "sport", "=", f":{local_port}"])
        assert r.rc == 0, r
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    info = json.loads(out)
    assert info["bytesResumed"] > 0, info
    assert sha256(inbox / "f.bin") == sha256(source)


@pytest.mark.parametrize("side", ["sender", "receiver"])
def test_a_striped_send_is_cancelled_cleanly_from_either_side(wan_pair, mkdir, user_a, user_b, side):
    """Cancelled by either user while four connections carry it: cancelled on both sides, the
    partial data gone, and no connection left open."""
    receiver, sender = wan_pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 40 << 20, owner=user_a)
    proc = striped_send(receiver, sender, inbox, source, user_a, user_b, "--rate", "4M")
    cancel_mid_transfer(receiver, sender, user_a, user_b, side, proc, after=4 << 20)
    wait_for(lambda: not (inbox / ".s2s-partial").exists(), what="the partial area to go")
    assert "f.bin" not in visible(inbox)
    wait_for(lambda: not peer_connections(SENDER_NS, RECEIVER_ADDRESS, receiver.port), timeout=30,
             what="every connection closed")
