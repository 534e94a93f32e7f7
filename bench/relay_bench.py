#!/usr/bin/env python3
"""Benchmark s2s's relay route against magic-wormhole through the same transit relay, in one run.

What it measures
    One file of random data (--size, default 2G) copied from a tmpfs to a tmpfs with four tools:
      s2s-relay   s2sctl send FILE ID: the plain ID, so the two s2sd daemons meet at the relay
      s2s-relay-4 the same with send --streams 4: four connections, each paired under its own token
      wormhole    wormhole send / receive --no-listen on both sides: the file goes through the relay
      s2s-direct  s2sctl send FILE ID@127.0.0.1:PORT between the same two daemons, for scale
    The relay is an unmodified `twistd transitrelay` (magic-wormhole-transit-relay); wormhole's
    mailbox server (magic-wormhole-mailbox-server) runs beside it. Everything runs inside a network
    namespace of its own whose only interface is lo, because wormhole offers every interface
    address as a direct hint: with only lo and --no-listen there is no direct connection for it to
    take. After every copy the relay's own usage records (--usage-db) must show the file's bytes
    for the relayed tools and none for the direct one, or the copy counts as failed.

What it reports
    Medians over --runs repetitions in MB/s (10^6 bytes/s), interleaved across tools; each tool
    compared with s2s-relay (s2s-relay/tool above 1: the relay route is faster); CPU seconds per
    GiB at both ends (the relay's own CPU is not counted for either, and is shown on a line of its
    own: on few cores the relay shares them with both ends); s2sd peak RSS. Times run from
    the start of the sending command to the end of the last one: wormhole's include its code
    exchange through the mailbox, s2s's the Noise handshake and the relay's pairing.

How to run it (as root: it makes a network namespace and may mount a tmpfs)
    make bench-relay                                   # release build, then this script
    make bench-relay BENCH_ARGS='--size 512M --runs 5'
    make bench-relay BENCH_ARGS='--only s2s-relay,wormhole'
    python3 bench/relay_bench.py --bin-dir .build/release --size 64M --runs 1
It needs magic-wormhole, magic-wormhole-mailbox-server and magic-wormhole-transit-relay
(PyPI or Debian), unshare and ip; bench/install-deps.sh installs them.
"""

import argparse
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as common  # noqa: E402  (the sibling module, found through the path set just above)
from bench import BenchError, CopyFailed, Measurement, parse_size  # noqa: E402

INSIDE = "S2S_RELAY_BENCH_NAMESPACE"


def enter_private_network(argv):
    """Re-executes this script in a new network namespace and brings its lo up; returns inside it."""
    if os.environ.get(INSIDE) != "1":
        common.require_program("unshare", "util-linux")
        env = dict(os.environ, **{INSIDE: "1"})
        os.execvpe("unshare", ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__), *argv], env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise BenchError(f"the namespace has interfaces besides lo: {names}")


