#!/usr/bin/env python3
"""make bench-nat: the punched route against the direct route through the same two NATs and the
same long, lossy path (issue 17: "throughput on the punched TCP path equals the direct route's").

The rig is Tests/Integration/nat/nat-rig.sh (two hosts, each behind a cone NAT: MASQUERADE), with
delay and loss in both NAT boxes (nfq_delay.c of the WAN link, this kernel having no netem). The
direct route needs a way in, so the receiver's NAT forwards port 7730 to it (as a user with a
router would do); the punched route needs none: the two daemons trade tickets and meet by TCP
simultaneous open. Both run with one connection, and with the automatic stream count (a punched
route's further connections punch holes of their own, from the next ports on both sides). A
last route is the punched one over SRT (UDP): the sender's NAT box drops TCP toward the
receiver's NAT for it, as a firewall that lets only UDP through would.

The rate is the receiver's: bytes received per second from its first to its last sample of the
transfer (s2sctl transfers --json every 0.2 s), so the punch's wait for its clock slot and the
tickets' exchange do not count. Run as root; prints a table, and JSON with --json.

Example: python3 bench/nat_bench.py --size 512M --rtt 50 --loss 0.5 --runs 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as common  # noqa: E402  (the sibling module, found through the path set just above)
from bench import BenchError, parse_size  # noqa: E402
from wan_bench import NamespacedDaemon, in_ns  # noqa: E402

RIG = os.path.join(common.REPO, "Tests", "Integration", "nat", "nat-rig.sh")
RECEIVER_NS, SENDER_NS = "nrA_h", "nrB_h"
RECEIVER_HOST, SENDER_HOST = "198.18.10.2", "198.18.20.2"
RECEIVER_PUBLIC = "198.19.0.11"
STUN = "[Daemon]\nStunServer=198.19.0.3:3478\nStunServer=198.19.0.4:3478\n"
PORT = 7730
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def run(command, timeout=60):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(command)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def rig(workdir, *args):
    subprocess.run(["bash", RIG, *args], env={"NAT_WORK": workdir, "PATH": PATH}, check=True, timeout=300,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def shape(rtt_ms, loss, workdir):
    """Delay and loss in both NAT boxes (this kernel has no sch_netem: nfq_delay.c, as in
    Tests/Integration/wan/wan-link.sh). Each way between the hosts crosses both boxes, so each
    holds a packet a quarter of the round trip and drops half the loss rate; the queue sits in
    mangle POSTROUTING, after the boxes' filtering, so the NATs behave as without it. A tbf on
    each box's internet side sets the rate at a gigabit. Returns the nfq_delay processes."""
    program = os.path.join(workdir, "nfq_delay")
    run(["gcc", "-O2", "-o", program, os.path.join(common.REPO, "Tests", "Integration", "wan", "nfq_delay.c"),
         "-lnetfilter_queue"])
    processes = []
    for box in ("nrA_nat", "nrB_nat"):
        run(in_ns(box, "iptables", "-t", "mangle", "-A", "POSTROUTING", "-j", "NFQUEUE", "--queue-num", "0"))
        processes.append(subprocess.Popen(in_ns(box, program, "0", str(int(rtt_ms * 1000 / 4)), str(int(loss * 10000 / 2))),
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        run(in_ns(box, "tc", "qdisc", "replace", "dev", "wan", "root", "tbf", "rate", "1gbit", "burst", "256kb", "limit", "1500kb"))
    time.sleep(0.3)
    return processes


def forward_port():
    """The receiver's NAT forwards TCP 7730 to the receiver: the direct route's way in."""
    run(in_ns("nrA_nat", "iptables", "-t", "nat", "-A", "PREROUTING", "-i", "wan", "-p", "tcp", "--dport", str(PORT),
              "-j", "DNAT", "--to-destination", f"{RECEIVER_HOST}:{PORT}"))
    run(in_ns("nrA_nat", "iptables", "-I", "FORWARD", "-i", "wan", "-o", "lan", "-p", "tcp", "-d", RECEIVER_HOST,
              "--dport", str(PORT), "-j", "ACCEPT"))


class ReceiverRate:
    """Samples the receiver's incoming transfer every 0.2 s while a copy runs; the rate is the
    bytes between the first sample that saw data and the end, over that time."""

    def __init__(self, receiver):
        self.receiver = receiver
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            reply = self.receiver.ctl("transfers", "--json", check=False)
            now = time.monotonic()
            with contextlib.suppress(ValueError):
                running = [t for t in json.loads(reply.stdout) if t["direction"] == "receive"]
                if running:
                    latest = max(running, key=lambda t: t["number"])
                    self.samples.append((now, latest["number"], latest["bytesDone"], latest["state"]))
            self.stop.wait(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def rate(self, number_after, size):
        """MB/s of the transfer with a number above number_after, from its first sample with data
        to the first that saw it done."""
        mine = [s for s in self.samples if s[1] > number_after]
        moving = [s for s in mine if s[2] > 0]
        done = [s for s in mine if s[3] == "done"]
        if not moving or not done:
            raise BenchError("the receiver's samples did not see the transfer move and end")
        start, end = moving[0], done[0]
        if end[0] <= start[0]:
            raise BenchError("the transfer ended within one sample: use a larger --size")
        return (size - start[2]) / (end[0] - start[0]) / 1e6


@contextlib.contextmanager
def tcp_dropped(active):
    """While active: the sender's NAT box drops TCP toward the receiver's NAT (a firewall)."""
    rule = ["FORWARD", "-p", "tcp", "-d", RECEIVER_PUBLIC, "-j", "DROP"]
    if active:
        run(["ip", "netns", "exec", "nrB_nat", "iptables", "-I", *rule])
    try:
        yield
    finally:
        if active:
            run(["ip", "netns", "exec", "nrB_nat", "iptables", "-D", *rule])


def connections(receiver):
    """How many connections the receiver's last finished transfer had (its journal line)."""
    with open(receiver.log, errors="replace") as log:
        finished = [line for line in log if "incoming transfer finished" in line]
    field = next((word for word in finished[-1].split() if word.startswith("connections=")), "connections=?") if finished else "connections=?"
    return field.split("=", 1)[1]


def last_incoming(receiver):
    incoming = [t for t in json.loads(receiver.ctl("transfers", "--json").stdout) if t["direction"] == "receive"]
    return max((t["number"] for t in incoming), default=0)


def send_direct(receiver, sender, endpoint_id, source, streams):
    args = ["send", *(["--streams", str(streams)] if streams else []), source, f"{endpoint_id}@{RECEIVER_PUBLIC}:{PORT}"]
    reply = sender.ctl(*args, check=False)
    if reply.returncode != 0:
        raise BenchError(f"the direct send failed: {reply.stderr.strip()}")


def send_punched(receiver, sender, endpoint_id, source, streams=None):
    """The tickets' exchange as two people do it, as Tests/Integration/test_punch.py does."""
    punch = subprocess.Popen([receiver.s2sctl, "--user", "endpoint", "punch", endpoint_id], env=receiver.env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    receiver_ticket = punch.stdout.readline().strip()
    send = subprocess.Popen([sender.s2sctl, "--user", "send", *(["--streams", str(streams)] if streams else []), source,
                             endpoint_id, "--punch", "--ticket", receiver_ticket],
                            env=sender.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender_ticket = send.stdout.readline().strip()
    punch.stdin.write(sender_ticket + "\n")
    punch.stdin.flush()
    _, punch_err = punch.communicate(timeout=600)
    _, send_err = send.communicate(timeout=3600)
    if punch.returncode != 0 or send.returncode != 0:
        raise BenchError(f"the punched send failed: {punch_err.strip()} / {send_err.strip()}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n")[-1])
    parser.add_argument("--bin-dir", default=os.path.join(common.REPO, ".build", "release"))
    parser.add_argument("--size", type=parse_size, default=parse_size("512M"), help="the file (default 512M)")
    parser.add_argument("--rtt", type=float, default=50, help="round trip in ms (default 50)")
    parser.add_argument("--loss", type=float, default=0.5, help="loss in %% each way (default 0.5)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each route, interleaved (default 2)")
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise BenchError("run as root: the rig is made of network namespaces")
    # name: (route, --streams)
    routes = {
        "direct, 1 stream": ("direct", 1), "punched, 1 stream": ("punched", 1),
        "direct, automatic streams": ("direct", None), "punched, automatic streams": ("punched", None),
        "punched over SRT (TCP dropped)": ("srt", None),
    }
    rates = {name: [] for name in routes}
    with tempfile.TemporaryDirectory(prefix="s2s-nat-bench-", dir="/dev/shm") as tmp, contextlib.ExitStack() as stack:
        workdir = os.path.join(tmp, "rig")
        os.makedirs(workdir)
        rig(workdir, "up", "cone", "cone")
        stack.callback(rig, workdir, "down")
        for process in shape(args.rtt, args.loss, workdir):
            stack.callback(common.stop_process, process, "nfq_delay")
        forward_port()
        receiver = NamespacedDaemon("receiver", args.bin_dir, tmp, RECEIVER_NS, RECEIVER_HOST, PORT, config=STUN)
        sender = NamespacedDaemon("sender", args.bin_dir, tmp, SENDER_NS, SENDER_HOST, PORT + 1, config=STUN)
        for daemon in (receiver, sender):
            daemon.start()
            stack.callback(daemon.stop)
        source = os.path.join(tmp, "source.bin")
        common.make_file(source, args.size)
        for run_index in range(args.runs):
            for route_index, (name, (route, streams)) in enumerate(routes.items()):
                inbox = os.path.join(tmp, f"in-{run_index}-{route_index}")
                os.makedirs(inbox)
                endpoint_id = receiver.ctl("endpoint", "new", inbox).stdout.split()[0]
                before = last_incoming(receiver)
                with ReceiverRate(receiver) as sampler, tcp_dropped(route == "srt"):
                    if route == "direct":
                        send_direct(receiver, sender, endpoint_id, source, streams)
                    else:
                        send_punched(receiver, sender, endpoint_id, source, streams=streams)
                    time.sleep(0.5)
                rate = sampler.rate(before, args.size)
                rates[name].append(rate)
                print(f"run {run_index + 1}, {name}: {rate:.1f} MB/s, {connections(receiver)} connection(s)", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print()
    print(f"s2s through two cone NATs, {args.rtt:g} ms round trip, {args.loss:g} % loss each way, "
          f"{args.size / 2**20:.0f} MiB, median of {args.runs}")
    for name, value in medians.items():
        print(f"  {name:32} {value:8.1f} MB/s")
    ratio = medians["punched, 1 stream"] / medians["direct, 1 stream"]
    striped = medians["punched, automatic streams"] / medians["direct, automatic streams"]
    print(f"  punched / direct: {ratio:.2f}x with 1 stream, {striped:.2f}x with the automatic count (target: within 10 %)")
    srt = medians["punched over SRT (TCP dropped)"] / medians["direct, 1 stream"]
    print(f"  punched over SRT / direct with 1 stream: {srt:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rtt_ms": args.rtt, "loss_percent": args.loss, "size": args.size, "rates": rates,
                       "medians": medians, "punched_over_direct": ratio, "punched_over_direct_striped": striped,
                       "srt_over_direct": srt}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    common.run_main(main, sys.argv[1:])
