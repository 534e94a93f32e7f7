"""Punched routes by hand (issue 17): two daemons, each behind its own cone NAT
(Tests/Integration/nat/nat-rig.sh: Linux NAT boxes, coturn on the "internet"), exchange punch
tickets through s2sctl (`endpoint punch ID` on the receiving side, `send --punch` on the sending
side) and connect at the wall clock's shared slots, by TCP simultaneous open or SRT over UDP,
whichever gets through (each is forced once by a firewall that drops the other). Transfers
arrive identical, also with the two clocks 2 s apart (libfaketime); bad, stale, foreign and
wrong-side tickets and handles are refused with a clear error and cost nothing."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Bus, as_user_argv, base_env, run
from s2sit import bech32_encode
from test_nat import HOST_A, HOST_B, STUN, RigRelay, built_rig
from test_transfer import Side, random_file, sha256, wait_for
from conftest import S2SCTL

PUBLIC_A, PUBLIC_B = "198.19.0.11", "198.19.0.12"
BUSCTL = ["busctl", "--no-pager"]
MANAGER = ("org.s2s.Daemon1", "/org/s2s/Daemon1", "org.s2s.Daemon1.Manager")


@pytest.fixture(scope="module")
def cone_rig(tmp_path_factory):
    yield from built_rig(tmp_path_factory.mktemp("punch"), "cone", "cone")


@pytest.fixture
def pair(cone_rig, scratch, daemon_factory):
    """pair(sender_clock_offset=None) -> (receiver, sender): a daemon in each NATed host."""
    buses = []

    def make(sender_clock_offset: str | None = None, relay: RigRelay | None = None):
        config = "[Daemon]\n" + "".join(f"StunServer={s}:3478\n" for s in STUN)
        if relay:
            config += f"Relay={relay.address}\n"
        sides = []
        for ns, offset in ((HOST_A, None), (HOST_B, sender_clock_offset)):
            bus = Bus(scratch)
            buses.append(bus)
            wrapper = ["ip", "netns", "exec", ns]
            if offset:
                # The monotonic clock stays true: only the wall clock, which slots follow, is off.
                wrapper += ["env", "FAKETIME_DONT_FAKE_MONOTONIC=1", "faketime", "-f", offset]
            sides.append(Side(bus, daemon_factory(target_bus=bus, wrapper=wrapper, config=config), None))
        return tuple(sides)

    yield make
    for bus in buses:
        bus.close()


@contextlib.contextmanager
def sender_nat_drops(*rules: list[str]):
    """While inside: the sender's NAT box drops what each FORWARD rule matches (a firewall)."""
    for rule in rules:
        assert run(["ip", "netns", "exec", "nrB_nat", "iptables", "-I", "FORWARD", *rule, "-j", "DROP"]).rc == 0
    try:
        yield
    finally:
        for rule in rules:
            run(["ip", "netns", "exec", "nrB_nat", "iptables", "-D", "FORWARD", *rule, "-j", "DROP"])


