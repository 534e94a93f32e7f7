#!/usr/bin/env python3
"""Benchmark s2s against scp and rsync over loopback, in one run so that the ratios compare.

What it measures
    Two workloads, each copied from a tmpfs to a tmpfs (or to --dest-dir):
      file  one file of random data (--size, default 2G)
      tree  --files files (default 10,000) of 4 KiB each, spread over ~100 subdirectories
    with five tools, and a sixth on request:
      scp (default)         scp with OpenSSH's default cipher
      scp aes128-gcm        scp -c aes128-gcm@openssh.com
      rsync                 rsync -a -e ssh
      cp                    cp -a, a local copy: the floor any copy pays (reading, writing)
      s2s                   s2sctl send, between two s2sd daemons
      rsync, sync           rsync, then sync -f of the destination, timed together
                            (--only rsync-sync: a copy as durable as s2s's when it ends)
    The peers talk to an sshd that this script starts on 127.0.0.1 (a free port, its own host
    key, config and authorized key, all in a temporary directory); the system's sshd is not
    touched. The two s2sd daemons each get a private D-Bus session bus. Every copy is checked
    (size and file count every time, contents on the first repetition) and the destination is
    emptied between repetitions: a tree's copies are moved aside and deleted only once every run of
    the workload is done, because ext4 without a journal does not reuse an inode freed in the last
    60 s (300 s while its table block is unwritten) and scans past each one for every new file
    (`recently_deleted`): a copy of 10,000 files just after 10,000 were deleted ran at 380 to
    4,700 files/s instead of 9,000 to 13,000 on this project's VM. Repetitions are interleaved
    across tools, so that a machine that slows down or speeds up during the run affects every
    tool alike. Times include the connection (ssh login, s2s handshake). Each s2s endpoint is
    met once, untimed, before its first measured copy (`meet_endpoint`), so that every measured
    session uses the cipher a returning sender uses. s2s's receiver makes
    each file durable before it confirms it and scp and rsync do not: free on a tmpfs, not on a
    disk (--dest-dir, where the receiver keeps its state database too). Before every copy,
    untimed, everything is synced, so that no copy writes back what an earlier one left, and the
    copy's size of memory is written and freed, so that no copy pays for a VM host's first touch
    of the memory its page cache takes (warm_free_memory; --no-warm-memory leaves it out).

What it reports
    Medians over --runs repetitions: MB/s (10^6 bytes/s) for the file, files/s for the tree;
    s2s's median divided by each peer's (above 1: s2s is faster); CPU seconds per GiB moved,
    both ends together (client and sshd for the peers, both daemons and s2sctl for s2s); the
    peak RSS of the two s2sd processes. --json FILE keeps every raw figure.

How to run it (as root: it starts sshd, and may mount a tmpfs)
    make bench                                        # release build, then this script
    make bench BENCH_ARGS='--runs 5 --only scp,s2s'
    python3 bench/bench.py --bin-dir .build/release --size 64M --files 500 --runs 1
It needs openssh-server, openssh-client, rsync and dbus-daemon (make bench installs them).
If s2sctl has no `send` command yet, the s2s part is skipped and the peers still run.
"""

import argparse
import contextlib
import datetime
import itertools
import json
import mmap
import os
import platform
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from xml.sax.saxutils import escape as xml_escape

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB = 1 << 30
MIB = 1 << 20
PAGE = mmap.PAGESIZE
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PARTIAL_AREA = ".s2s-partial"  # the receiver's own directory inside an endpoint; never ours to touch
SSHD = "/usr/sbin/sshd"
# twistd (the transit relay, wormhole's mailbox), whatever Debian or pip named it
TWISTD = ("-c", "from twisted.scripts.twistd import run; run()")
TOOL_GROUPS = {
    "scp": ["scp-default", "scp-aes128-gcm"],
    "rsync": ["rsync"],
    "rsync-sync": ["rsync-sync"],
    "cp": ["cp"],
    "s2s": ["s2s"],
    "s2s-4": ["s2s-4"],
    "s2s-first": ["s2s-first"],
}
# The tools that need the two s2sd daemons.
S2S_TOOLS = {"s2s", "s2s-4", "s2s-first"}


class BenchError(Exception):
    """The benchmark cannot go on (a missing program, a server that does not start)."""


class CopyFailed(Exception):
    """One copy failed or produced a wrong destination; that tool's figures for the workload are void."""


# ----------------------------------------------------------------------------------------------
# Small helpers


def parse_size(text):
    """'2G', '64M', '4K', '512' or '1.5GiB' to bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 2G, 64M, 4K)")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " kmgt".index(unit.lower() or " "))


def human_size(n):
    for unit, scale in (("TiB", 1 << 40), ("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.1):
    """Calls predicate until it returns something true or timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def require_program(path_or_name, package):
    found = shutil.which(path_or_name)
    if not found:
        raise BenchError(f"{path_or_name} not found: install {package} (bench/install-deps.sh does)")
    return found


def stop_process(proc, name, timeout=10):
    """SIGTERM, then SIGKILL if it is still there after timeout seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"bench: {name} ignored SIGTERM for {timeout} s, killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


def kill_group(proc):
    """SIGKILL to proc's process group, if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_in_group(cmd, log_path, env=None, timers=lambda proc, start: []):
    """Runs cmd to its end in a process group of its own (so that a timeout or an interruption
    ends scp and its ssh too), with the threading.Timers that timers(proc, start) gives running
    meanwhile; returns (exit code, wall seconds, CPU seconds of it and its descendants, output).
    The output goes through a file, so a chatty tool cannot block."""
    with open(log_path, "w+b") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        running = timers(proc, start)
        for timer in running:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: leave nothing running
            kill_group(proc)
            proc.wait()
            raise
        finally:
            for timer in running:
                timer.cancel()
        seconds = time.perf_counter() - start
        out.seek(0)
        output = out.read().decode(errors="replace")
    return os.waitstatus_to_exitcode(status), seconds, usage.ru_utime + usage.ru_stime, output


