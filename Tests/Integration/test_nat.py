"""s2sd looks at its host's NAT (`s2sctl nat`, the DiscoverNAT method) from behind real NATs:
Tests/Integration/nat/nat-rig.sh builds two hosts, each behind its own Linux NAT box, an
"internet" and coturn as a STUN server on two addresses, all in network namespaces. Host A is
behind a cone NAT (MASQUERADE keeps the source port), host B behind a symmetric one
(--random-fully: a new port per destination). The daemon must name each, over UDP and over TCP,
with two configured servers and with one server and its RFC 5780 OTHER-ADDRESS; it must share one
look among many callers, and give up on silent servers within seconds."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import Bus, run
from test_transfer import Side, wait_for

RIG = Path(__file__).parent / "nat" / "nat-rig.sh"
HOST_A, HOST_B = "nrA_h", "nrB_h"
PUBLIC_A, PUBLIC_B = "198.19.0.11", "198.19.0.12"
STUN = ("198.19.0.3", "198.19.0.4")
BUSCTL = ["busctl", "--no-pager"]


class RigRelay:
    """An unmodified `twistd transitrelay` on the rig's "internet" (the STUN server's host,
    198.19.0.3:4001), recording each pairing's bytes in its usage database."""

    address = "198.19.0.3:4001"

    def __init__(self, work: Path):
        self.usage = work / f"usage-{time.monotonic_ns()}.sqlite"
        self.log = work / "relay.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", "nr_stun", shutil.which("twistd") or "twistd", "-n", "--pidfile=", "transitrelay",
                 "--port=tcp:4001:interface=198.19.0.3", f"--usage-db={self.usage}"],
                cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "Starting factory" not in self.log.read_text(errors="replace"):
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.1)

    def pairings(self) -> list[tuple[int, str]]:
        """(bytes relayed both ways, result) of each pairing that ended."""
        with sqlite3.connect(self.usage) as db:
            return list(db.execute("SELECT total_bytes, result FROM usage ORDER BY started"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def rig(work: Path, *args) -> int:
    with open(work / "nat-rig.log", "ab") as out:
        return subprocess.run(["bash", str(RIG), *args], env={"NAT_WORK": str(work), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                              stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=300).returncode


def built_rig(work: Path, kind_a: str, kind_b: str):
    """The rig with these NAT kinds for a module's tests (a generator for a fixture): its work
    directory, and the rig gone afterwards."""
    if rig(work, "up", kind_a, kind_b) != 0:
        rig(work, "down")
        pytest.fail(f"cannot build the NAT rig:\n{(work / 'nat-rig.log').read_text()[-3000:]}")
    try:
        yield work
    finally:
        rig(work, "down")


@pytest.fixture(scope="module")
def nat_rig(tmp_path_factory):
    yield from built_rig(tmp_path_factory.mktemp("nat"), "cone", "symmetric")


@pytest.fixture
def host(nat_rig, scratch, daemon_factory):
    """host(NAMESPACE, servers) -> a Side: a daemon on its own bus in that host's namespace,
    with those StunServer= lines."""
    buses = []

    def make(ns: str, servers: list[str], extra: str = "") -> Side:
        bus = Bus(scratch)
        buses.append(bus)
        config = "[Daemon]\n" + "".join(f"StunServer={s}\n" for s in servers) + extra
        return Side(bus, daemon_factory(target_bus=bus, wrapper=["ip", "netns", "exec", ns], config=config), None)

    yield make
    for bus in buses:
        bus.close()


def nat(side: Side) -> dict:
    r = side.ctl("nat", "--json", timeout=30)
    assert r.rc == 0, r
    return r.json()


def test_a_cone_nat_is_named_with_two_servers_over_udp_and_tcp(host):
    side = host(HOST_A, [f"{STUN[0]}:3478", f"{STUN[1]}:3478"])
    report = nat(side)
    assert report["nat"] == "cone", report
    for transport in ("udp", "tcp"):
        t = report[transport]
        assert t["mapping"] == "endpoint-independent", report
        assert [o["server"] for o in t["observations"]] == [f"{STUN[0]}:3478", f"{STUN[1]}:3478"], report
        # MASQUERADE kept the source port: the public address is the NAT's, with the local port.
        assert {o["mapped"] for o in t["observations"]} == {f"{PUBLIC_A}:{t['localPort']}"}, report
        assert t["errors"] == [], report
    assert "198.18.10.2" in report["hostAddresses"], report
    assert not any(a.startswith("127.") or a.startswith("fe80") for a in report["hostAddresses"]), report
    r = side.ctl("nat")
    assert r.rc == 0 and r.out.startswith("NAT: cone;") and f"UDP: {PUBLIC_A}:" in r.out, r


def test_a_symmetric_nat_is_named_from_one_server_and_its_other_address(host):
    """One server configured: its RFC 5780 OTHER-ADDRESS (coturn's second address and port) is
    the second destination, from the same local port. Read with busctl, a client we did not write."""
    side = host(HOST_B, [STUN[0]])
    r = run([*BUSCTL, f"--address={side.bus.address}", "--json=short", "call", "org.s2s.Daemon1", "/org/s2s/Daemon1",
             "org.s2s.Daemon1.Manager", "DiscoverNAT"], timeout=30)
    assert r.rc == 0, r
    reply = json.loads(r.out)
    assert reply["type"] == "a{sv}", reply
    values = {key: value["data"] for key, value in reply["data"][0].items()}
    assert values["NAT"] == "symmetric", values
    for transport in ("UDP", "TCP"):
        assert values[f"{transport}Mapping"] == "endpoint-dependent", values
        seen = values[f"{transport}Mapped"]
        assert [server for server, _ in seen] == [f"{STUN[0]}:3478", f"{STUN[1]}:3479"], values
        # --random-fully: a new public port toward each destination.
        assert all(mapped.startswith(PUBLIC_B + ":") for _, mapped in seen) and len({m for _, m in seen}) == 2, values
    assert values["StunServers"] == [f"{STUN[0]}:3478"], values
    r = side.ctl("nat")
    assert r.rc == 0 and "NAT: symmetric;" in r.out and "use a relay" in r.out, r


def test_one_look_serves_every_caller(host):
    """Callers at once and just after share one look: the same timestamp and local ports, so
    asking often makes the daemon send nothing more to the servers."""
    side = host(HOST_A, [f"{STUN[0]}:3478", f"{STUN[1]}:3478"])
    with ThreadPoolExecutor(6) as pool:
        reports = list(pool.map(lambda _: nat(side), range(6)))
    reports.append(nat(side))
    assert len({(r["measured"], r["udp"]["localPort"], r["tcp"]["localPort"]) for r in reports}) == 1, reports


def test_silent_and_unresolvable_servers_give_an_answer_within_seconds(host):
    """A server address that drops everything and a name that does not resolve: the look ends
    within 10 s, says why for each, and the daemon serves on."""
    side = host(HOST_A, ["198.19.0.99", "stun.invalid:3478"])
    start = time.monotonic()
    report = nat(side)
    assert time.monotonic() - start < 10, report
    assert report["nat"] == "blocked", report
    assert any("stun.invalid" in e for e in report["errors"]), report
    for transport in ("udp", "tcp"):
        assert report[transport]["observations"] == [], report
        assert any("198.19.0.99:3478: no reply" in e for e in report[transport]["errors"]), report
    assert side.ctl("status").rc == 0


def test_behind_a_symmetric_nat_a_punch_fails_at_once_and_says_why(host, mkdir):
    """No hole can be punched through a NAT that gives each destination a new port: both
    commands say so within seconds, before any ticket is printed."""
    side = host(HOST_B, [f"{STUN[0]}:3478", f"{STUN[1]}:3478"])
    endpoint_id = side.ctl("endpoint", "new", str(mkdir("in"))).out.split()[0]
    for args in (["endpoint", "punch", endpoint_id, "--ticket", "unused"],
                 ["send", str(RIG), endpoint_id, "--punch", "--ticket", "unused"]):
        start = time.monotonic()
        r = side.ctl(*args, timeout=30)
        assert time.monotonic() - start < 10, r
        assert r.rc != 0 and r.out == "", r
        assert "symmetric NAT" in r.err and "use a relay" in r.err, r


def test_behind_a_symmetric_nat_a_relayed_transfer_stays_on_the_relay(nat_rig, host, mkdir):
    """Both sides allow a direct path, but the sender is behind a symmetric NAT: it declines
    (an empty CANDIDATES), and the relay carries the whole transfer."""
    relay = RigRelay(nat_rig)
    try:
        servers = [f"{STUN[0]}:3478", f"{STUN[1]}:3478"]
        receiver = host(HOST_A, servers, extra=f"Relay={relay.address}\n")
        sender = host(HOST_B, servers, extra=f"Relay={relay.address}\nAllowDirect=yes\n")
        inbox = mkdir("in")
        endpoint_id = receiver.ctl("endpoint", "new", "--allow-direct", str(inbox)).out.split()[0]
        source = mkdir("out") / "f.bin"
        source.write_bytes(os.urandom(2 << 20))
        wait_for(lambda: receiver.ctl("endpoint", "show", "--json", endpoint_id).json()["relayConnected"], timeout=10,
                 what="the endpoint's waiting connection at the relay")
        r = sender.ctl("send", str(source), endpoint_id, timeout=60)
        assert r.rc == 0, (r, sender.daemon.log()[-2000:])
        assert (inbox / "f.bin").read_bytes() == source.read_bytes()
        assert "moved to a direct path" not in sender.daemon.log()
        wait_for(lambda: any(total > 2 << 20 for total, _ in relay.pairings()), timeout=10, what="the relay's usage record")
    finally:
        relay.stop()
