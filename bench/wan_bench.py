#!/usr/bin/env python3
"""Benchmark s2s across an emulated long, lossy link against scp and iperf3, in one run.

What it measures
    For each link setting (--rtt x --loss, at --rate), the link is built with the project's
    Tests/Integration/wan/wan-link.sh: two network namespaces, wanA (sender, 198.18.0.1) and wanB
    (receiver, 198.18.1.1), joined through a router namespace that delays and drops packets in
    both directions. Both ends' namespaces get cubic as their default congestion control, as
    users have it on Debian's stock kernel (cubic is added to the global
    net.ipv4.tcp_allowed_congestion_control for the run and the list is given back at the end);
    socket buffer maxima are left as a new namespace has them. One file of random data (--size,
    default 1G) on a tmpfs is then copied with:
      s2s           s2sctl send FILE ID@198.18.1.1:7730 between two s2sd daemons (receiver in
                    wanB, sender in wanA; each on a private D-Bus bus, a unix socket path that
                    works across namespaces); the daemons ask for BBR on their peer sockets;
                    Streams=auto (4 connections from a 10 ms round trip)
      s2s-1         the same daemons, send --streams 1: one connection, to show what striping
                    gives
      s2s-lo        two more s2sd daemons, both in wanA, sending over 127.0.0.1 (no link, no
                    emulator): the CPU per GB that the same build, file and machine cost without
                    the WAN, measured in the same run (this VM's first writes to fresh memory
                    cost several times its later ones, so figures of another run do not compare)
      s2s-relay     two more s2sd daemons, --relay 198.18.1.1:4001, sending by the plain endpoint
                    ID through an unmodified `twistd transitrelay` in wanB (so the sender reaches
                    the relay across the link, as a sender far from a receiver's relay does);
                    Streams=auto, at most 4 connections through a relay
      s2s-relay-1   the same daemons, send --streams 1
      s2s-system    the same with CongestionControl=system in both daemons' s2sd.conf: the
                    namespace default (cubic), to show what BBR gives
      scp           scp from wanA to an sshd this script starts in wanB (its own config and keys);
                    OpenSSH does not choose a congestion control: cubic, the namespace default
      iperf3        iperf3 -C bbr -w 32M -P 4 from wanA to a server in wanB for --iperf-seconds:
                    no disk, no encryption, four streams: the line's ceiling
      iperf3-lo     the same over 127.0.0.1 in wanA: with iperf3, what the link itself costs a bare
                    TCP copy in CPU (the emulated link's packets are 1,500 bytes where loopback's
                    are 64 KiB, and the kernel charges their processing to whichever process it
                    interrupts, the daemons included)
    Each s2s endpoint is met once, untimed, before its first measured copy (bench.py's
    meet_endpoint: the first session with an endpoint uses ChaChaPoly, later ones AES-GCM where
    both CPUs run it in hardware). Repetitions (--runs) are interleaved across tools within a
    setting. The congestion control each tool's connections really use is read with `ss -ti` in
    wanA during every copy.
    A copy that has not finished after --budget seconds is stopped (s2sctl by SIGINT, which
    cancels the transfer; scp by SIGTERM) and its rate is what had arrived by then over that
    time, marked with ~: cubic on a lossy long link would otherwise take hours.

What it reports
    Per setting: MB/s (10^6 bytes/s, medians) per tool; s2s's ratio to iperf3 and to scp; CPU
    seconds per GB of both ends for s2s (both s2sd from /proc/PID/stat, plus s2sctl) and for iperf3
    (client and server), s2s's CPU beyond iperf3's across the link and over loopback, and the
    load of the machine (load average, the share of both cores busy, the loss emulator's own CPU:
    it runs on the same cores and takes about 0.9 core at 100 MB/s). --json FILE keeps every
    raw figure.

How to run it (as root: it makes network namespaces and starts sshd)
    make bench-wan                                   # release build, then this script
    make bench-wan BENCH_ARGS='--quick'              # 64 MiB, 50 ms / 0.5 % only: a smoke run
    python3 bench/wan_bench.py --size 256M --rtt 50 --loss 0,0.5,2 --json wan.json
It needs iperf3, openssh-server, openssh-client, iproute2, iptables, iputils-ping, gcc and
libnetfilter-queue-dev (bench/install-deps.sh installs them). The namespaces are always taken
down at the end. test_wan.py and this script use the same namespace names, and wan-link.sh up
first removes whatever link exists: the script waits (--wait-link) while another run holds the
namespaces, and a setting whose link was replaced during a copy is reported as failed.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as common  # noqa: E402  (the sibling module, found through the path set just above)
from bench import BenchError, CopyFailed, parse_size  # noqa: E402

WAN_LINK = os.path.join(common.REPO, "Tests", "Integration", "wan", "wan-link.sh")
SENDER_NS, ROUTER_NS, RECEIVER_NS = "wanA", "wanR", "wanB"
SENDER_ADDRESS, RECEIVER_ADDRESS = "198.18.0.1", "198.18.1.1"
ALLOWED_CC = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
NAMESPACE_DEFAULT_CC = "cubic"
GB = 10 ** 9
S2S_PORT, S2S_SYSTEM_PORT, S2S_LOOPBACK_PORT, S2S_RELAYED_PORT, RELAY_PORT, SSH_PORT, IPERF_PORT, IPERF_LOOPBACK_PORT = (
    7730, 7731, 7732, 7734, 4001, 2222, 5201, 5202)  # s2s-lo's sender takes 7733
TOOLS = ("s2s", "s2s-1", "s2s-lo", "s2s-relay", "s2s-relay-1", "s2s-system", "scp", "iperf3", "iperf3-lo")
IPERF_TOOLS = {"iperf3", "iperf3-lo"}  # memory to memory: nothing arrives in a directory to check
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ----------------------------------------------------------------------------------------------
# Small helpers


def in_ns(ns, *command):
    """command run inside network namespace ns. `ip netns exec` execs it: the PID is the program's."""
    return ["ip", "netns", "exec", ns, *command]


def run(command, timeout=60, check=True):
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise BenchError(f"{' '.join(command)} exited with {result.returncode}: {result.stderr.strip()[-1000:]}")
    return result