def popen(side: Side, *args, user=None) -> subprocess.Popen:
    return subprocess.Popen(as_user_argv(user, [S2SCTL, *args]), env=side.env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def punched_send(receiver: Side, sender: Side, endpoint_id: str, source: Path, *, receiver_user, sender_user,
                 send_args=()) -> tuple:
    """The exchange as two people do it: the receiver's ticket goes to the sender (--ticket),
    the sender's comes back to the receiver's prompt. Returns both processes' results."""
    punch = popen(receiver, "endpoint", "punch", endpoint_id, user=receiver_user)
    receiver_ticket = punch.stdout.readline().strip()
    assert receiver_ticket.startswith("s2sp1"), (receiver_ticket, punch.stderr.read() if punch.poll() is not None else "")
    send = popen(sender, "send", *send_args, str(source), endpoint_id, "--punch", "--ticket", receiver_ticket, "--json",
                 user=sender_user)
    sender_ticket = send.stdout.readline().strip()
    assert sender_ticket.startswith("s2sp1"), (sender_ticket, send.stderr.read() if send.poll() is not None else "")
    punch.stdin.write(sender_ticket + "\n")
    punch.stdin.flush()
    punch_out, punch_err = punch.communicate(timeout=120)
    send_out, send_err = send.communicate(timeout=120)
    return (punch.returncode, punch_err), (send.returncode, send_out, send_err)


def test_twenty_punched_transfers_arrive_identical(pair, mkdir, user_a, user_b):
    receiver, sender = pair()
    inbox = mkdir("in", owner=user_b)
    r = receiver.ctl("endpoint", "new", str(inbox), user=user_b)
    assert r.rc == 0, r
    endpoint_id = r.out.split()[0]
    out = mkdir("out", owner=user_a)
    for n in range(20):
        src = random_file(out / f"f{n}.bin", 64 << 10 if n else 8 << 20, owner=user_a)
        (prc, perr), (src_rc, sout, serr) = punched_send(receiver, sender, endpoint_id, src, receiver_user=user_b, sender_user=user_a)
        assert prc == 0, perr
        # The receiver reached the sender's NAT, at the port the sender's ticket named.
        assert f"connected to the sender at {PUBLIC_B}:" in perr, perr
        assert src_rc == 0, serr
        assert json.loads(sout[sout.index("{"):])["route"] == "punched", sout
        assert sha256(inbox / src.name) == sha256(src), n
    incoming = receiver.ctl("transfers", "--json", user=user_b).json()
    assert len(incoming) == 20 and {t["route"] for t in incoming} == {"punched"}, incoming


def test_a_striped_punched_transfer_punches_a_hole_for_each_connection(pair, mkdir, user_a, user_b):
    """send --punch --streams 4: the three further connections punch holes of their own from the
    next ports on both sides (the cone NATs keep ports), join the session, and the file arrives
    identical over four connections. (At 8 MiB/s, so that the session lasts the second or two
    the further holes take: a first SYN that reaches the other NAT before that side's own is
    dropped, and the kernel sends it again after a second.)"""
    receiver, sender = pair()
    inbox = mkdir("in", owner=user_b)
    endpoint_id = receiver.ctl("endpoint", "new", str(inbox), user=user_b).out.split()[0]
    src = random_file(mkdir("out", owner=user_a) / "striped.bin", 32 << 20, owner=user_a)
    (prc, perr), (src_rc, _, serr) = punched_send(receiver, sender, endpoint_id, src, receiver_user=user_b, sender_user=user_a,
                                                  send_args=("--streams", "4", "--rate", "8M"))
    assert prc == 0 and src_rc == 0, (perr, serr)
    assert sha256(inbox / "striped.bin") == sha256(src)
    finished = [line for line in receiver.daemon.log().splitlines() if "incoming transfer finished" in line]
    assert len(finished) == 1 and "connections=4" in finished[0], receiver.daemon.log()[-3000:]


@pytest.mark.parametrize("blocked, carrier", [("tcp", "udp (SRT)"), ("udp", "tcp")])
def test_when_one_transport_will_not_punch_the_other_carries_the_transfer(pair, mkdir, user_a, user_b, blocked, carrier):
    """The sender's NAT box drops one transport toward the receiver's NAT (a firewall, as some
    networks have for TCP or UDP): the two daemons race both, and the one that gets through
    carries the transfer, the same records as ever: over SRT in rendezvous mode from the UDP port
    STUN mapped when TCP is dropped, by TCP simultaneous open when UDP is."""
    with sender_nat_drops(["-p", blocked, "-d", PUBLIC_A]):
        receiver, sender = pair()
        inbox = mkdir("in", owner=user_b)
        endpoint_id = receiver.ctl("endpoint", "new", str(inbox), user=user_b).out.split()[0]
        src = random_file(mkdir("out", owner=user_a) / "raced.bin", 24 << 20, owner=user_a)
        (prc, perr), (src_rc, sout, serr) = punched_send(receiver, sender, endpoint_id, src, receiver_user=user_b,
                                                          sender_user=user_a)
        assert prc == 0 and src_rc == 0, (perr, serr, sender.daemon.log()[-3000:], receiver.daemon.log()[-3000:])
        assert f"connected to the sender at {PUBLIC_B}:" in perr, perr
        assert json.loads(sout[sout.index("{"):])["route"] == "punched", sout
        assert sha256(inbox / "raced.bin") == sha256(src)
        for side in (sender, receiver):
            punched = [line for line in side.daemon.log().splitlines() if " punched " in f" {line} " and "transport=" in line]
            assert len(punched) == 1 and f"transport={carrier}" in punched[0], side.daemon.log()[-3000:]
        finished = [line for line in receiver.daemon.log().splitlines() if "incoming transfer finished" in line]
        assert len(finished) == 1 and "connections=1" in finished[0], finished


def test_an_srt_connection_that_breaks_ends_the_transfer_on_both_sides(pair, mkdir, user_a, user_b):
    """Over SRT (TCP dropped), the path then drops UDP too, mid-transfer: SRT notices the silent
    peer, each side's bridge ends its connection, and the transfer fails on both sides with a
    reason instead of hanging (a punched send makes one attempt)."""
    with sender_nat_drops(["-p", "tcp", "-d", PUBLIC_A]):
        receiver, sender = pair()
        inbox = mkdir("in", owner=user_b)
        endpoint_id = receiver.ctl("endpoint", "new", str(inbox), user=user_b).out.split()[0]
        src = random_file(mkdir("out", owner=user_a) / "cut.bin", 64 << 20, owner=user_a)
        punch = popen(receiver, "endpoint", "punch", endpoint_id, user=user_b)
        receiver_ticket = punch.stdout.readline().strip()
        send = popen(sender, "send", str(src), endpoint_id, "--punch", "--ticket", receiver_ticket, "--rate", "4M",
                     user=user_a)
        punch.stdin.write(send.stdout.readline().strip() + "\n")
        punch.stdin.flush()
        assert punch.wait(timeout=90) == 0, punch.stderr.read()

        def receiving():
            incoming = receiver.ctl("transfers", "--json", user=user_b).json()
            return incoming and incoming[0]["bytesDone"] > 1 << 20
        wait_for(receiving, timeout=30, what="bytes over SRT")
        with sender_nat_drops(["-p", "udp"]):
            start = time.monotonic()
            _, send_err = send.communicate(timeout=60)
            assert send.returncode != 0, send_err
            assert time.monotonic() - start < 30, send_err
            wait_for(lambda: receiver.ctl("transfers", "--json", user=user_b).json()[0]["state"] not in ("running", "queued"),
                     timeout=30, what="the receiver's transfer to end")
        incoming = receiver.ctl("transfers", "--json", user=user_b).json()[0]
        assert incoming["state"] != "done" and incoming["error"], incoming


def test_clocks_two_seconds_apart_still_meet(pair, mkdir, user_a, user_b):
    receiver, sender = pair(sender_clock_offset="+2s")
    # The sender's daemon does live 2 s ahead: its NAT report is stamped by its wall clock.
    measured = sender.ctl("nat", "--json").json()["measured"]
    skew = time.mktime(time.strptime(measured, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime())
    assert 1 <= skew <= 4, measured
    inbox = mkdir("in", owner=user_b)
    endpoint_id = receiver.ctl("endpoint", "new", str(inbox), user=user_b).out.split()[0]
    src = random_file(mkdir("out", owner=user_a) / "skewed.bin", 2 << 20, owner=user_a)
    (prc, perr), (src_rc, _, serr) = punched_send(receiver, sender, endpoint_id, src, receiver_user=user_b, sender_user=user_a)
    assert prc == 0 and src_rc == 0, (perr, serr)
    assert sha256(inbox / "skewed.bin") == sha256(src)


def busctl(side: Side, method: str, signature: str = "", *args, user=None):
    return run([*BUSCTL, f"--address={side.bus.address}", "--json=short", "call", *MANAGER, method,
                *([signature, *map(str, args)] if signature else [])], user=user, timeout=90)


def error_of(result) -> str:
    assert result.rc != 0, result
    return result.err


def ticket(role: int, expires: int, candidates: list[tuple[str, int]]) -> str:
    payload = bytes([1, role]) + expires.to_bytes(4, "big")
    for ip, port in candidates:
        payload += bytes([4]) + bytes(int(p) for p in ip.split(".")) + port.to_bytes(2, "big")
    return bech32_encode("s2sp", payload)


def test_bad_tickets_and_handles_are_refused_and_cost_nothing(pair, mkdir, user_a, user_b):
    receiver, sender = pair()
    inbox = mkdir("in", owner=user_b)
    endpoint_id = receiver.ctl("endpoint", "new", str(inbox), user=user_b).out.split()[0]
    r = busctl(receiver, "PreparePunch", "s", endpoint_id, user=user_b)
    assert r.rc == 0, r
    handle, own_ticket, _ = json.loads(r.out)["data"]
    now = int(time.time())
    cases = {
        "garbage": ("s2sp1qqqqqqq", "not a punch ticket"),
        "typo": (own_ticket[:-1] + ("q" if own_ticket[-1] != "q" else "p"), "not a punch ticket"),
        "its own side's": (own_ticket, "this is a receiver's ticket"),
        "stale": (ticket(1, now - 60, [(PUBLIC_B, 40000)]), "expired"),
        "no address": (ticket(1, now + 600, []), "no address"),
        "huge": ("s2sp1" + "q" * 4000, "at most 256 bytes"),
    }
    for name, (bad, reason) in cases.items():
        err = error_of(busctl(receiver, "Punch", "ss", handle, bad, user=user_b))
        assert reason in err, (name, err)
    # The handle survived every refused ticket; another user cannot use it, nor learn it exists.
    err = error_of(busctl(receiver, "Punch", "ss", handle, ticket(1, now + 600, [(PUBLIC_B, 40000)]), user=user_a))
    assert "no prepared punch" in err, err
    # Another user's endpoint is not found, as everywhere.
    assert "no endpoint" in error_of(busctl(receiver, "PreparePunch", "s", endpoint_id, user=user_a))
    # Four preparations wait per user, at most.
    for _ in range(3):
        assert busctl(receiver, "PreparePunch", "s", endpoint_id, user=user_b).rc == 0
    assert "at most 4" in error_of(busctl(receiver, "PreparePunch", "s", endpoint_id, user=user_b))
    # A punched send needs both options, and the receiver's ticket: refused before anything is queued.
    src = random_file(mkdir("out", owner=user_a) / "x.bin", 1024, owner=user_a)
    r = busctl(sender, "PreparePunch", "s", "", user=user_a)
    sender_handle, sender_ticket, _ = json.loads(r.out)["data"]
    for options, reason in (
        (["1", "PunchHandle", "s", sender_handle], "needs both"),
        (["2", "PunchHandle", "s", sender_handle, "PunchTicket", "s", sender_ticket], "this is a sender's ticket"),
    ):
        r = run([*BUSCTL, f"--address={sender.bus.address}", "call", *MANAGER, "Send", "assa{sv}", "1", str(src),
                 endpoint_id, *options], user=user_a)
        assert r.rc != 0 and reason in r.err, r
    assert sender.ctl("transfers", "--json", user=user_a).json() == []


@pytest.fixture
def rig_relay(cone_rig):
    relay = RigRelay(cone_rig)
    yield relay
    relay.stop()


def relayed_send(receiver: Side, sender: Side, inbox: Path, source: Path, *, allow: bool, ask: bool, user_a, user_b):
    args = ["endpoint", "new", str(inbox)] + (["--allow-direct"] if allow else [])
    endpoint_id = receiver.ctl(*args, user=user_b).out.split()[0]
    wait_for(lambda: receiver.ctl("endpoint", "show", "--json", endpoint_id, user=user_b).json()["relayConnected"],
             timeout=10, what="the endpoint's waiting connection at the relay")
    r = sender.ctl("send", *(["--allow-direct"] if ask else []), "--json", str(source), endpoint_id, user=user_a, timeout=120)
    assert r.rc == 0, (r, sender.daemon.log()[-3000:], receiver.daemon.log()[-3000:])
    assert sha256(inbox / source.name) == sha256(source)


def test_a_relayed_transfer_moves_to_a_direct_path_when_both_sides_allow_it(pair, rig_relay, mkdir, user_a, user_b):
    """Both NATs are cones: before the offer, the two daemons trade CANDIDATES through the relay,
    punch, close the relayed connection without CANCEL and run the transfer on the direct one.
    The relay carried the handshake and the candidates only."""
    receiver, sender = pair(relay=rig_relay)
    source = random_file(mkdir("out", owner=user_a) / "moved.bin", 16 << 20, owner=user_a)
    inbox = mkdir("in", owner=user_b)
    relayed_send(receiver, sender, inbox, source, allow=True, ask=True, user_a=user_a, user_b=user_b)
    assert "moved to a direct path" in sender.daemon.log()
    incoming = receiver.ctl("transfers", "--json", user=user_b).json()
    assert [t["route"] for t in incoming] == ["punched"], incoming
    wait_for(lambda: rig_relay.pairings(), timeout=10, what="the relay's usage record")
    assert all(total < 4096 for total, _ in rig_relay.pairings()), rig_relay.pairings()


@pytest.mark.parametrize("allow, ask", [(True, False), (False, True)])
def test_without_both_sides_allowing_it_the_relay_carries_everything(pair, rig_relay, mkdir, user_a, user_b, allow, ask):
    receiver, sender = pair(relay=rig_relay)
    source = random_file(mkdir("out", owner=user_a) / "stays.bin", 4 << 20, owner=user_a)
    inbox = mkdir("in", owner=user_b)
    relayed_send(receiver, sender, inbox, source, allow=allow, ask=ask, user_a=user_a, user_b=user_b)
    assert "direct path" not in sender.daemon.log() and "direct path" not in receiver.daemon.log()
    wait_for(lambda: any(total > 4 << 20 for total, _ in rig_relay.pairings()), timeout=10, what="the relay's usage record")


def test_when_no_hole_opens_the_transfer_stays_on_the_relay(pair, rig_relay, mkdir, user_a, user_b):
    """Both sides allow a direct path, but the sender's NAT box drops everything toward the
    receiver's NAT (a firewall): the punch gives up after its 10 s, the sender sends its offer on
    the relayed connection, and the relay carries the file."""
    with sender_nat_drops(["-d", PUBLIC_A]):
        receiver, sender = pair(relay=rig_relay)
        source = random_file(mkdir("out", owner=user_a) / "walled.bin", 4 << 20, owner=user_a)
        inbox = mkdir("in", owner=user_b)
        start = time.monotonic()
        relayed_send(receiver, sender, inbox, source, allow=True, ask=True, user_a=user_a, user_b=user_b)
        assert time.monotonic() - start < 40
        assert "moved to a direct path" not in sender.daemon.log()
        assert "no direct path; the transfer stays on the relay" in sender.daemon.log()
        incoming = receiver.ctl("transfers", "--json", user=user_b).json()
        assert [t["route"] for t in incoming] == ["relay"], incoming
        wait_for(lambda: any(total > 4 << 20 for total, _ in rig_relay.pairings()), timeout=10, what="the relay's usage record")