def run_measured(cmd, log_path, env=None, timeout=None):
    """Runs cmd to its end (run_in_group), killing it after timeout seconds if given, which is a
    CopyFailed."""
    killed = threading.Event()

    def timers(proc, start):
        def kill():
            killed.set()
            kill_group(proc)
        return [threading.Timer(timeout, kill)] if timeout else []

    code, seconds, cpu, output = run_in_group(cmd, log_path, env, timers)
    if killed.is_set():
        raise CopyFailed(f"{shlex.join(cmd)} timed out after {timeout} s\n{output}")
    return code, seconds, cpu, output


# ----------------------------------------------------------------------------------------------
# /proc


def cpu_seconds(pid, children=False):
    """utime+stime of a process (all its threads); with children=True, of its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()  # fields[0] is field 3 (state) of proc(5)
    first = 13 if children else 11  # utime, stime = fields 14, 15; cutime, cstime = 16, 17
    return (int(fields[first]) + int(fields[first + 1])) / CLOCK_TICKS


def status_kib(pid, key):
    """A 'kB' line of /proc/PID/status, e.g. VmRSS or VmHWM."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid):
    """Resets VmHWM (proc(5), clear_refs: 5). Returns False where the kernel does not allow it."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_pids(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except OSError:
        return []


def descendants(pid):
    found = []
    for child in child_pids(pid):
        found += [child, *descendants(child)]
    return found


class PeakRSS:
    """Peak RSS of some processes during a with-block: VmRSS sampled every 50 ms, and VmHWM
    (reset on entry) read on exit, whichever is higher. Figures in KiB, per PID."""

    def __init__(self, pids, interval=0.05):
        self.pids = pids
        self.interval = interval
        self.peak = {pid: 0 for pid in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._hwm_reset = False

    def _sample(self):
        while True:
            for pid in self.pids:
                with contextlib.suppress(OSError):
                    self.peak[pid] = max(self.peak[pid], status_kib(pid, "VmRSS"))
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self._hwm_reset = all(reset_peak_rss(pid) for pid in self.pids)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self._hwm_reset:
            for pid in self.pids:
                with contextlib.suppress(OSError):
                    self.peak[pid] = max(self.peak[pid], status_kib(pid, "VmHWM"))
        return False


def filesystem_type(path):
    """The type of the file system that holds path, from /proc/mounts (the longest mount point)."""
    path = os.path.realpath(path)
    best, kind = "", "unknown"
    with open("/proc/mounts") as f:
        for line in f:
            _, mount_point, fs_type = line.split()[:3]
            mount_point = mount_point.replace("\\040", " ")
            inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, kind = mount_point, fs_type
    return kind


# ----------------------------------------------------------------------------------------------
# Workloads


@dataclass
class Workload:
    key: str  # "file" or "tree"
    label: str  # for the table
    source: str  # the file, or the tree's top directory
    files: int
    bytes: int

    @property
    def name(self):
        return os.path.basename(self.source)

    def rate(self, seconds):
        """The figure of merit: MB/s for the file, files/s for the tree."""
        return self.bytes / seconds / 1e6 if self.key == "file" else self.files / seconds

    @property
    def unit(self):
        return "MB/s" if self.key == "file" else "files/s"


def make_file(path, size, chunk=64 * MIB):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n


def make_tree(top, files, file_size, directories):
    """files files of random data, dealt round-robin into directories subdirectories of top."""
    directories = max(1, min(directories, files))
    for d in range(directories):
        os.makedirs(os.path.join(top, f"d{d:03d}"))
    for i in range(files):
        with open(os.path.join(top, f"d{i % directories:03d}", f"f{i:05d}"), "wb") as f:
            f.write(os.urandom(file_size))


def make_workloads(args, source_dir):
    workloads = []
    if "file" in args.workloads:
        path = os.path.join(source_dir, "bigfile")
        print(f"bench: writing {human_size(args.size)} of random data to {path}", file=sys.stderr)
        make_file(path, args.size)
        workloads.append(Workload("file", f"{human_size(args.size)} file", path, 1, args.size))
    if "tree" in args.workloads:
        top = os.path.join(source_dir, "tree")
        print(f"bench: writing {args.files} files of {human_size(args.file_size)} under {top}", file=sys.stderr)
        make_tree(top, args.files, args.file_size, args.dirs)
        label = f"{args.files:,} x {human_size(args.file_size)}".replace(" KiB", "K").replace(" MiB", "M")
        workloads.append(Workload("tree", label, top, args.files, args.files * args.file_size))
    return workloads


def clear_directory(path):
    """Empties a destination, except the s2s receiver's partial area."""
    for entry in os.scandir(path):
        if entry.name == PARTIAL_AREA:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def files_under(top):
    """{relative path: size} of the regular files under top, skipping the partial area."""
    found = {}
    for directory, subdirs, names in os.walk(top):
        if directory == top and PARTIAL_AREA in subdirs:
            subdirs.remove(PARTIAL_AREA)
        for name in names:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, top)] = os.lstat(path).st_size
    return found


def same_contents(a, b, chunk=8 * MIB):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            block = fa.read(chunk)
            if block != fb.read(chunk):
                return False
            if not block:
                return True


def verify_copy(workload, dest, thorough):
    """Raises CopyFailed unless dest holds the workload under its own name: same size (file) or
    same number of files and bytes (tree); with thorough, the same contents too."""
    target = os.path.join(dest, workload.name)
    if not os.path.lexists(target):
        held = sorted(files_under(dest))[:5]
        raise CopyFailed(f"{target} is missing; the destination holds {held or 'nothing'}")
    if workload.key == "file":
        size = os.lstat(target).st_size
        if size != workload.bytes:
            raise CopyFailed(f"{target} has {size} bytes, not {workload.bytes}")
        if thorough and not same_contents(workload.source, target):
            raise CopyFailed(f"{target} differs from {workload.source}")
        return
    copied = files_under(target)
    if len(copied) != workload.files or sum(copied.values()) != workload.bytes:
        raise CopyFailed(f"{target} holds {len(copied)} files and {sum(copied.values())} bytes, "
                         f"not {workload.files} and {workload.bytes}")
    if thorough:
        for rel in files_under(workload.source):
            if rel not in copied or not same_contents(os.path.join(workload.source, rel), os.path.join(target, rel)):
                raise CopyFailed(f"{os.path.join(target, rel)} is missing or differs from the source")


