# Black-box integration tests of s2sd and s2sctl on a private dbus-daemon.
#
# Run from the repository root, as root:
#     python3 -m pip install -r Tests/Integration/requirements.txt
#     python3 -m pytest Tests/Integration -q
#
# Debian packages needed (apt-get install):
#     dbus-daemon dbus-bin libglib2.0-bin systemd util-linux passwd python3 python3-pip
#   dbus-daemon: the private bus; dbus-bin: dbus tools; libglib2.0-bin: gdbus;
#   systemd: busctl, systemd-socket-activate; util-linux: setpriv; passwd: useradd.
# Python packages: Tests/Integration/requirements.txt (jeepney, pytest).
#
# The binaries are taken from $S2S_BIN_DIR, by default .build/debug of this repository.
# The suite creates two Unix users, s2s-test-a and s2s-test-b (idempotent, left in place).

from __future__ import annotations

import itertools
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from s2sit import NAME, Client, User

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("S2S_BIN_DIR") or REPO / ".build" / "debug")
S2SD = BIN_DIR / "s2sd"
S2SCTL = BIN_DIR / "s2sctl"
XML_FILE = REPO / "Packaging" / "dbus" / "org.s2s.Daemon1.xml"
POLICY_FILE = REPO / "Packaging" / "dbus" / "org.s2s.Daemon1.conf"
USER_NAMES = ("s2s-test-a", "s2s-test-b")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_counter = itertools.count(1)


def base_env(**extra) -> dict:
    env = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/", "TERM": "dumb", "SYSTEMD_PAGER": "cat",
           "PAGER": "cat"}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def as_user_argv(user: User | None, argv) -> list:
    argv = [str(a) for a in argv]
    if user is None:
        return argv
    return ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--", *argv]


@dataclass
class Result:
    argv: list
    rc: int
    out: str
    err: str

    def json(self):
        assert self.rc == 0, self
        try:
            return json.loads(self.out)
        except json.JSONDecodeError as e:
            raise AssertionError(f"not JSON ({e}): {self}") from None

    def __str__(self):
        return f"$ {' '.join(self.argv)}\n  exit {self.rc}\n  stdout: {self.out!r}\n  stderr: {self.err!r}"


def run(argv, *, user=None, env=None, cwd=None, timeout=30, input=None) -> Result:
    full = as_user_argv(user, argv)
    try:
        p = subprocess.run(full, env=env or base_env(), cwd=cwd, capture_output=True, text=True,
                           timeout=timeout, input=input, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"timed out after {timeout}s: {' '.join(full)}\n"
                             f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}") from None
    return Result(full, p.returncode, p.stdout, p.stderr)


def make_dir(path: Path, owner: User | None = None, mode: int = 0o755) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)
    os.chmod(path, mode)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Private bus

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
{servicedir}
  <!-- As Debian's system.conf: anyone may connect, nobody may own a name or call a method
       unless a later rule allows it. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
{project_policy}
</busconfig>
"""

TEST_POLICY = """  <!-- s2s: only root may own the name; everyone may call it. -->
  <policy user="root">
    <allow own="org.s2s.Daemon1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.s2s.Daemon1"/>
  </policy>"""


class Bus:
    def __init__(self, workdir: Path, policy_include: Path | None = None, servicedir: Path | None = None,
                 env: dict | None = None):
        self.dir = make_dir(workdir / f"bus{next(_counter)}", mode=0o755)
        self.socket = self.dir / "socket"
        self.address = f"unix:path={self.socket}"
        policy = f"  <include>{policy_include}</include>" if policy_include else TEST_POLICY
        self.config = self.dir / "bus.conf"
        services = f"  <servicedir>{servicedir}</servicedir>" if servicedir else ""
        self.config.write_text(BUS_CONFIG.format(socket=self.socket, project_policy=policy, servicedir=services))
        self.log_path = self.dir / "dbus-daemon.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["dbus-daemon", f"--config-file={self.config}", "--nofork", "--nopidfile", "--nosyslog",
             "--print-address=1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=base_env(DBUS_SYSTEM_BUS_ADDRESS=self.address, **(env or {})),
            start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else b""
        self.proc.stdout.close()
        if not line or not self.socket.exists():
            self.close()
            raise RuntimeError(f"dbus-daemon did not start: {self.log_path.read_text()}")
        self._admin = None

    @property
    def admin(self) -> Client:
        """A root connection for bus-level questions (never calls the daemon)."""
        if self._admin is None:
            self._admin = Client(self.address)
        return self._admin

    def name_owner(self, name=NAME):
        return self.admin.name_owner(name)

    def close(self):
        if self._admin:
            self._admin.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._log.close()


# --------------------------------------------------------------------------------------------
# s2sd

class Daemon:
    def __init__(self, bus: Bus, workdir: Path, *, args=(), config: str | None = None, env=None,
                 user_bus=False, wrapper=(), state_dir: Path | None = None, state_arg=True):
        n = next(_counter)
        self.bus = bus
        self.state_dir = state_dir or make_dir(workdir / f"state{n}", mode=0o700)
        self.config_path = None
        if config is not None:
            self.config_path = workdir / f"s2sd{n}.conf"
            self.config_path.write_text(config)
        self.args = list(args)
        self.user_bus = user_bus
        self.wrapper = list(wrapper)
        self.state_arg = state_arg
        self.extra_env = dict(env or {})
        self.log_path = workdir / f"s2sd{n}.log"
        self.proc: subprocess.Popen | None = None
        self.returncodes: list = []

    def command(self) -> list:
        cmd = [*self.wrapper, str(S2SD)]
        if self.user_bus:
            cmd.append("--user")
        if self.config_path:
            cmd += ["--config", str(self.config_path)]
        if self.state_arg:
            cmd += ["--state-dir", str(self.state_dir)]
        return cmd + [str(a) for a in self.args]

    def env(self) -> dict:
        if self.user_bus:
            e = base_env(DBUS_SESSION_BUS_ADDRESS=self.bus.address,
                         DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/s2s-test-bus")
        else:
            e = base_env(DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        e.update(self.extra_env)
        return e

    def start(self, wait=True, timeout=30):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        log.write(f"===== start: {' '.join(self.command())}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.command(), env=self.env(), stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, start_new_session=True)
        log.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"s2sd exited with {self.proc.returncode} before owning {NAME}:\n{self.log()}")
            if self.bus.name_owner():
                return
            time.sleep(0.05)
        raise AssertionError(f"s2sd did not own {NAME} within {timeout}s:\n{self.log()}")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout) -> int | None:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.returncodes.append(rc)
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=15) -> int:
        """Sends SIG and waits; returns the exit code (negative: killed by a signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"s2sd did not exit within {timeout}s of signal {sig}:\n{self.log()}")
        self.wait_name_gone()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.wait_name_gone()

    def wait_name_gone(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.bus.name_owner() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self):
        rc = self.stop()
        assert rc == 0, f"s2sd exited with {rc} on SIGTERM:\n{self.log()}"
        return self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except FileNotFoundError:
            return "(no log)"

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# Fixtures