class TwistdServer:
    """A twistd plugin (the transit relay, wormhole's mailbox) on 127.0.0.1, as our child."""

    def __init__(self, plugin, workdir, *options):
        self.plugin = plugin
        self.port = common.free_port()
        self.dir = os.path.join(workdir, plugin)
        self.log = os.path.join(self.dir, "twistd.log")
        self.options = options
        self.proc = None

    def start(self):
        os.makedirs(self.dir)
        command = [sys.executable, *common.TWISTD, "-n", "--pidfile=", f"--logfile={self.log}", self.plugin,
                   f"--port=tcp:{self.port}:interface=127.0.0.1", *self.options]
        self.proc = subprocess.Popen(command, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr.log"), "wb"))
        if not common.wait_until(self._accepts, 30, interval=0.2):
            raise BenchError(f"{self.plugin} does not accept on 127.0.0.1:{self.port} after 30 s:\n"
                             f"{common.tail(self.log)}{common.tail(os.path.join(self.dir, 'stderr.log'))}")

    def _accepts(self):
        if self.proc.poll() is not None:
            raise BenchError(f"{self.plugin} exited with status {self.proc.returncode}:\n{common.tail(self.log)}"
                             f"{common.tail(os.path.join(self.dir, 'stderr.log'))}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    def stop(self):
        common.stop_process(self.proc, self.plugin)


class TransitRelay(TwistdServer):
    """`twistd transitrelay`, recording every pairing's bytes in its usage database."""

    def __init__(self, workdir):
        super().__init__("transitrelay", workdir)
        self.usage_db = os.path.join(self.dir, "usage.sqlite")
        self.options = (f"--usage-db={self.usage_db}",)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def relayed_bytes(self):
        """Bytes the relay carried for pairings that have ended (its `usage` table)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.usage_db}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute("SELECT COALESCE(SUM(total_bytes), 0) FROM usage").fetchone()[0]


class WormholeTool:
    """wormhole send and wormhole receive, both --no-listen, through our mailbox and relay."""

    key, label = "wormhole", "magic-wormhole"

    def __init__(self, mailbox, relay):
        self.cli = [sys.executable, "-m", "wormhole", "--relay-url", f"ws://127.0.0.1:{mailbox.port}/v1",
                    "--transit-helper", f"tcp:{relay.address}"]
        self.copies = 0

    def measure(self, workload, dest, log_path, timeout):
        self.copies += 1
        code = f"{self.copies}-s2s-bench"  # a fresh nameplate per copy
        send = [*self.cli, "send", "--no-listen", "--hide-progress", "--code", code, workload.source]
        receive = [*self.cli, "receive", "--no-listen", "--hide-progress", "--accept-file",
                   "--output-file", os.path.join(dest, workload.name), code]
        sent = {}

        def run_sender():
            try:
                sent["result"] = common.run_measured(send, log_path + ".send", timeout=timeout)
            except BaseException as error:  # noqa: BLE001  (reported by the measuring thread)
                sent["error"] = error

        start = time.perf_counter()
        sender = threading.Thread(target=run_sender)
        sender.start()
        try:
            code_rcv, _, cpu_rcv, output = common.run_measured(receive, log_path, timeout=timeout)
        finally:
            sender.join()
        seconds = time.perf_counter() - start
        if "error" in sent:
            raise sent["error"]
        code_snd, _, cpu_snd, output_snd = sent["result"]
        if code_snd != 0 or code_rcv != 0:
            raise CopyFailed(f"wormhole send exited with {code_snd}, receive with {code_rcv}:\n"
                             f"{output_snd[-1000:]}\n{output[-1000:]}")
        cpu = {"sender": cpu_snd, "receiver": cpu_rcv}
        return Measurement(seconds, workload.rate(seconds), sum(cpu.values()), cpu_detail=cpu)


class RelayWitness:
    """A tool whose copies are checked against the relay's records: a relayed copy must show
    the file's bytes there, a direct one must not."""

    def __init__(self, tool, relay, relayed):
        self.tool, self.relay, self.relayed = tool, relay, relayed
        self.key, self.label = tool.key, tool.label

    def measure(self, workload, dest, log_path, timeout):
        before = self.relay.relayed_bytes()
        relay_cpu = common.cpu_seconds(self.relay.proc.pid)
        measurement = self.tool.measure(workload, dest, log_path, timeout)
        measurement.cpu_detail["relay"] = common.cpu_seconds(self.relay.proc.pid) - relay_cpu
        if self.relayed:
            # The relay writes a pairing's record once both of its sides have closed.
            if not common.wait_until(lambda: self.relay.relayed_bytes() - before >= workload.bytes, 15, interval=0.2):
                raise CopyFailed(f"{self.label}: the relay's records show {self.relay.relayed_bytes() - before} "
                                 f"bytes for a {workload.bytes}-byte file: the copy did not go through it")
        elif self.relay.relayed_bytes() - before >= workload.bytes:
            raise CopyFailed(f"{self.label}: the relay carried the file, which should have gone direct")
        return measurement


def relay_cpu_line(results):
    """The relay's own CPU seconds per GiB (median) while each tool copied: on a machine with few
    cores the relay, one Python process, shares them with both ends, so its cost bounds the route."""
    figures = [f"{r.tool.label} {r.detail_per_gib('relay'):.2f}" for r in results if r.runs and not r.error]
    return "relay cpu s/GiB (the relay process, median): " + ("; ".join(figures) or "no copy")


# The tools, by their --only names, in the order they run.
TOOLS = ("s2s-relay", "s2s-relay-4", "wormhole", "s2s-direct")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark s2s's relay route against magic-wormhole through the same transit relay "
                    "(run as root).",
        epilog="Example: python3 bench/relay_bench.py --size 256M --runs 1")
    parser.add_argument("--bin-dir", default=os.path.join(common.REPO, ".build", "release"),
                        help="where s2sd and s2sctl are (default: .build/release of this repository)")
    parser.add_argument("--size", type=parse_size, default=parse_size("2G"),
                        help="size of the file, e.g. 2G, 512M (default: 2G)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions per tool (default: 3)")
    parser.add_argument("--only", default=",".join(TOOLS),
                        help="tools, comma-separated: s2s-relay, s2s-relay-4, wormhole, s2s-direct "
                             f"(default: {','.join(TOOLS)})")
    parser.add_argument("--tmpfs", default="/dev/shm",
                        help="a tmpfs for the source and the destination; if it is not one, a tmpfs is mounted "
                             "(default: /dev/shm)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds before a copy counts as failed (default: 3600)")
    parser.add_argument("--s2sd-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for both s2sd (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write every raw figure to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the logs and configurations at the end")
    common.add_warm_memory_argument(parser)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in TOOLS]
    if unknown:
        parser.error(f"--only: unknown tool(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    if not args.only:
        parser.error(f"--only: no tool given; choose from {', '.join(TOOLS)}")
    args.bin_dir = os.path.abspath(args.bin_dir)
    args.workloads = {"file"}
    return args


def check_tools(args):
    reason = common.s2s_unavailable(args.bin_dir)
    if reason:
        raise BenchError(f"s2s: {reason}")
    for module, package in (("wormhole", "magic-wormhole"), ("wormhole_mailbox_server", "magic-wormhole-mailbox-server"),
                            ("wormhole_transit_relay", "magic-wormhole-transit-relay"), ("twisted", "twisted")):
        if subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode != 0:
            raise BenchError(f"python module {module} not found: install {package} (bench/install-deps.sh does)")


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise BenchError("run as root: the benchmark makes a network namespace and may mount a tmpfs")
    check_tools(args)
    enter_private_network(argv)
    common.stop_on_sigterm()
    info = common.machine_info(args)
    info["wormhole"] = common.program_version([sys.executable, "-m", "wormhole", "--version"])
    with contextlib.ExitStack() as stack:
        needed = 2 * args.size + 64 * common.MIB
        workdir = stack.enter_context(common.tmpfs_directory(args.tmpfs, needed))
        common.check_space(workdir, needed, "the tmpfs")
        source, dest, logdir = (common.make_directory(os.path.join(workdir, name)) for name in ("source", "dest", "logs"))
        if args.keep:
            stack.callback(common.keep_logs, workdir)
        workloads = common.make_workloads(args, source)

        relay, mailbox = TransitRelay(workdir), TwistdServer("wormhole-mailbox", workdir, "--channel-db=mailbox.sqlite")
        for server in (relay, mailbox):
            stack.callback(server.stop)
            server.start()
        print(f"bench: transit relay on {relay.address}, mailbox on 127.0.0.1:{mailbox.port}", file=sys.stderr)
        sender, receiver = (common.S2SDaemon(name, args.bin_dir, workdir) for name in ("sender", "receiver"))
        for daemon in (sender, receiver):
            stack.callback(daemon.stop)
            daemon.start(["--relay", relay.address, *args.s2sd_arg])
        tools = [
            RelayWitness(common.S2STool(sender, receiver, "s2s-relay", "s2s, relay route", relay=True), relay, True),
            RelayWitness(common.S2STool(sender, receiver, "s2s-relay-4", "s2s, relay route, 4 streams", relay=True,
                                        send_args=["--streams", "4"]), relay, True),
            RelayWitness(WormholeTool(mailbox, relay), relay, True),
            RelayWitness(common.S2STool(sender, receiver, "s2s-direct", "s2s, direct"), relay, False),
        ]
        tools = [tool for tool in tools if tool.key in args.only]
        results = common.benchmark(workloads, tools, dest, args, logdir)
        context = {
            "source": f"{common.filesystem_type(source)} ({source})",
            "destination": f"{common.filesystem_type(dest)} ({dest})",
            "runs": args.runs,
            "peers": f"{info['wormhole']}, send and receive --no-listen; transit relay and mailbox on 127.0.0.1, "
                     f"in a network namespace with only lo",
            "s2s": f"{args.bin_dir}/s2sd, two daemons on private session buses, --relay {relay.address}",
        }
        common.print_report(info, context, results, baseline="s2s-relay", notes=(
            "cpu s/GiB: CPU seconds per GiB copied (median) at both ends: wormhole send + receive; both s2sd",
            "  (snd, rcv) plus s2sctl for s2s. The relay's CPU is in neither. Every copy is checked byte for byte",
            "  on the first run, by size after, and against the relay's usage records (relayed or not).",
            relay_cpu_line(results)))
        if args.json:
            common.write_json(args.json, info, context, results)
            print(f"bench: raw figures in {args.json}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    common.run_main(main, sys.argv[1:])