# ----------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Measurement:
    seconds: float
    rate: float  # MB/s or files/s
    cpu_seconds: float  # both ends
    cpu_detail: dict = field(default_factory=dict)  # seconds per side
    peak_rss_mib: dict = field(default_factory=dict)  # s2s only: sender, receiver
    cpu_phases: dict = field(default_factory=dict)  # s2s only: side: {phase: seconds}, from CPUTimeByPhase


# ----------------------------------------------------------------------------------------------
# The peers: scp and rsync through a private sshd


class LoopbackSSHD:
    """An sshd of our own on 127.0.0.1: a free port, its own host key, config and authorized key."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "sshd")
        self.port = free_port()
        self.key = os.path.join(self.dir, "client_ed25519")
        self.log = os.path.join(self.dir, "sshd.log")
        self.proc = None
        self.default_cipher = "unknown"

    def start(self):
        require_program(SSHD, "openssh-server")
        keygen = require_program("ssh-keygen", "openssh-client")
        os.makedirs(self.dir, mode=0o700)
        host_key = os.path.join(self.dir, "host_ed25519")
        for key in (host_key, self.key):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "s2s-bench", "-f", key], check=True)
        authorized = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.key + ".pub", authorized)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(self._config(host_key, authorized))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        if not wait_until(self._accepts, 10):
            raise BenchError(f"sshd did not start on 127.0.0.1:{self.port}:\n{tail(self.log)}")
        self.default_cipher = self._check_login()

    def _config(self, host_key, authorized):
        sftp = "/usr/lib/openssh/sftp-server"  # what Debian's own sshd_config uses; scp speaks SFTP
        return "\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {authorized}",
            f"PidFile {os.path.join(self.dir, 'sshd.pid')}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "X11Forwarding no",
            "PrintMotd no",
            "PrintLastLog no",
            f"Subsystem sftp {sftp if os.path.exists(sftp) else 'internal-sftp'}",
            "",
        ])

    def _accepts(self):
        if self.proc.poll() is not None:
            raise BenchError(f"sshd exited with status {self.proc.returncode}:\n{tail(self.log)}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def _check_login(self):
        """Logs in once (failing early and clearly), and returns the cipher OpenSSH chose by default."""
        result = subprocess.run(["ssh", "-v", *self.client_options(), "-p", str(self.port), self.target, "true"],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise BenchError(f"cannot log in to the benchmark's sshd:\n{result.stderr[-2000:]}\n{tail(self.log)}")
        match = re.search(r"kex: client->server cipher: (\S+)", result.stderr)
        return match.group(1) if match else "unknown"

    def stop(self):
        """Stops sshd, and the sessions it started: they outlive a listener that gets SIGTERM."""
        if self.proc is None:
            return
        sessions = descendants(self.proc.pid)
        stop_process(self.proc, "sshd")
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)

    target = "root@127.0.0.1"

    def client_options(self):
        """ssh options for every client; -F /dev/null keeps ~/.ssh/config out of the figures."""
        return ["-F", "/dev/null", "-i", self.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]

    def server_cpu(self):
        """CPU seconds of the sessions sshd has finished so far. Waits (up to 5 s) for the last
        session to exit and be reaped, since only reaped children count."""
        wait_until(lambda: not child_pids(self.proc.pid), 5, interval=0.01)
        return cpu_seconds(self.proc.pid, children=True)


class PeerTool:
    """scp or rsync to the loopback sshd; CPU is the client's plus the sshd sessions'."""

    def __init__(self, key, label, sshd):
        self.key, self.label, self.sshd = key, label, sshd

    def command(self, workload, dest):
        raise NotImplementedError

    def measure(self, workload, dest, log_path, timeout):
        server_before = self.sshd.server_cpu()
        code, seconds, client_cpu, output = run_measured(self.command(workload, dest), log_path, timeout=timeout)
        if code != 0:
            raise CopyFailed(f"{self.label} exited with status {code}:\n{output[-2000:]}")
        server_cpu = self.sshd.server_cpu() - server_before
        return Measurement(seconds, workload.rate(seconds), client_cpu + server_cpu,
                           cpu_detail={"client": client_cpu, "server": server_cpu})


class ScpTool(PeerTool):
    def __init__(self, key, label, sshd, cipher=None):
        super().__init__(key, label, sshd)
        self.cipher = cipher

    def command(self, workload, dest):
        cipher = ["-c", self.cipher] if self.cipher else []
        recursive = ["-r"] if workload.key == "tree" else []
        return ["scp", "-q", *recursive, *cipher, *self.sshd.client_options(), "-P", str(self.sshd.port),
                workload.source, f"{self.sshd.target}:{dest}/"]


class RsyncTool(PeerTool):
    def command(self, workload, dest):
        ssh = shlex.join(["ssh", *self.sshd.client_options(), "-p", str(self.sshd.port)])
        return ["rsync", "-a", "-e", ssh, workload.source, f"{self.sshd.target}:{dest}/"]


class DurableRsyncTool(RsyncTool):
    """rsync, then `sync -f` of the destination's file system, timed together: a copy that is on
    disk when it ends, as s2s's is (rsync alone leaves it to the kernel's writeback)."""

    def command(self, workload, dest):
        return ["sh", "-c", f"{shlex.join(super().command(workload, dest))} && exec sync -f {shlex.quote(dest)}"]


class LocalCopyTool:
    """`cp -a` from the source to the destination: no network, no cipher, one process. Not a
    competitor but the floor: what reading the source and writing the copy cost this machine in
    this run (on this VM, the first write to memory it had handed back to its host is most of it),
    which any copy pays and s2s cannot go below."""

    key, label = "cp", "cp -a (local)"

    def measure(self, workload, dest, log_path, timeout):
        code, seconds, cpu, output = run_measured(["cp", "-a", workload.source, f"{dest}/"], log_path, timeout=timeout)
        if code != 0:
            raise CopyFailed(f"cp exited with status {code}:\n{output[-2000:]}")
        return Measurement(seconds, workload.rate(seconds), cpu, cpu_detail={"client": cpu})


# ----------------------------------------------------------------------------------------------
# s2s: two daemons, each on a private session bus

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Variables that would make s2sd think systemd started it, or read the user's own settings.
INHERITED_NOT = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC",
                 "WATCHDOG_PID", "JOURNAL_STREAM", "DBUS_SESSION_BUS_ADDRESS")


def s2s_unavailable(bin_dir):
    """Why the s2s part cannot run with these binaries, or None."""
    s2sd, s2sctl = os.path.join(bin_dir, "s2sd"), os.path.join(bin_dir, "s2sctl")
    for program in (s2sd, s2sctl):
        if not os.access(program, os.X_OK):
            return f"{program} not found (build first: swift build -c release)"
    if not shutil.which("dbus-daemon"):
        return "dbus-daemon not found (install dbus-daemon)"
    # ArgumentParser answers `s2sctl UNKNOWN --help` with the top-level help and status 0, so
    # the usage line is what tells whether `send` exists.
    help_text = subprocess.run([s2sctl, "send", "--help"], capture_output=True, text=True)
    if help_text.returncode != 0 or "s2sctl send" not in help_text.stdout + help_text.stderr:
        return "send not available in this build"
    if "--listen" not in subprocess.run([s2sd, "--help"], capture_output=True, text=True).stdout:
        return "s2sd has no --listen option in this build"
    return None


class S2SDaemon:
    """s2sd --user on a dbus-daemon of its own, listening for peers on 127.0.0.1:port; its state
    (the database it commits to as files arrive) under state_parent, by default with the rest."""

    def __init__(self, name, bin_dir, workdir, state_parent=None):
        self.name = name
        self.s2sd = os.path.join(bin_dir, "s2sd")
        self.s2sctl = os.path.join(bin_dir, "s2sctl")
        self.dir = os.path.join(workdir, name)
        self.state = os.path.join(state_parent, f"{name}-state") if state_parent else os.path.join(self.dir, "state")
        self.port = free_port()
        self.log = os.path.join(self.dir, "s2sd.log")
        self.bus = self.daemon = None
        self.env = None

    @property
    def pid(self):
        return self.daemon.pid

    def start(self, extra_args=()):
        for sub in ("run", "config"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700)
        os.makedirs(self.state, mode=0o700)
        address = self._start_bus()
        self.env = {k: v for k, v in os.environ.items() if k not in INHERITED_NOT}
        self.env.update(DBUS_SESSION_BUS_ADDRESS=address, XDG_RUNTIME_DIR=os.path.join(self.dir, "run"),
                        XDG_CONFIG_HOME=os.path.join(self.dir, "config"))
        command = [self.s2sd, "--user", "--state-dir", self.state,
                   "--listen", f"127.0.0.1:{self.port}", *extra_args]
        with open(self.log, "wb") as log:
            self.daemon = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        if not wait_until(self._answers, 10, interval=0.2):
            raise BenchError(f"{self.name} s2sd does not answer on its bus after 10 s:\n{tail(self.log)}")

    def _start_bus(self):
        config = os.path.join(self.dir, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=xml_escape(os.path.join(self.dir, "bus"))))
        with open(os.path.join(self.dir, "bus.log"), "wb") as log:
            self.bus = subprocess.Popen(["dbus-daemon", "--config-file", config, "--nofork", "--nopidfile",
                                         "--print-address=1"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=log)
        ready, _, _ = select.select([self.bus.stdout], [], [], 10)
        address = self.bus.stdout.readline().decode().strip() if ready else ""
        if not address:
            raise BenchError(f"the {self.name} dbus-daemon did not print its address")
        return address

    def _answers(self):
        if self.daemon.poll() is not None:
            raise BenchError(f"{self.name} s2sd exited with status {self.daemon.returncode}:\n{tail(self.log)}")
        return self.ctl("status", check=False).returncode == 0

    def ctl(self, *args, check=True):
        result = subprocess.run([self.s2sctl, "--user", *args], env=self.env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise BenchError(f"s2sctl --user {shlex.join(args)} ({self.name}) failed: {result.stderr.strip()}")
        return result

    def phase_cpu(self):
        """The daemon's CPU seconds per hot-path phase so far (its CPUTimeByPhase property);
        empty when it cannot be read (a daemon without it)."""
        result = subprocess.run(["busctl", f"--address={self.env['DBUS_SESSION_BUS_ADDRESS']}", "--json=short",
                                 "get-property", "org.s2s.Daemon1", "/org/s2s/Daemon1", "org.s2s.Daemon1.Manager",
                                 "CPUTimeByPhase"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        try:
            return {phase: ns / 1e9 for phase, ns in json.loads(result.stdout)["data"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return {}

    def stop(self):
        stop_process(self.daemon, f"{self.name} s2sd")
        stop_process(self.bus, f"{self.name} dbus-daemon")
        if self.bus is not None and self.bus.stdout:
            self.bus.stdout.close()


def meet_endpoint(s2sctl, env, target, dest):
    """One untimed send of one byte to a new endpoint, removed from dest again. A sender's first
    session with an endpoint announces ChaChaPoly and learns from the receiver's HELLO whether it
    takes AES-GCM (docs/protocol.md, "Ciphers"); met once, every measured copy is a later session,
    as a user's repeated transfers to an endpoint are, and no run differs from the others by its
    cipher."""
    with tempfile.TemporaryDirectory(prefix="s2s-bench-meet-") as scratch:
        source = os.path.join(scratch, "s2s-bench-first-contact")
        with open(source, "wb") as file:
            file.write(b"1")
        reply = subprocess.run([s2sctl, "--user", "send", source, target], env=env, capture_output=True, text=True,
                               timeout=120)
    if reply.returncode != 0:
        raise CopyFailed(f"the first send to {target} failed: {(reply.stderr or reply.stdout).strip()[-2000:]}")
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(dest, "s2s-bench-first-contact"))


class S2STool:
    """s2sctl send from the sender daemon to an endpoint of the receiver daemon: directly to its
    listening port (`ID@127.0.0.1:PORT`), or with relay=True by the plain ID, through the relay
    both daemons were started with."""

    def __init__(self, sender, receiver, key="s2s", label="s2s", relay=False, send_args=(), first_contact=False):
        self.sender, self.receiver = sender, receiver
        self.key, self.label, self.relay = key, label, relay
        self.send_args = list(send_args)
        self.first_contact = first_contact
        self.endpoints = {}  # destination directory: endpoint ID

    def endpoint(self, dest):
        """The ID of the receiver's endpoint on dest, made and met on first use (`endpoint new
        --json`, then `meet_endpoint`); with first_contact, a new endpoint for every copy, never
        met: each copy is the sender's first session with its endpoint."""
        if self.first_contact:
            return self.new_endpoint(dest)
        if dest not in self.endpoints:
            self.endpoints[dest] = self.new_endpoint(dest)
            meet_endpoint(self.sender.s2sctl, self.sender.env, self.address(self.endpoints[dest]), dest)
        return self.endpoints[dest]

    def new_endpoint(self, dest):
        reply = self.receiver.ctl("endpoint", "new", "--json", dest, check=False)
        if reply.returncode != 0:
            raise CopyFailed(f"s2sctl endpoint new {dest} failed: {reply.stderr.strip()}")
        try:
            return json.loads(reply.stdout)["id"]
        except (ValueError, KeyError, TypeError):  # the text form: the ID alone on a line
            lines = reply.stdout.split()
            if not lines:
                raise CopyFailed("s2sctl endpoint new printed no ID") from None
            return lines[-1]

    def address(self, endpoint_id):
        """What `s2sctl send` takes for the endpoint: the ID through the relay, else ID@HOST:PORT."""
        return endpoint_id if self.relay else f"{endpoint_id}@127.0.0.1:{self.receiver.port}"

    def _check_daemons(self):
        for daemon in (self.sender, self.receiver):
            if daemon.daemon.poll() is not None:
                raise CopyFailed(f"the {daemon.name} s2sd exited with status {daemon.daemon.returncode}:\n"
                                 f"{tail(daemon.log)}")

    def measure(self, workload, dest, log_path, timeout):
        self._check_daemons()
        command = [self.sender.s2sctl, "--user", "send", *self.send_args, workload.source, self.address(self.endpoint(dest))]
        daemons = {"sender": self.sender.pid, "receiver": self.receiver.pid}
        before = {side: cpu_seconds(pid) for side, pid in daemons.items()}
        phases_before = {"sender": self.sender.phase_cpu(), "receiver": self.receiver.phase_cpu()}
        with PeakRSS(list(daemons.values())) as rss:
            code, seconds, client_cpu, output = run_measured(command, log_path, env=self.sender.env, timeout=timeout)
        self._check_daemons()
        if code != 0:
            raise CopyFailed(f"s2sctl send exited with status {code}:\n{output[-2000:]}")
        cpu = {side: cpu_seconds(pid) - before[side] for side, pid in daemons.items()}
        phases = phase_delta(phases_before, {"sender": self.sender.phase_cpu(), "receiver": self.receiver.phase_cpu()})
        cpu["s2sctl"] = client_cpu
        return Measurement(seconds, workload.rate(seconds), sum(cpu.values()), cpu_detail=cpu,
                           peak_rss_mib={side: rss.peak[pid] / 1024 for side, pid in daemons.items()},
                           cpu_phases=phases)


# ----------------------------------------------------------------------------------------------
# Running the benchmark


@dataclass
class Result:
    workload: Workload
    tool: object
    runs: list = field(default_factory=list)  # Measurement
    error: str = ""

    @property
    def median(self):
        return statistics.median(m.rate for m in self.runs) if self.runs and not self.error else None

    def cpu_per_gib(self):
        if not self.runs or self.error:
            return None
        return statistics.median(m.cpu_seconds for m in self.runs) / (self.workload.bytes / GIB)

    def detail_per_gib(self, part):
        """The median over the runs of one part's CPU seconds (cpu_detail: a side, the relay) per GiB."""
        return statistics.median(m.cpu_detail[part] for m in self.runs) / (self.workload.bytes / GIB)


def benchmark(workloads, tools, dest, args, logdir):
    """Every (workload, tool), --runs times, repetitions interleaved across tools."""
    results = {(w.key, t.key): Result(w, t) for w in workloads for t in tools}
    for workload in workloads:
        with copies_set_aside(dest, workload) as set_aside:
            run_workload(workload, tools, results, dest, set_aside, args, logdir)
    return list(results.values())


@contextlib.contextmanager
def copies_set_aside(dest, workload):
    """For a tree: a function that moves the finished copy out of dest (a rename, on the same file
    system), and the deletion of every copy moved once the workload is done (see the module's doc:
    deleting many files just before the next copy slows that copy on ext4 without a journal). A
    file's copy is deleted at once: one inode, and a tmpfs could not hold every copy of it."""
    if workload.key != "tree":
        yield lambda: clear_directory(dest)
        return
    aside = make_directory(os.path.join(os.path.dirname(dest), "aside"))
    count = itertools.count()

    def set_aside():
        target = make_directory(os.path.join(aside, str(next(count))))
        for entry in os.scandir(dest):
            if entry.name != PARTIAL_AREA:
                os.rename(entry.path, os.path.join(target, entry.name))
    try:
        yield set_aside
    finally:
        shutil.rmtree(aside, ignore_errors=True)


# What a copy needs besides its data's page cache: the tools' buffers, sockets, logs.
WARM_MARGIN = 128 * MIB
# What the warm-up leaves of the machine's available memory.
WARM_RESERVE = 512 * MIB


def warm_free_memory(size):
    """Writes to `size` bytes of fresh anonymous memory and frees it again, just before a timed copy,
    so that the page cache the copy fills comes from memory the guest has just used.

    Why: a virtual machine with free page reporting (a virtio balloon; this project's VMs boot with
    `page_reporting.page_reporting_order`) hands memory that stays free for a few seconds back to
    the host, and the guest's next write to it faults in the host, which supplies and zeroes it.
    Measured here: writing a 6 GiB tmpfs file cost 0.4 CPU s per GiB where its memory had just
    been freed and 2 to 3.5 s per GiB where it had been handed back, charged to whichever process
    wrote it (the receiving end of every tool). Which copy met such memory was chance (how long
    the tools before it ran), so a receiver's write cost moved from 0.5 to 3.5 s per GiB between
    runs. Memory written and freed just before is the guest's own again, for every tool alike. On
    a machine without page reporting this costs a moment and changes nothing.

    Never more than the memory available less WARM_RESERVE, so that it cannot push the tools, the
    tmpfs or anything else on the machine into swap or the OOM killer."""
    size = min(size, meminfo_bytes("MemAvailable") - WARM_RESERVE)
    pages = size // PAGE
    if pages <= 0:
        return
    with mmap.mmap(-1, pages * PAGE) as memory:
        memory[::PAGE] = b"\x01" * pages


def meminfo_bytes(field):
    """A field of /proc/meminfo in bytes; 0 if it cannot be read."""
    with contextlib.suppress(OSError, StopIteration, ValueError), open("/proc/meminfo") as f:
        return int(next(line.split()[1] for line in f if line.startswith(f"{field}:"))) * 1024
    return 0


def add_warm_memory_argument(parser):
    parser.add_argument("--no-warm-memory", dest="warm_memory", action="store_false",
                        help="do not write and free the copy's size of memory before each copy (warm_free_memory: "
                             "on a VM that reports free pages to its host, the copy then pays for the host's "
                             "first touch of its page cache)")


def run_workload(workload, tools, results, dest, set_aside, args, logdir):
    """--runs repetitions of `workload` by every tool, interleaved."""
    for run in range(args.runs):
        for tool in tools:
            result = results[(workload.key, tool.key)]
            if result.error:
                continue
            clear_directory(dest)
            # Untimed: what earlier copies left unwritten goes to disk now, or the next copy
            # that syncs (s2s's syncfs) would write it and pay for it.
            os.sync()
            if args.warm_memory:
                warm_free_memory(workload.bytes + WARM_MARGIN)
            log_path = os.path.join(logdir, f"{workload.key}-{tool.key}-{run + 1}.log")
            try:
                measurement = tool.measure(workload, dest, log_path, args.timeout)
                verify_copy(workload, dest, thorough=run == 0)
            except CopyFailed as failure:
                result.error = str(failure)
                print(f"bench: {workload.label}, {tool.label}: FAILED: {failure}", file=sys.stderr)
                continue
            finally:
                set_aside()
            result.runs.append(measurement)
            print(f"bench: {workload.label}, {tool.label}, run {run + 1}/{args.runs}: "
                  f"{format_rate(measurement.rate, workload.unit)} ({measurement.seconds:.2f} s)",
                  file=sys.stderr)


def make_tools(args, sshd, s2s_pair):
    tools = []
    if "scp-default" in args.only:
        tools.append(ScpTool("scp-default", "scp (default)", sshd))
    if "scp-aes128-gcm" in args.only:
        tools.append(ScpTool("scp-aes128-gcm", "scp aes128-gcm", sshd, cipher="aes128-gcm@openssh.com"))
    if "rsync" in args.only:
        tools.append(RsyncTool("rsync", "rsync -a", sshd))
    if "rsync-sync" in args.only:
        tools.append(DurableRsyncTool("rsync-sync", "rsync, sync", sshd))
    if "cp" in args.only:
        tools.append(LocalCopyTool())
    if s2s_pair and "s2s" in args.only:
        tools.append(S2STool(*s2s_pair))
    if s2s_pair and "s2s-4" in args.only:
        tools.append(S2STool(*s2s_pair, key="s2s-4", label="s2s, 4 streams", send_args=["--streams", "4"]))
    if s2s_pair and "s2s-first" in args.only:
        tools.append(S2STool(*s2s_pair, key="s2s-first", label="s2s, first session", first_contact=True))
    return tools


@contextlib.contextmanager
def tmpfs_directory(base, needed):
    """A fresh directory on a tmpfs: under base if base is a tmpfs, else on a tmpfs we mount."""
    if os.path.isdir(base) and filesystem_type(base) == "tmpfs":
        path = tempfile.mkdtemp(prefix="s2s-bench-", dir=base)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
        return
    path = tempfile.mkdtemp(prefix="s2s-bench-tmpfs-")
    size = needed + 256 * MIB
    print(f"bench: {base} is not a tmpfs; mounting a {human_size(size)} tmpfs on {path}", file=sys.stderr)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "s2s-bench", path], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", path], check=False)
        os.rmdir(path)


def keep_logs(workdir):
    """Copies the logs, keys and configurations (not the data, not sockets) out of the tmpfs."""
    kept = tempfile.mkdtemp(prefix="s2s-bench-logs-")
    for directory, subdirs, names in os.walk(workdir):
        if directory == workdir:
            subdirs[:] = [d for d in subdirs if d not in ("source", "dest")]
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                target = os.path.join(kept, os.path.relpath(path, workdir))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(path, target)
    print(f"bench: logs, keys and configurations kept in {kept}", file=sys.stderr)


def check_space(path, needed, what):
    stat = os.statvfs(path)
    available = stat.f_bavail * stat.f_frsize
    if available < needed:
        raise BenchError(f"{what} {path} has {human_size(available)} free; the benchmark needs {human_size(needed)}")


def program_version(command):
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return (result.stdout or result.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine_info(args):
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    memory = meminfo_bytes("MemTotal")
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": human_size(memory) if memory else "unknown",
        "kernel": platform.release(),
        "ssh": program_version(["ssh", "-V"]),
        "rsync": program_version(["rsync", "--version"]),
        "s2sd": program_version([os.path.join(args.bin_dir, "s2sd"), "--version"]),
    }


# ----------------------------------------------------------------------------------------------
# Report


def format_rate(rate, unit):
    if rate is None:
        return "-"
    return f"{format_number(rate)} {unit}"


def format_number(value):
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def format_runs(result):
    return "[" + ", ".join(format_number(m.rate) for m in result.runs) + "]"


def print_report(info, context, results, baseline="s2s", notes=()):
    """The table: one row per (workload, tool), each peer's median compared with the baseline
    tool's in the same workload. notes: lines printed under the table's legend."""
    print(f"s2s benchmark, {info['date']}")
    print(f"machine: {info['host']}, {info['nproc']} CPUs ({info['cpu']}), {info['memory']}, Linux {info['kernel']}")
    print(f"peers:   {context['peers']}")
    print(f"s2s:     {context['s2s']}")
    print(f"copies:  {context['source']} -> {context['destination']}; loopback; "
          f"median of {context['runs']} run(s); CPU both ends")
    print()
    rows = [("workload", "tool", "median", "runs", f"{baseline}/tool", "cpu s/GiB", "s2sd peak RSS MiB")]
    for result in results:
        rows.append(table_row(result, results, baseline))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    print()
    for line in phase_lines(results):
        print(line)
    print(f"{baseline}/tool: {baseline}'s median divided by the tool's (above 1: {baseline} is faster).")
    for line in notes:
        print(line)
    failures = [r for r in results if r.error]
    if failures:
        print()
        for result in failures:
            print(f"FAILED {result.workload.label}, {result.tool.label}: {result.error.splitlines()[0]}")


def table_row(result, results, baseline="s2s"):
    unit = result.workload.unit
    base = next((r for r in results if r.workload is result.workload and r.tool.key == baseline), None)
    if result.error:
        return (result.workload.label, result.tool.label, "FAILED", "", "", "", "")
    ratio = ""
    if base and base.median and result.tool.key != baseline:
        ratio = f"{base.median / result.median:.2f}x"
    cpu = f"{result.cpu_per_gib():.2f}"
    rss = ""
    sides = ("sender", "receiver")
    if all(side in m.cpu_detail for m in result.runs for side in sides):
        detail = {side: result.detail_per_gib(side) for side in sides}
        cpu += f" (snd {detail['sender']:.2f}, rcv {detail['receiver']:.2f})"
    if all(side in m.peak_rss_mib for m in result.runs for side in sides):
        peak = {side: max(m.peak_rss_mib[side] for m in result.runs) for side in sides}
        rss = f"snd {peak['sender']:.0f}, rcv {peak['receiver']:.0f}"
    return (result.workload.label, result.tool.label, format_rate(result.median, unit), format_runs(result),
            ratio, cpu, rss)


# The phases each side spends CPU in (CPUTimeByPhase), in the order data flows.
PHASES = {"sender": ("read", "digest", "seal", "socket"), "receiver": ("socket", "open", "digest", "write")}


def phase_delta(before, after):
    """The CPUTimeByPhase seconds spent between two readings, per side whose daemon answered."""
    return {side: {phase: seconds - before[side].get(phase, 0.0) for phase, seconds in after[side].items()}
            for side in after if after[side]}


def phase_summary(samples, unit):
    """"snd read .., digest .., seal .., socket .., rest ..; rcv ..." from samples of (CPU seconds by phase
    per side, CPU seconds per side, bytes moved): medians of seconds per `unit` bytes; "rest" is
    the side's CPU time outside those phases. None when no sample has every side's phases."""
    samples = [(phases, cpu, moved) for phases, cpu, moved in samples if moved and all(phases.get(side) for side in PHASES)]
    if not samples:
        return None
    parts = []
    for side, names in PHASES.items():
        per = {name: statistics.median(phases[side].get(name, 0.0) / (moved / unit) for phases, _, moved in samples) for name in names}
        total = statistics.median(cpu.get(side, 0.0) / (moved / unit) for _, cpu, moved in samples)
        rest = max(0.0, total - sum(per.values()))
        parts.append(("snd " if side == "sender" else "rcv ") + ", ".join(f"{name} {value:.2f}" for name, value in per.items()) + f", rest {rest:.2f}")
    return "; ".join(parts)


def phase_lines(results):
    """CPU seconds per GiB by phase, medians over the runs, for each s2s result whose daemons
    counted them; "socket" is the event loops' threads (socket reads and writes), "rest" the side's
    CPU time outside every phase (hand-overs between threads, scheduling, the bus)."""
    lines = []
    for result in results:
        summary = phase_summary([(m.cpu_phases, m.cpu_detail, result.workload.bytes) for m in result.runs], GIB)
        if result.error or summary is None:
            continue
        lines.append(f"cpu s/GiB by phase, {result.workload.label}, {result.tool.label}: {summary}")
    if lines:
        lines.append("")
    return lines


def write_json(path, info, context, results):
    document = {
        "machine": info,
        "context": context,
        "results": [{
            "workload": asdict(r.workload) | {"unit": r.workload.unit},
            "tool": r.tool.key,
            "label": r.tool.label,
            "median": r.median,
            "cpu_seconds_per_gib": r.cpu_per_gib(),
            "error": r.error or None,
            "runs": [asdict(m) for m in r.runs],
        } for r in results],
    }
    with open(path, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark s2s against scp and rsync over loopback (run as root).",
        epilog="Example: python3 bench/bench.py --size 64M --files 500 --runs 1 --only scp,rsync")
    parser.add_argument("--bin-dir", default=os.path.join(REPO, ".build", "release"),
                        help="where s2sd and s2sctl are (default: .build/release of this repository)")
    parser.add_argument("--size", type=parse_size, default=parse_size("2G"),
                        help="size of the single file, e.g. 2G, 512M (default: 2G)")
    parser.add_argument("--files", type=int, default=10_000, help="number of files in the tree (default: 10000)")
    parser.add_argument("--file-size", type=parse_size, default=parse_size("4K"),
                        help="size of each file in the tree (default: 4K)")
    parser.add_argument("--dirs", type=int, default=100, help="subdirectories of the tree (default: 100)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions per tool and workload (default: 3)")
    parser.add_argument("--only", default="scp,rsync,cp,s2s",
                        help="tools, comma-separated: scp (both ciphers), scp-default, scp-aes128-gcm, rsync, "
                             "rsync-sync (rsync, then a sync of the destination's file system, timed together), "
                             "cp (a local copy: the floor), s2s, s2s-4 (s2s striped over 4 connections: what striping "
                             "costs on loopback), s2s-first (s2s to a new endpoint each copy: a sender's first "
                             "session, its handshake ChaChaPoly) (default: scp,rsync,cp,s2s)")
    parser.add_argument("--workloads", default="file,tree", help="file, tree or both (default: file,tree)")
    parser.add_argument("--tmpfs", default="/dev/shm",
                        help="a tmpfs for sources and destinations; if it is not one, a tmpfs is mounted "
                             "(default: /dev/shm)")
    parser.add_argument("--dest-dir", help="copy into a fresh directory under this one (e.g. on disk) "
                                           "instead of the tmpfs")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a copy counts as failed "
                                                                    "(default: 3600)")
    parser.add_argument("--s2sd-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for both s2sd, e.g. --s2sd-arg=--log-level=debug (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write every raw figure to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, keys) at the end")
    add_warm_memory_argument(parser)
    args = parser.parse_args(argv)

    wanted = set()
    for name in filter(None, (part.strip() for part in args.only.split(","))):
        if name in TOOL_GROUPS:
            wanted.update(TOOL_GROUPS[name])
        elif any(name in group for group in TOOL_GROUPS.values()):
            wanted.add(name)
        else:
            parser.error(f"--only: unknown tool {name!r}")
    args.only = wanted
    args.workloads = {part.strip() for part in args.workloads.split(",") if part.strip()}
    if not args.workloads or args.workloads - {"file", "tree"}:
        parser.error("--workloads takes file, tree or file,tree")
    if args.runs < 1 or args.files < 1:
        parser.error("--runs and --files must be at least 1")
    args.bin_dir = os.path.abspath(args.bin_dir)
    return args


def stop_on_sigterm():
    """SIGTERM and SIGHUP unwind like Ctrl-C, so that the servers are always stopped."""
    def handler(signum, _frame):
        print(f"bench: stopped by {signal.Signals(signum).name}", file=sys.stderr)
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def check_tools(args):
    """Fails early on a missing peer program; drops s2s (with a note) if this build cannot send.
    Returns what the report says about s2s."""
    if args.only & {"scp-default", "scp-aes128-gcm", "rsync", "rsync-sync"}:
        require_program("ssh", "openssh-client")
    if "cp" in args.only:
        require_program("cp", "coreutils")
    if args.only & {"scp-default", "scp-aes128-gcm"}:
        require_program("scp", "openssh-client")
    if args.only & {"rsync", "rsync-sync"}:
        require_program("rsync", "rsync")
    if not args.only & S2S_TOOLS:
        return "not run"
    reason = s2s_unavailable(args.bin_dir)
    if reason:
        print(f"s2s: {reason}, skipped", file=sys.stderr)
        args.only -= S2S_TOOLS
        return f"skipped: {reason}"
    return f"{args.bin_dir}/s2sd, two daemons on private session buses"


def start_servers(stack, args, workdir, dest_parent):
    """The sshd (if a peer runs) and the two s2sd (if s2s runs), each stopped when stack unwinds.
    With --dest-dir the receiver keeps its state there too, as an installed one keeps it on disk
    (/var/lib/s2s): its database's commits are part of what receiving to a disk costs."""
    sshd = s2s_pair = None
    if args.only - S2S_TOOLS - {"cp"}:
        sshd = LoopbackSSHD(workdir)
        stack.callback(sshd.stop)
        sshd.start()
        print(f"bench: sshd on 127.0.0.1:{sshd.port} (pid {sshd.proc.pid})", file=sys.stderr)
    if args.only & S2S_TOOLS:
        s2s_pair = (S2SDaemon("sender", args.bin_dir, workdir),
                    S2SDaemon("receiver", args.bin_dir, workdir, dest_parent if args.dest_dir else None))
        for daemon in s2s_pair:
            stack.callback(daemon.stop)
            daemon.start(args.s2sd_arg)
            print(f"bench: {daemon.name} s2sd on 127.0.0.1:{daemon.port} (pid {daemon.pid})", file=sys.stderr)
    return sshd, s2s_pair


def make_directory(path):
    os.makedirs(path)
    return path


def main(argv=None):
    args = parse_args(argv)
    stop_on_sigterm()
    if os.geteuid() != 0:
        raise BenchError("run as root: the benchmark starts its own sshd and may mount a tmpfs")
    s2s_note = check_tools(args)
    if not args.only:
        print("bench: nothing to run", file=sys.stderr)
        return 0

    file_bytes = args.size if "file" in args.workloads else 0
    tree_bytes = args.files * max(args.file_size, 4096) if "tree" in args.workloads else 0
    payload = file_bytes + tree_bytes
    # Every copy of the tree stays until the workload ends (copies_set_aside).
    copies = file_bytes + tree_bytes * args.runs * len(args.only)
    margin = 64 * MIB  # also the free space s2s's receiver keeps by default (FreeSpaceReserve)
    info = machine_info(args)
    with contextlib.ExitStack() as stack:
        needed = payload + (0 if args.dest_dir else copies) + margin
        workdir = stack.enter_context(tmpfs_directory(args.tmpfs, needed))
        check_space(workdir, needed, "the tmpfs")
        dest_parent = workdir
        if args.dest_dir:
            os.makedirs(args.dest_dir, exist_ok=True)
            dest_parent = tempfile.mkdtemp(prefix="s2s-bench-", dir=args.dest_dir)
            stack.callback(shutil.rmtree, dest_parent, True)
            check_space(dest_parent, copies + margin, "--dest-dir")
        source, dest, logdir = (make_directory(os.path.join(parent, name)) for parent, name in
                                ((workdir, "source"), (dest_parent, "dest"), (workdir, "logs")))
        if args.keep:
            stack.callback(keep_logs, workdir)  # registered before the servers: runs after they stop

        workloads = make_workloads(args, source)
        sshd, s2s_pair = start_servers(stack, args, workdir, dest_parent)
        results = benchmark(workloads, make_tools(args, sshd, s2s_pair), dest, args, logdir)
        context = {
            "source": f"{filesystem_type(source)} ({source})",
            "destination": f"{filesystem_type(dest)} ({dest})",
            "runs": args.runs,
            "ssh_default_cipher": sshd.default_cipher if sshd else "not run",
            "peers": f"{info['ssh']} (default cipher {sshd.default_cipher if sshd else 'not run'}); {info['rsync']}",
            "s2s": s2s_note,
        }
        print_report(info, context, results, notes=(
            "cpu s/GiB: CPU seconds per GiB copied (median), both ends: scp or rsync with ssh, plus the sshd",
            "  sessions, for the peers; both s2sd (snd, rcv) plus s2sctl for s2s. RSS: the highest of the runs."))
        if args.json:
            write_json(args.json, info, context, results)
            print(f"bench: raw figures in {args.json}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


def run_main(entry, argv):
    """Exits with entry(argv)'s status; a BenchError is one line and status 1, Ctrl-C status 130."""
    try:
        sys.exit(entry(argv))
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run_main(main, sys.argv[1:])