def program_pid(proc, name):
    """The PID of program name started by proc (through `ip netns exec`, which execs it)."""
    with open(f"/proc/{proc.pid}/comm") as f:
        comm = f.read().strip()
    if comm != name[:15]:
        raise BenchError(f"expected {name} at PID {proc.pid}, found {comm}")
    return proc.pid


def received_bytes(top):
    """Bytes in regular files under top, the s2s receiver's partial area included."""
    total = 0
    for directory, _, names in os.walk(top):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def busy_jiffies():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def load_average():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def congestion_controls(port):
    """The congestion control of wanA's busiest established connection to the receiver's port
    (by bytes_sent; iperf3's control connection keeps the namespace default), as a list."""
    result = run(in_ns(SENDER_NS, "ss", "-tinH", "state", "established", "dst", f"{RECEIVER_ADDRESS}:{port}"),
                 timeout=10, check=False)
    best, most = [], -1
    for block in re.split(r"\n(?=\S)", result.stdout):  # one block per connection: its line, then the info
        cc = re.search(r"\b(bbr2?|cubic|reno|htcp|vegas|westwood)\b", block)
        sent = re.search(r"bytes_sent:(\d+)", block)
        if cc and (int(sent.group(1)) if sent else 0) > most:
            best, most = [cc.group(1)], int(sent.group(1)) if sent else 0
    return best


def wait_listening(ns, port, proc, timeout=15):
    """Waits until something listens on port in ns; fails early if proc exits."""
    def listening():
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[4:]} exited with status {proc.returncode}")
        return run(in_ns(ns, "ss", "-Hltn", f"sport = :{port}"), timeout=10, check=False).stdout.strip()
    if not common.wait_until(listening, timeout, interval=0.2):
        raise BenchError(f"nothing listens on port {port} in {ns} after {timeout} s")


# ----------------------------------------------------------------------------------------------
# The link


@dataclass(frozen=True)
class Setting:
    rtt_ms: int
    loss_ppm: int
    rate: str

    @property
    def label(self):
        return f"{self.rtt_ms} ms, {self.loss_ppm / 10000:g} %"


def wan_link(workdir, *args, timeout=300):
    """Runs wan-link.sh; its output goes to a log (the loss emulator it starts in the background
    would hold a pipe open). Returns the exit status."""
    with open(os.path.join(workdir, "wan-link.log"), "ab") as log:
        return subprocess.run(["bash", WAN_LINK, *args], env={"WAN_WORK": workdir, "PATH": PATH},
                              stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=timeout).returncode


def link_in_use():
    names = run(["ip", "netns", "list"], timeout=10).stdout.split()
    return [n for n in (SENDER_NS, ROUTER_NS, RECEIVER_NS) if n in names]


def allow_cubic():
    """Puts cubic on the global allowed list if it is not there (a namespace's default must be
    on it). Called before every link: test_wan.py, run meanwhile, gives back the list it found."""
    with open(ALLOWED_CC) as f:
        allowed = f.read().strip()
    if NAMESPACE_DEFAULT_CC not in allowed.split():
        with open(ALLOWED_CC, "w") as f:
            f.write(f"{allowed} {NAMESPACE_DEFAULT_CC}")


@contextlib.contextmanager
def cubic_allowed():
    """cubic allowed during the with-block; the list given back as it was after."""
    with open(ALLOWED_CC) as f:
        before = f.read().strip()
    allow_cubic()
    try:
        yield before
    finally:
        with open(ALLOWED_CC, "w") as f:
            f.write(before)


def namespace_sysctls():
    names = ("net.ipv4.tcp_congestion_control", "net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem",
             "net.core.wmem_max", "net.core.rmem_max")
    out = run(in_ns(SENDER_NS, "sysctl", *names), timeout=10).stdout
    return dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)


def measure_rtt():
    """ping's average round trip and loss across the link (5 pings)."""
    out = run(in_ns(SENDER_NS, "ping", "-q", "-c", "5", "-i", "0.2", RECEIVER_ADDRESS), timeout=30, check=False).stdout
    rtt = re.search(r"= [\d.]+/([\d.]+)/", out)
    return float(rtt.group(1)) if rtt else None


def emulator_pid():
    """The loss and delay emulator (nfq_delay) in the router namespace, if there is one."""
    for pid in run(["ip", "netns", "pids", ROUTER_NS], timeout=10, check=False).stdout.split():
        with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as f:
            if f.read().strip() == "nfq_delay":
                return int(pid)
    return None


def link_is_ours(workdir):
    """Whether the namespaces are the ones this run built: the emulator running is the one
    wan-link.sh compiled into our WAN_WORK. test_wan.py and other runs use the same namespace
    names, and wan-link.sh up begins by taking down whatever link exists."""
    pid = emulator_pid()
    if pid is None:
        return not link_in_use() or None  # nothing there, or a link without nfq_delay (netem)
    with contextlib.suppress(OSError):
        return os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(os.path.join(workdir, "nfq_delay"))
    return False


def wait_for_free_link(timeout):
    """Waits until no other run (test_wan.py, another bench-wan) holds the namespaces."""
    if link_in_use():
        print(f"wan-bench: the namespaces are in use (test_wan.py or another run?); waiting up to {timeout:g} s",
              file=sys.stderr)
        if not common.wait_until(lambda: not link_in_use(), timeout, interval=2):
            raise BenchError(f"namespaces {', '.join(link_in_use())} still exist after {timeout:g} s (if they are a "
                             f"leftover: bash {WAN_LINK} down)")


class LinkLost(Exception):
    """Another run took the namespaces down or rebuilt them during a copy."""