@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture(scope="session", autouse=True)
def _preconditions():
    if os.geteuid() != 0:
        pytest.skip("the integration suite runs as root (it creates users and runs a system-like bus)")
    missing = [str(p) for p in (S2SD, S2SCTL) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"binaries not built: {', '.join(missing)} (swift build, or set S2S_BIN_DIR)")
    for tool in ("dbus-daemon", "busctl", "gdbus", "setpriv", "systemd-socket-activate", "useradd"):
        if not shutil.which(tool, path=PATH):
            pytest.fail(f"{tool} is missing (see the apt packages at the top of conftest.py)")


@pytest.fixture(scope="session")
def world():
    """A 0755 temp root that the test users can traverse (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix="s2s-it-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def users() -> dict:
    out = {}
    for name in USER_NAMES:
        try:
            pwd.getpwnam(name)
        except KeyError:
            r = run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                     "--shell", "/usr/sbin/nologin", name])
            assert r.rc == 0 or "already exists" in r.err, r
        pw = pwd.getpwnam(name)
        out[name] = User(name, pw.pw_uid, pw.pw_gid)
    return out


@pytest.fixture
def user_a(users) -> User:
    return users["s2s-test-a"]


@pytest.fixture
def user_b(users) -> User:
    return users["s2s-test-b"]


@pytest.fixture
def scratch(world, tmp_path) -> Path:
    """A per-test 0755 directory under the world root (the bus socket, users' directories)."""
    d = make_dir(world / f"t{next(_counter)}", mode=0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def bus(scratch, request):
    b = Bus(scratch)
    yield b
    b.close()
    if _failed(request):
        print(f"----- dbus-daemon log ({b.log_path}):\n{b.log_path.read_text(errors='replace')[-5000:]}")


@pytest.fixture
def daemon_factory(bus, tmp_path, request):
    """make(**kw) -> a started Daemon (start=False: not started). Every daemon is stopped and
    reaped at teardown; on failure its log is printed."""
    made = []

    def make(*, start=True, target_bus=None, **kw) -> Daemon:
        d = Daemon(target_bus or bus, tmp_path, **kw)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        d.cleanup()
    if _failed(request):
        for d in made:
            print(f"----- s2sd log ({d.log_path}):\n{d.log()}")


@pytest.fixture
def daemon(daemon_factory) -> Daemon:
    return daemon_factory()


@pytest.fixture
def connect(bus):
    """connect(user=None) -> a jeepney Client on the private bus as root or as USER."""
    made = []

    def make(user: User | None = None, address=None) -> Client:
        c = Client(address or bus.address, user)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def root(daemon, connect) -> Client:
    return connect()


@pytest.fixture
def client_a(daemon, connect, user_a) -> Client:
    return connect(user_a)


@pytest.fixture
def client_b(daemon, connect, user_b) -> Client:
    return connect(user_b)


@pytest.fixture
def ctl(bus, scratch):
    """ctl(*args, user=None, cwd=None, env=None, timeout=30) -> Result of s2sctl on the private
    bus (DBUS_SYSTEM_BUS_ADDRESS; pass env= to replace the environment)."""

    def call(*args, user=None, cwd=None, env=None, timeout=30) -> Result:
        e = env if env is not None else base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        return run([S2SCTL, *args], user=user, env=e, cwd=cwd or scratch, timeout=timeout)

    return call


@pytest.fixture
def tool(bus, scratch):
    """tool(argv, user=None) -> Result of any program (busctl, gdbus) with the bus in its env."""

    def call(argv, *, user=None, timeout=30) -> Result:
        return run(argv, user=user, env=base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address), cwd=scratch,
                   timeout=timeout)

    return call


@pytest.fixture
def mkdir(scratch):
    """mkdir(name, owner=None, mode=0o755) -> a directory under the per-test scratch root."""

    def make(name, owner: User | None = None, mode=0o755) -> Path:
        return make_dir(scratch / name, owner, mode)

    return make


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: waits out the protocol's default timeouts (minutes); `make test` skips them, "
                   "run them with: python3 -m pytest Tests/Integration -m slow")