@contextlib.contextmanager
def emulated_link(setting, workdir, wait):
    """The link up with setting, cubic as both ends' default; taken down afterwards, unless it
    is no longer ours (another run's wan-link.sh replaced it: that one is not ours to remove)."""
    wait_for_free_link(wait)
    try:
        if wan_link(workdir, "up", str(setting.rtt_ms // 2), str(setting.loss_ppm), setting.rate) != 0:
            raise BenchError(f"wan-link.sh up failed:\n{common.tail(os.path.join(workdir, 'wan-link.log'))}")
        allow_cubic()
        for ns in (SENDER_NS, RECEIVER_NS):
            run(in_ns(ns, "sysctl", "-qw", f"net.ipv4.tcp_congestion_control={NAMESPACE_DEFAULT_CC}"), timeout=10)
        if link_is_ours(workdir) is False:
            raise LinkLost("another run replaced the link while it was being built")
        yield {"ping_rtt_ms": measure_rtt(), "sysctls": namespace_sysctls(), "emulator_pid": emulator_pid()}
    finally:
        if link_is_ours(workdir) is not False:
            wan_link(workdir, "down", timeout=60)
        else:
            print("wan-bench: the link is another run's now; leaving it", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Servers inside the namespaces


class NamespacedDaemon(common.S2SDaemon):
    """s2sd --user inside a namespace, listening on address:port there; its D-Bus bus outside
    (a unix socket path works across network namespaces), so s2sctl runs outside too."""

    def __init__(self, name, bin_dir, workdir, ns, address, port, config=None):
        super().__init__(name, bin_dir, workdir)
        self.ns, self.address, self.port, self.config = ns, address, port, config
        self.pid_ = None

    @property
    def pid(self):
        return self.pid_

    def start(self, extra_args=()):
        for sub in ("run", "config"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700)
        os.makedirs(self.state, mode=0o700)
        address = self._start_bus()
        self.env = {k: v for k, v in os.environ.items() if k not in common.INHERITED_NOT}
        self.env.update(DBUS_SESSION_BUS_ADDRESS=address, XDG_RUNTIME_DIR=os.path.join(self.dir, "run"),
                        XDG_CONFIG_HOME=os.path.join(self.dir, "config"))
        command = [self.s2sd, "--user", "--state-dir", self.state,
                   "--listen", f"{self.address}:{self.port}", *extra_args]
        if self.config:
            path = os.path.join(self.dir, "s2sd.conf")
            with open(path, "w") as f:
                f.write(self.config)
            command += ["--config", path]
        with open(self.log, "wb") as log:
            self.daemon = subprocess.Popen(in_ns(self.ns, *command), stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=log, env=self.env)
        if not common.wait_until(self._answers, 15, interval=0.2):
            raise BenchError(f"{self.name} s2sd does not answer on its bus after 15 s:\n{common.tail(self.log)}")
        self.pid_ = program_pid(self.daemon, "s2sd")


class NamespacedSSHD(common.LoopbackSSHD):
    """The benchmark's own sshd, in wanB on the receiver's address; clients log in from wanA."""

    target = f"root@{RECEIVER_ADDRESS}"

    def __init__(self, workdir):
        super().__init__(workdir)
        self.port = SSH_PORT

    def start(self):
        common.require_program(common.SSHD, "openssh-server")
        keygen = common.require_program("ssh-keygen", "openssh-client")
        os.makedirs(self.dir, mode=0o700)
        host_key = os.path.join(self.dir, "host_ed25519")
        for key in (host_key, self.key):
            run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "s2s-wan-bench", "-f", key], timeout=30)
        authorized = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.key + ".pub", authorized)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(self._config(host_key, authorized).replace("ListenAddress 127.0.0.1",
                                                               f"ListenAddress {RECEIVER_ADDRESS}"))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(in_ns(RECEIVER_NS, common.SSHD, "-D", "-e", "-f", config),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_listening(RECEIVER_NS, self.port, self.proc)
        program_pid(self.proc, "sshd")
        self.default_cipher = self._check_login()

    def _check_login(self):
        result = run(in_ns(SENDER_NS, "ssh", "-v", *self.client_options(), "-p", str(self.port), self.target, "true"),
                     timeout=60, check=False)
        if result.returncode != 0:
            raise BenchError(f"cannot log in to the benchmark's sshd:\n{result.stderr[-2000:]}\n{common.tail(self.log)}")
        match = re.search(r"kex: client->server cipher: (\S+)", result.stderr)
        return match.group(1) if match else "unknown"


class NamespacedRelay:
    """`twistd transitrelay` in wanB on 198.18.1.1:RELAY_PORT (magic-wormhole-transit-relay)."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "transitrelay")
        self.proc = None

    @property
    def address(self):
        return f"{RECEIVER_ADDRESS}:{RELAY_PORT}"

    def start(self):
        os.makedirs(self.dir)
        command = in_ns(RECEIVER_NS, sys.executable, *common.TWISTD, "-n", "--pidfile=",
                        f"--logfile={os.path.join(self.dir, 'twistd.log')}", "transitrelay",
                        f"--port=tcp:{RELAY_PORT}:interface={RECEIVER_ADDRESS}")
        with open(os.path.join(self.dir, "stderr.log"), "wb") as log:
            self.proc = subprocess.Popen(command, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_listening(RECEIVER_NS, RELAY_PORT, self.proc, timeout=30)

    def stop(self):
        common.stop_process(self.proc, "transit relay")


class Iperf3Server:
    """An iperf3 server in namespace ns on address:port."""

    def __init__(self, workdir, ns, address, port):
        self.ns, self.address, self.port = ns, address, port
        self.log = os.path.join(workdir, f"iperf3-server-{port}.log")
        self.proc = None

    def start(self):
        common.require_program("iperf3", "iperf3")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(in_ns(self.ns, "iperf3", "-s", "-B", self.address, "-p", str(self.port)),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_listening(self.ns, self.port, self.proc)
        self.pid = program_pid(self.proc, "iperf3")

    def stop(self):
        common.stop_process(self.proc, "iperf3 server")


# ----------------------------------------------------------------------------------------------
# One copy


@dataclass
class Copy:
    """One measured copy. rate is MB/s; complete is False when the budget stopped it."""
    seconds: float
    bytes: int
    rate: float
    complete: bool
    cpu: dict  # CPU seconds per process: sender, receiver, client...
    congestion: list  # what `ss -ti` showed on the sender's connections
    emulator_cpu: float = 0.0
    machine_busy: float = 0.0  # share of all CPUs busy during the copy, 0..1
    extra: dict = field(default_factory=dict)

    @property
    def cpu_per_gb(self):
        return sum(self.cpu.values()) / (self.bytes / GB) if self.bytes else None


@dataclass
class Outcome:
    code: int
    seconds: float
    cpu: float  # the command and its reaped descendants
    output: str
    stopped: dict  # {"seconds", "bytes"} when the budget stopped it, else empty


def run_budgeted(command, log_path, budget, progress, stop, env=None, grace=60):
    """Runs command to its end, or until budget seconds: then notes progress() and the time,
    and calls stop(proc); kills its process group if it is still there grace seconds later."""
    stopped = {}

    def timers(proc, start):
        def expire():
            stopped.update(seconds=time.perf_counter() - start, bytes=progress())
            with contextlib.suppress(ProcessLookupError):
                stop(proc)
        return [threading.Timer(budget, expire), threading.Timer(budget + grace, lambda: common.kill_group(proc))]

    code, seconds, cpu, output = common.run_in_group(command, log_path, env, timers)
    return Outcome(code, seconds, cpu, output, stopped)


def sample_later(delay, sample):
    """Calls sample() after delay seconds in a thread; returns a function that gives its result."""
    box = {}
    timer = threading.Timer(delay, lambda: box.update(value=sample()))
    timer.start()

    def result():
        timer.cancel()
        return box.get("value", [])
    return result


class Watch:
    """CPU of some long-lived processes, the emulator's and the whole machine's over a copy."""

    def __init__(self, pids, emulator):
        self.pids, self.emulator = pids, emulator

    def __enter__(self):
        self.before = {name: common.cpu_seconds(pid) for name, pid in self.pids.items()}
        self.emulator_before = self._emulator_cpu()
        self.jiffies_before = busy_jiffies()
        return self

    def _emulator_cpu(self):
        with contextlib.suppress(OSError, TypeError):
            return common.cpu_seconds(self.emulator)
        return 0.0

    def __exit__(self, *exc):
        self.cpu = {name: common.cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}
        self.emulator_cpu = self._emulator_cpu() - self.emulator_before
        busy, total = busy_jiffies()
        self.machine_busy = (busy - self.jiffies_before[0]) / max(1, total - self.jiffies_before[1])
        return False


def finish_copy(outcome, size, cpu, congestion, watch, extra=None):
    """A Copy from an outcome: whole (size bytes in outcome.seconds) or stopped by the budget."""
    if outcome.stopped:
        seconds, moved = outcome.stopped["seconds"], outcome.stopped["bytes"]
    else:
        seconds, moved = outcome.seconds, size
    return Copy(seconds, moved, moved / seconds / 1e6, not outcome.stopped, cpu, congestion,
                watch.emulator_cpu, watch.machine_busy, extra or {})


# ----------------------------------------------------------------------------------------------
# The tools


class S2SWan:
    """s2sctl send FILE ID@ADDRESS:PORT from the sender daemon (in wanA) to the receiver (in wanB on
    198.18.1.1, or in wanA on 127.0.0.1 for s2s-lo)."""

    def __init__(self, key, label, sender, receiver, send_args=(), via_relay=False):
        self.key, self.label, self.sender, self.receiver = key, label, sender, receiver
        self.send_args = list(send_args)
        self.via_relay = via_relay
        self.endpoints = {}

    def endpoint(self, dest):
        """The ID of the receiver's endpoint on dest, made and met (common.meet_endpoint) on first use."""
        if dest not in self.endpoints:
            reply = self.receiver.ctl("endpoint", "new", "--json", dest)
            self.endpoints[dest] = json.loads(reply.stdout)["id"]
            common.meet_endpoint(self.sender.s2sctl, self.sender.env, self.address(self.endpoints[dest]), dest)
        return self.endpoints[dest]

    def address(self, endpoint_id):
        """What `s2sctl send` takes for the endpoint: the ID through the relay, else ID@HOST:PORT."""
        return endpoint_id if self.via_relay else f"{endpoint_id}@{self.receiver.address}:{self.receiver.port}"

    def measure(self, workload, dest, log_path, budget, emulator):
        command = [self.sender.s2sctl, "--user", "send", "--retry-for", "0", *self.send_args, workload.source, self.address(self.endpoint(dest))]
        pids = {"sender": self.sender.pid, "receiver": self.receiver.pid}
        daemons = {"sender": self.sender, "receiver": self.receiver}
        phases_before = {side: daemon.phase_cpu() for side, daemon in daemons.items()}
        with Watch(pids, emulator) as watch:
            seen = sample_later(2, lambda: congestion_controls(RELAY_PORT if self.via_relay else self.receiver.port))
            outcome = run_budgeted(command, log_path, budget, lambda: received_bytes(dest),
                                   lambda proc: proc.send_signal(signal.SIGINT), env=self.sender.env)
        for daemon in (self.sender, self.receiver):
            if daemon.daemon.poll() is not None:
                raise CopyFailed(f"the {daemon.name} s2sd exited with status {daemon.daemon.returncode}:\n"
                                 f"{common.tail(daemon.log)}")
        if outcome.stopped:
            self.cancel_leftovers()
        elif outcome.code != 0:
            raise CopyFailed(f"s2sctl send exited with status {outcome.code}:\n{outcome.output[-2000:]}")
        phases = common.phase_delta(phases_before, {side: daemon.phase_cpu() for side, daemon in daemons.items()})
        return finish_copy(outcome, workload.bytes, {**watch.cpu, "s2sctl": outcome.cpu}, seen(), watch,
                           {"cpu_phases": phases})

    def unfinished(self):
        reply = self.sender.ctl("transfers", "--json", check=False)
        with contextlib.suppress(ValueError):
            return [t["path"] for t in json.loads(reply.stdout or "[]")
                    if t.get("state") not in ("done", "failed", "cancelled")]
        return []

    def cancel_leftovers(self):
        """Cancels whatever the sender still runs (SIGINT to s2sctl should have), and waits until
        nothing runs, so that the next copy is alone on the link."""
        for path in self.unfinished():
            self.sender.ctl("cancel", path, check=False)
        if not common.wait_until(lambda: not self.unfinished(), 30, interval=0.5):
            raise CopyFailed(f"the sender still runs {self.unfinished()} 30 s after the cancel")


class ScpWan:
    """scp from wanA to the benchmark's sshd in wanB; cubic, as OpenSSH leaves the default."""

    key, label = "scp", "scp"

    def __init__(self, sshd):
        self.sshd = sshd

    def measure(self, workload, dest, log_path, budget, emulator):
        command = in_ns(SENDER_NS, "scp", "-q", *self.sshd.client_options(), "-P", str(self.sshd.port),
                        workload.source, f"{self.sshd.target}:{dest}/")
        server_before = self.sshd.server_cpu()
        with Watch({}, emulator) as watch:
            seen = sample_later(2, lambda: congestion_controls(self.sshd.port))
            outcome = run_budgeted(command, log_path, budget, lambda: received_bytes(dest),
                                   lambda proc: os.killpg(proc.pid, signal.SIGTERM))
        if outcome.code != 0 and not outcome.stopped:
            raise CopyFailed(f"scp exited with status {outcome.code}:\n{outcome.output[-2000:]}")
        cpu = {"client": outcome.cpu, "server": self.sshd.server_cpu() - server_before}
        return finish_copy(outcome, workload.bytes, cpu, seen(), watch)


def buffer_maximum():
    """The largest SO_SNDBUF/SO_RCVBUF a process without CAP_NET_ADMIN's FORCE options gets in the
    namespaces (net.core.wmem_max, rmem_max; a namespace cannot go above the machine's)."""
    out = run(in_ns(SENDER_NS, "sysctl", "-n", "net.core.wmem_max", "net.core.rmem_max"), timeout=10).stdout
    return min(int(v) for v in out.split())


class Iperf3Wan:
    """iperf3 -C bbr -w WINDOW -P 4 for a fixed time: memory to memory, the line's ceiling.
    iperf3 3.12 fails ("socket buffer size not set correctly") when -w exceeds net.core.wmem_max,
    and raising that is a machine-wide change: the window is capped at the maximum and the
    report says so.

    With iperf3-lo, the same over 127.0.0.1 in wanA (a server of its own): what a bare TCP copy
    costs in CPU without the link, beside what it costs across it (see s2s-lo)."""

    def __init__(self, key, label, server, seconds, window, source_address):
        self.key, self.label = key, label
        self.server, self.seconds, self.source_address = server, seconds, source_address
        self.requested = window
        self.window = min(window, buffer_maximum())

    def command(self):
        return in_ns(SENDER_NS, "iperf3", "-c", self.server.address, "-p", str(self.server.port), "-B", self.source_address,
                     "-C", "bbr", "-w", f"{self.window // 1024}K", "-P", "4", "-t", str(self.seconds), "-J")

    def measure(self, workload, dest, log_path, budget, emulator):
        with Watch({"server": self.server.pid}, emulator) as watch:
            seen = sample_later(2, lambda: congestion_controls(self.server.port))
            outcome = run_budgeted(self.command(), log_path, self.seconds + 60, lambda: 0,
                                   lambda proc: os.killpg(proc.pid, signal.SIGKILL))
        if outcome.code != 0 or outcome.stopped:
            raise CopyFailed(f"iperf3 exited with status {outcome.code}:\n{outcome.output[-2000:]}")
        report = json.loads(outcome.output)
        received = report["end"]["sum_received"]
        start = report["start"]
        extra = {"window_requested": self.requested, "window": self.window,
                 "sndbuf_actual": start.get("sndbuf_actual"), "rcvbuf_actual": start.get("rcvbuf_actual"),
                 "retransmits": report["end"].get("sum_sent", {}).get("retransmits"),
                 "cpu_utilization_percent": report["end"].get("cpu_utilization_percent")}
        cpu = {"client": outcome.cpu, **watch.cpu}
        seconds = received["seconds"]
        return Copy(seconds, int(received["bytes"]), received["bytes"] / seconds / 1e6, True, cpu, seen(),
                    watch.emulator_cpu, watch.machine_busy, extra)


# ----------------------------------------------------------------------------------------------
# One setting


@dataclass
class ToolResult:
    key: str
    label: str
    copies: list = field(default_factory=list)
    error: str = ""

    @property
    def median(self):
        return statistics.median(c.rate for c in self.copies) if self.copies else None

    @property
    def complete(self):
        return all(c.complete for c in self.copies)

    def median_cpu(self, names=None):
        """Median CPU seconds per GB, of the named processes (default: all)."""
        values = [sum(v for k, v in c.cpu.items() if names is None or k in names) / (c.bytes / GB)
                  for c in self.copies if c.bytes]
        return statistics.median(values) if values else None


@dataclass
class SettingResult:
    setting: Setting
    link: dict
    tools: dict  # key: ToolResult
    load_before: list
    load_after: list


def start_daemons(stack, daemons, arguments):
    """Starts each daemon with arguments; each is stopped when stack unwinds."""
    for daemon in daemons:
        stack.callback(daemon.stop)
        daemon.start(arguments)


def start_servers(stack, args, workdir):
    """The servers of the tools in args.only, inside the fresh namespaces; stopped when stack unwinds."""
    tools = []
    for key, label, port, config in (("s2s", "s2s", S2S_PORT, None),
                                     ("s2s-system", "s2s, CongestionControl=system", S2S_SYSTEM_PORT,
                                      "[Daemon]\nCongestionControl=system\n")):
        uses = [k for k in ((key, "s2s-1") if key == "s2s" else (key,)) if k in args.only]
        if not uses:
            continue
        pair = (NamespacedDaemon(f"{key}-sender", args.bin_dir, workdir, SENDER_NS, "127.0.0.1", port, config),
                NamespacedDaemon(f"{key}-receiver", args.bin_dir, workdir, RECEIVER_NS, RECEIVER_ADDRESS, port, config))
        start_daemons(stack, pair, args.s2sd_arg)
        if key in uses:
            tools.append(S2SWan(key, label, *pair))
        if "s2s-1" in uses:
            tools.append(S2SWan("s2s-1", "s2s, one stream", *pair, send_args=["--streams", "1"]))
    relayed = [k for k in ("s2s-relay", "s2s-relay-1") if k in args.only]
    if relayed:
        relay = NamespacedRelay(workdir)
        stack.callback(relay.stop)
        relay.start()
        pair = (NamespacedDaemon("s2s-relay-sender", args.bin_dir, workdir, SENDER_NS, "127.0.0.1", S2S_RELAYED_PORT),
                NamespacedDaemon("s2s-relay-receiver", args.bin_dir, workdir, RECEIVER_NS, RECEIVER_ADDRESS,
                                 S2S_RELAYED_PORT))
        start_daemons(stack, pair, ["--relay", relay.address, *args.s2sd_arg])
        if "s2s-relay" in relayed:
            tools.append(S2SWan("s2s-relay", "s2s through a relay", *pair, via_relay=True))
        if "s2s-relay-1" in relayed:
            tools.append(S2SWan("s2s-relay-1", "s2s through a relay, one stream", *pair, send_args=["--streams", "1"],
                                via_relay=True))
    if "s2s-lo" in args.only:
        pair = (NamespacedDaemon("s2s-lo-sender", args.bin_dir, workdir, SENDER_NS, "127.0.0.1", S2S_LOOPBACK_PORT + 1),
                NamespacedDaemon("s2s-lo-receiver", args.bin_dir, workdir, SENDER_NS, "127.0.0.1", S2S_LOOPBACK_PORT))
        start_daemons(stack, pair, args.s2sd_arg)
        tools.append(S2SWan("s2s-lo", "s2s over loopback", *pair))
    if "scp" in args.only:
        sshd = NamespacedSSHD(workdir)
        stack.callback(sshd.stop)
        sshd.start()
        tools.append(ScpWan(sshd))
    for key, label, ns, address, port, source in (
            ("iperf3", "iperf3 bbr x4", RECEIVER_NS, RECEIVER_ADDRESS, IPERF_PORT, SENDER_ADDRESS),
            ("iperf3-lo", "iperf3 bbr x4 over loopback", SENDER_NS, "127.0.0.1", IPERF_LOOPBACK_PORT, "127.0.0.1")):
        if key in args.only:
            server = Iperf3Server(workdir, ns, address, port)
            stack.callback(server.stop)
            server.start()
            tools.append(Iperf3Wan(key, label, server, args.iperf_seconds, args.iperf_window, source))
    return tools


def measure_once(tool, workload, dest, logdir, run_index, args, emulator):
    """One copy by tool into its own emptied directory, checked (contents on the first run)."""
    common.clear_directory(dest)
    log_path = os.path.join(logdir, f"{tool.key}-{run_index + 1}.log")
    try:
        copy = tool.measure(workload, dest, log_path, args.budget, emulator)
        if copy.complete and tool.key not in IPERF_TOOLS:
            common.verify_copy(workload, dest, thorough=run_index == 0)
        return copy
    finally:
        common.clear_directory(dest)


def run_tools(tools, results, setting, args, workload, dests, logdir, link, workdir):
    """Every tool --runs times, interleaved; raises LinkLost if another run replaced the link."""
    for run_index in range(args.runs):
        for tool in tools:
            result = results[tool.key]
            if result.error:
                continue
            try:
                copy = measure_once(tool, workload, dests[tool.key], logdir, run_index, args, link["emulator_pid"])
            except CopyFailed as failure:
                copy, result.error = None, str(failure)
            if link_is_ours(workdir) is False:
                raise LinkLost(f"another run (test_wan.py?) replaced the link during {tool.label}, run {run_index + 1}")
            if copy is None:
                print(f"wan-bench: {setting.label}, {tool.label}: FAILED: {result.error}", file=sys.stderr)
                continue
            result.copies.append(copy)
            print(f"wan-bench: {setting.label}, {tool.label}, run {run_index + 1}/{args.runs}: "
                  f"{'' if copy.complete else '~'}{copy.rate:.1f} MB/s ({copy.seconds:.1f} s, "
                  f"{'/'.join(copy.congestion) or '?'}, machine {copy.machine_busy:.0%} busy)", file=sys.stderr)


def run_setting(setting, args, workload, tmpdir, workdir):
    """The link up with setting, every tool --runs times (interleaved), the link down. A setting
    whose link another run took over is reported as failed, and the benchmark goes on."""
    name = f"rtt{setting.rtt_ms}-loss{setting.loss_ppm}"
    setting_dir = common.make_directory(os.path.join(workdir, name))
    logdir = common.make_directory(os.path.join(setting_dir, "logs"))
    load_before = load_average()
    results, link = {}, {}
    try:
        with contextlib.ExitStack() as stack:
            link = stack.enter_context(emulated_link(setting, workdir, args.wait_link))
            print(f"wan-bench: link up, {setting.label} at {setting.rate} (ping {link['ping_rtt_ms']} ms)",
                  file=sys.stderr)
            tools = start_servers(stack, args, setting_dir)
            results = {t.key: ToolResult(t.key, t.label) for t in tools}
            dests = {t.key: common.make_directory(os.path.join(tmpdir, f"{name}-{t.key}")) for t in tools}
            run_tools(tools, results, setting, args, workload, dests, logdir, link, workdir)
    except LinkLost as lost:
        print(f"wan-bench: {setting.label}: {lost}; its figures are void", file=sys.stderr)
        results = {key: ToolResult(key, key, error=str(lost)) for key in args.only}
    return SettingResult(setting, link, results, load_before, load_average())


# ----------------------------------------------------------------------------------------------
# Report


def cell(result):
    if result is None:
        return "-"
    if result.error:
        return "FAILED"
    if result.median is None:
        return "-"
    return f"{'' if result.complete else '~'}{result.median:.1f}"


def ratio(a, b):
    if a is None or b is None or a.median is None or b.median is None or not b.median:
        return "-"
    return f"{a.median / b.median:.2f}x"


def s2s_cpu(result):
    if result is None or result.median is None:
        return "-"
    total = result.median_cpu()
    sides = {k: result.median_cpu([k]) for k in ("sender", "receiver", "s2sctl")}
    return f"{total:.1f} (snd {sides['sender']:.1f}, rcv {sides['receiver']:.1f})"


def plain_cpu(result):
    """CPU seconds per GB of a tool (all its processes), median; "-" when it did not run."""
    return "-" if result is None or result.median_cpu() is None else f"{result.median_cpu():.2f}"


def beyond(s2s, iperf3):
    """What s2s costs beyond a bare TCP copy on the same path (its CPU s/GB minus iperf3's): its
    own work (files, digests, encryption, its pipeline) and what the path costs it more than it
    costs iperf3 (the kernel charges packet processing to whichever process it interrupts, and
    s2s is on the CPU more of the time)."""
    if s2s is None or iperf3 is None or s2s.median_cpu() is None or iperf3.median_cpu() is None:
        return None
    return s2s.median_cpu() - iperf3.median_cpu()


def beyond_cell(s):
    link, loopback = beyond(s.tools.get("s2s"), s.tools.get("iperf3")), beyond(s.tools.get("s2s-lo"), s.tools.get("iperf3-lo"))
    return " / ".join("-" if v is None else f"{v:.2f}" for v in (link, loopback))


def phase_lines(settings):
    """CPU seconds per GB by phase (the daemons' CPUTimeByPhase), medians over the copies, for s2s
    across the link and over loopback in the same run: read, digest, seal, open and write are
    s2s's own work, which the link should not change; "socket" (the event loops' threads) and
    "rest" (everything else the daemon's threads were charged) also carry here the emulated link's
    packet processing that ran on those threads."""
    lines = []
    for s in settings:
        for key in ("s2s", "s2s-lo"):
            result = s.tools.get(key)
            summary = common.phase_summary([(c.extra.get("cpu_phases", {}), c.cpu, c.bytes) for c in (result.copies if result else [])], GB)
            if summary is not None:
                lines.append(f"cpu s/GB by phase, {s.setting.label}, {result.label}: {summary}")
    return lines


def congestion(settings, key):
    seen = sorted({cc for s in settings if key in s.tools for c in s.tools[key].copies for cc in c.congestion})
    return "/".join(seen) or "?"


def table_rows(settings):
    header = ("link (RTT, loss each way)", "s2s", "s2s 1 stream", "relay", "relay 1 stream", "s2s system cc", "scp", "iperf3 bbr x4", "s2s/iperf3",
              "s2s/scp", "s2s/1 stream", "s2s/system cc", "s2s CPU s/GB", "loopback CPU s/GB", "iperf3 CPU s/GB",
              "iperf3 loopback", "s2s beyond iperf3 (link / loopback)", "load 1 min", "busy", "emulator cores")
    rows = [header]
    for s in settings:
        t = s.tools.get
        busy = [c.machine_busy for r in s.tools.values() for c in r.copies]
        emu = [c.emulator_cpu / c.seconds for r in s.tools.values() for c in r.copies if c.seconds]
        rows.append((s.setting.label, cell(t("s2s")), cell(t("s2s-1")), cell(t("s2s-relay")), cell(t("s2s-relay-1")),
                     cell(t("s2s-system")), cell(t("scp")),
                     cell(t("iperf3")), ratio(t("s2s"), t("iperf3")), ratio(t("s2s"), t("scp")), ratio(t("s2s"), t("s2s-1")),
                     ratio(t("s2s"), t("s2s-system")),
                     s2s_cpu(t("s2s")), s2s_cpu(t("s2s-lo")), plain_cpu(t("iperf3")), plain_cpu(t("iperf3-lo")),
                     beyond_cell(s),
                     f"{s.load_before[0]:.1f} -> {s.load_after[0]:.1f}",
                     f"{statistics.mean(busy):.0%}" if busy else "-",
                     f"{max(emu):.2f}" if emu else "-"))
    return rows


def print_report(info, context, settings):
    print(f"s2s WAN benchmark, {info['date']}")
    print(f"machine: {info['host']}, {info['nproc']} CPUs ({info['cpu']}), {info['memory']}, Linux {info['kernel']}")
    print(f"link:    Tests/Integration/wan/wan-link.sh at {context['rate']}; namespaces' default congestion "
          f"control {NAMESPACE_DEFAULT_CC}; {context['buffers']}")
    print(f"copies:  one {context['size']} file, tmpfs to tmpfs; median of {context['runs']} run(s); "
          f"budget {context['budget']:g} s a copy; iperf3 {context['iperf_seconds']} s")
    print()
    rows = table_rows(settings)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print()
    print("MB/s = 10^6 bytes/s. ~: stopped at the budget; the rate of what had arrived by then.")
    print("congestion control seen (ss -ti, sender side): " + "; ".join(
        f"{key} {congestion(settings, key)}" for key in TOOLS if any(key in s.tools for s in settings)))
    print("s2s CPU s/GB: both s2sd and s2sctl (snd, rcv: the daemons). busy: both cores, whole machine, during the")
    print("  copies (other builds included). emulator cores: the most the loss emulator took during one copy,")
    print("  on the same two cores as the tools (about 0.9 of a core at 100 MB/s). iperf3 CPU s/GB: client and")
    print("  server. s2s beyond iperf3: s2s's CPU s/GB minus iperf3's on the same path, across the link and over")
    print("  loopback: what s2s costs more than a bare TCP copy (the kernel charges packet processing to whichever")
    print("  process it interrupts, so a busier process pays more of it).")
    phases = phase_lines(settings)
    if phases:
        print()
        for line in phases:
            print(line)
    for s in settings:
        for r in s.tools.values():
            if r.error:
                print(f"FAILED {s.setting.label}, {r.label}: {r.error.splitlines()[0]}")


def write_json(path, info, context, settings):
    document = {"machine": info, "context": context, "settings": [{
        "rtt_ms": s.setting.rtt_ms, "loss_ppm": s.setting.loss_ppm, "rate": s.setting.rate, "link": s.link,
        "load_before": s.load_before, "load_after": s.load_after,
        "tools": [{"tool": r.key, "label": r.label, "median_mb_s": r.median, "complete": r.complete,
                   "cpu_seconds_per_gb": r.median_cpu(), "error": r.error or None,
                   "copies": [dataclasses.asdict(c) | {"cpu_seconds_per_gb": c.cpu_per_gb} for c in r.copies]}
                  for r in s.tools.values()],
    } for s in settings]}
    with open(path, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------
# Main


def number_list(text, kind=float):
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark s2s across an emulated long, lossy link against scp and iperf3 (run as root).",
        epilog="Example: python3 bench/wan_bench.py --size 256M --rtt 50 --loss 0,0.5,2")
    parser.add_argument("--bin-dir", default=os.path.join(common.REPO, ".build", "release"),
                        help="where s2sd and s2sctl are (default: .build/release of this repository)")
    parser.add_argument("--size", type=parse_size, default=None, help="size of the file (default: 1G; --quick: 64M)")
    parser.add_argument("--rtt", type=lambda t: number_list(t, int), default=None,
                        help="round trips in ms, comma-separated (default: 50,150; --quick: 50)")
    parser.add_argument("--loss", type=number_list, default=None,
                        help="random loss in each direction, percent, comma-separated (default: 0,0.5,2; --quick: 0.5)")
    parser.add_argument("--rate", default="1gbit", help="the link's rate, as tc writes it (default: 1gbit)")
    parser.add_argument("--runs", type=int, default=1, help="repetitions per tool and setting (default: 1)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds before a copy is stopped and its partial rate taken (default: 120; --quick: 45)")
    parser.add_argument("--iperf-seconds", type=int, default=None, help="length of each iperf3 run (default: 15; "
                                                                        "--quick: 8)")
    parser.add_argument("--iperf-window", type=parse_size, default=parse_size("32M"),
                        help="iperf3 -w, capped at the namespaces' net.core.wmem_max/rmem_max (default: 32M)")
    parser.add_argument("--wait-link", type=float, default=900,
                        help="seconds to wait for another run's link (test_wan.py uses the same namespaces) "
                             "to go before building ours (default: 900)")
    parser.add_argument("--only", default=",".join(TOOLS), help=f"tools, comma-separated (default: {','.join(TOOLS)})")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 64 MiB, 50 ms / 0.5 %% only")
    parser.add_argument("--tmpfs", default="/dev/shm", help="a tmpfs for the file and the copies (default: /dev/shm)")
    parser.add_argument("--s2sd-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for every s2sd (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write every raw figure to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the logs, keys and configurations at the end")
    args = parser.parse_args(argv)
    quick = args.quick
    args.size = args.size or parse_size("64M" if quick else "1G")
    args.rtt = args.rtt or ([50] if quick else [50, 150])
    args.loss = args.loss if args.loss is not None else ([0.5] if quick else [0, 0.5, 2])
    args.budget = args.budget or (45 if quick else 120)
    args.iperf_seconds = args.iperf_seconds or (8 if quick else 15)
    args.only = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = set(args.only) - set(TOOLS)
    if unknown:
        parser.error(f"--only: unknown tools {sorted(unknown)}")
    if args.runs < 1 or any(r < 2 for r in args.rtt) or any(not 0 <= p < 100 for p in args.loss):
        parser.error("--runs must be at least 1, --rtt at least 2 ms, --loss between 0 and 100")
    args.bin_dir = os.path.abspath(args.bin_dir)
    args.workloads = {"file"}
    return args


def check_ready(args):
    if os.geteuid() != 0:
        raise BenchError("run as root: the benchmark makes network namespaces and starts sshd")
    for program, package in (("ip", "iproute2"), ("iptables", "iptables"), ("ping", "iputils-ping"), ("gcc", "gcc"),
                             ("ss", "iproute2")):
        common.require_program(program, package)
    if {"s2s", "s2s-1", "s2s-lo", "s2s-relay", "s2s-relay-1", "s2s-system"} & set(args.only):
        reason = common.s2s_unavailable(args.bin_dir)
        if reason:
            raise BenchError(f"s2s: {reason}")


def main(argv):
    args = parse_args(argv)
    check_ready(args)
    common.stop_on_sigterm()
    settings = [Setting(rtt, int(round(loss * 10000)), args.rate) for rtt in args.rtt for loss in args.loss]
    copies = len(settings) * args.runs * len(args.only)
    print(f"wan-bench: {len(settings)} setting(s) x {args.runs} run(s) x {len(args.only)} tool(s); at most "
          f"{copies * (args.budget + 70) / 60:.0f} minutes", file=sys.stderr)
    info = common.machine_info(args)
    info["iperf3"] = common.program_version(["iperf3", "--version"])
    info["load_at_start"] = load_average()
    results = []
    with contextlib.ExitStack() as stack:
        tmpdir = stack.enter_context(common.tmpfs_directory(args.tmpfs, 2 * args.size + 64 * common.MIB))
        workdir = tempfile.mkdtemp(prefix="s2s-wan-bench-")
        stack.callback(lambda: print(f"wan-bench: logs in {workdir}", file=sys.stderr) if args.keep
                       else shutil.rmtree(workdir, ignore_errors=True))
        workload = common.make_workloads(args, common.make_directory(os.path.join(tmpdir, "source")))[0]
        stack.enter_context(cubic_allowed())
        for setting in settings:
            results.append(run_setting(setting, args, workload, tmpdir, workdir))
    buffers = next((s.link["sysctls"] for s in results if "sysctls" in s.link), {})
    context = {"size": common.human_size(args.size), "bytes": args.size, "runs": args.runs, "budget": args.budget,
               "iperf_seconds": args.iperf_seconds, "rate": args.rate, "tools": args.only,
               "buffers": ", ".join(f"{k.split('.')[-1]} {' '.join(v.split())}" for k, v in buffers.items()
                                    if "mem" in k) or "unknown",
               "sysctls": buffers, "load_at_end": load_average()}
    print_report(info, context, results)
    if args.json:
        write_json(args.json, info, context, results)
        print(f"wan-bench: raw figures in {args.json}", file=sys.stderr)
    return 1 if any(r.error for s in results for r in s.tools.values()) else 0


if __name__ == "__main__":
    common.run_main(main, sys.argv[1:])
