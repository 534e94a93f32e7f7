"""s2sd as a service: sd_notify READY=1, socket activation, idle exit, signals, the name already
owned, command line and config file."""

import os
import re
import signal
import socket
import time

import pytest

from conftest import S2SD, Daemon, base_env, free_port, make_dir, run
from s2sit import MANAGER, ROOT, U64_MAX


class NotifyListener:
    """The systemd side of sd_notify: an AF_UNIX datagram socket."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def wait_for(self, line: bytes, timeout=30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line in m.split(b"\n") for m in self.messages):
                return time.monotonic()
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self.messages.append(self.sock.recv(4096))
            except socket.timeout:
                break
        raise AssertionError(f"no {line!r} on NOTIFY_SOCKET within {timeout}s; got {self.messages}")

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(tmp_path):
    n = NotifyListener(tmp_path / "notify.sock")
    yield n
    n.close()


def trigger(port, timeout=15):
    """Connects once to the systemd-socket-activate listener (which then execs s2sd)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def activated(daemon_factory, notify, port, idle="2s") -> Daemon:
    d = daemon_factory(
        start=False,
        wrapper=["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-E", "NOTIFY_SOCKET", "-E",
                 "DBUS_SYSTEM_BUS_ADDRESS"],
        args=["--idle-timeout", idle],
        env={"NOTIFY_SOCKET": notify.path},
    )
    d.start(wait=False)
    trigger(port)
    d.wait_ready()
    notify.wait_for(b"READY=1")
    return d


def test_ready_notification(daemon_factory, notify, bus):
    d = daemon_factory(start=False, env={"NOTIFY_SOCKET": notify.path})
    d.start(wait=False)
    notify.wait_for(b"READY=1")
    assert bus.name_owner(), "READY=1 came before s2sd owned org.s2s.Daemon1"
    assert d.alive()
    assert d.stop() == 0
    notify.wait_for(b"STOPPING=1", timeout=5)


def test_status_follows_endpoints(daemon_factory, notify, connect, mkdir):
    """STATUS= (what `systemctl status s2sd` shows) changes as endpoints come and go."""
    d = daemon_factory(start=False, env={"NOTIFY_SOCKET": notify.path})
    d.start(wait=False)
    notify.wait_for(b"READY=1")
    assert any(b"STATUS=Serving 0 endpoints" in m for m in notify.messages), notify.messages
    c = connect()

    def after(action, status: bytes):
        notify.messages.clear()
        result = action()
        notify.wait_for(status, timeout=10)
        return result

    _, first = after(lambda: c.create(mkdir("a")), b"STATUS=Serving 1 endpoint")
    after(lambda: c.create(mkdir("b")), b"STATUS=Serving 2 endpoints")
    after(lambda: c.delete(first), b"STATUS=Serving 1 endpoint")
    c.close()


def test_watchdog(daemon_factory, notify):
    """docs/configuration.md: WATCHDOG=1 every WATCHDOG_USEC / 2."""
    d = daemon_factory(start=False, env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"})
    d.start(wait=False)
    notify.wait_for(b"READY=1")
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        notify.sock.settimeout(0.2)
        try:
            notify.messages.append(notify.sock.recv(4096))
        except socket.timeout:
            pass
    pings = sum(b"WATCHDOG=1" in m.split(b"\n") for m in notify.messages)
    assert pings >= 4, f"{pings} WATCHDOG=1 in 4 s with WATCHDOG_USEC=1 s: {notify.messages}"
    assert d.alive()


def test_sigterm_and_sigint_exit_cleanly(daemon, connect, mkdir):
    c = connect()
    c.create(mkdir("inbox"))
    c.subscribe()  # an open subscriber must not hold up the shutdown
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
    daemon.start()
    assert daemon.stop(signal.SIGINT) == 0, daemon.log()


def test_socket_activation_and_idle_exit(daemon_factory, notify, connect):
    port = free_port()
    d = activated(daemon_factory, notify, port)
    c = connect()
    props = c.manager_props()
    assert f"127.0.0.1:{port}" in props["PeerListeners"], props
    assert props["IdleTimeout"] == 2_000_000, "IdleTimeout is in microseconds (docs/dbus-api.md)"
    c.close()
    t0 = time.monotonic()
    rc = d.wait_exit(30)
    assert rc is not None, "an activated, idle s2sd did not exit"
    assert rc == 0, d.log()
    assert time.monotonic() - t0 >= 1.0, "exited well before the idle timeout"


def test_activated_daemon_stays_while_busy(daemon_factory, notify, connect):
    port = free_port()
    d = activated(daemon_factory, notify, port)
    sub = connect()
    sub.subscribe()
    time.sleep(4)
    assert d.alive(), "exited while a client was subscribed"
    sub.unsubscribe()
    for _ in range(8):  # calls every 0.5 s: never idle for 2 s
        sub.get(ROOT, MANAGER, "Version")
        time.sleep(0.5)
    assert d.alive(), "exited while clients were calling"
    sub.subscribe()
    time.sleep(3)
    assert d.alive(), "exited while a client was subscribed"
    sub.close()  # a subscriber's disconnect ends its subscription
    rc = d.wait_exit(30)
    assert rc == 0, f"exit code {rc}:\n{d.log()}"


def test_started_by_hand_never_exits_on_idle(daemon_factory, connect):
    d = daemon_factory(args=["--idle-timeout", "1s"])
    time.sleep(3.5)
    assert d.alive(), "a daemon started by hand exited on idle"
    assert connect().manager_props()["PeerListeners"] == []
    assert d.stop() == 0


def test_name_already_owned(daemon, daemon_factory, bus, connect):
    owner = bus.name_owner()
    second = daemon_factory(start=False)
    second.start(wait=False)
    rc = second.wait_exit(30)
    assert rc == 1, f"exit code {rc}:\n{second.log()}"
    log = second.log().split("=====")[-1]
    assert "org.s2s.Daemon1" in log or "already" in log.lower() or "own" in log.lower(), log
    assert bus.name_owner() == owner and daemon.alive()
    assert connect().get(ROOT, MANAGER, "Version")


def test_non_root_cannot_own_the_name(daemon_factory, bus, mkdir, user_a):
    state = mkdir("a-state", user_a, 0o700)
    d = daemon_factory(start=False, state_dir=state,
                       wrapper=["setpriv", f"--reuid={user_a.uid}", f"--regid={user_a.gid}", "--init-groups", "--"])
    d.start(wait=False)
    rc = d.wait_exit(30)
    assert rc is not None and rc != 0, f"exit code {rc}:\n{d.log()}"
    assert d.log().split("=====")[-1].strip(), "no message"
    assert bus.name_owner() is None


def test_config_file(daemon_factory, connect, tmp_path):
    state = make_dir(tmp_path / "from-config", mode=0o700)
    config = (f"# s2sd test configuration\n[Daemon]\n; another comment\n\nStateDirectory={state}\n"
              f"IdleTimeout=5min\nMaxEndpointsPerUser=7\nLogLevel=debug\n")
    d = daemon_factory(config=config, state_arg=False)
    c = connect()
    props = c.manager_props()
    assert props["MaxEndpointsPerUser"] == 7
    assert props["IdleTimeout"] == 300_000_000, props
    c.create(make_dir(tmp_path / "inbox"))
    assert (state / "s2s.sqlite").is_file(), "StateDirectory= not used"
    assert d.stop() == 0


IDLE_VALUES = [("0", U64_MAX), ("1h", 3_600_000_000), ("30s", 30_000_000), ("1h 30min", 5_400_000_000),
               ("90", 90_000_000), ("2d", 2 * 86400 * 1_000_000)]


def test_config_idle_timeout_values(daemon_factory, connect):
    failures = []
    for value, expected in IDLE_VALUES:
        d = daemon_factory(config=f"[Daemon]\nIdleTimeout={value}\n")
        c = connect()
        got = c.get(ROOT, MANAGER, "IdleTimeout")
        if got != expected:
            failures.append(f"IdleTimeout={value}: property {got}, want {expected}")
        c.close()
        assert d.stop() == 0
    # The command line overrides the file.
    d = daemon_factory(config="[Daemon]\nIdleTimeout=1h\nMaxEndpointsPerUser=5\n", args=["--idle-timeout", "45s"])
    props = connect().manager_props()
    if (props["IdleTimeout"], props["MaxEndpointsPerUser"]) != (45_000_000, 5):
        failures.append(f"--idle-timeout 45s over IdleTimeout=1h: {props}")
    assert not failures, "\n".join(failures)


BAD_CONFIGS = {
    "unknown key": "Frobnicate=yes",
    "bad IdleTimeout": "IdleTimeout=soon",
    "negative IdleTimeout": "IdleTimeout=-5s",
    "bad MaxEndpointsPerUser": "MaxEndpointsPerUser=abc",
    "negative MaxEndpointsPerUser": "MaxEndpointsPerUser=-1",
    "bad LogLevel": "LogLevel=loud",
    "not key=value": "this is not a setting",
    "zero MaxEndpointsPerUser": "MaxEndpointsPerUser=0",
    "relative StateDirectory": "StateDirectory=relative/dir",
    "unknown section": "[Frobnicate]",
}


def test_bad_config_is_refused(daemon_factory, bus):
    """Mistakes are fatal, before the bus is touched, with FILE:LINE in the message."""
    configs = {what: f"[Daemon]\n# line 2\n{line}\n" for what, line in BAD_CONFIGS.items()}
    configs["setting outside [Daemon]"] = "# line 1\n\nLogLevel=debug\n[Daemon]\n"
    configs["setting in another section"] = "[Daemon]\n[Other]\nLogLevel=debug\n"
    failures = []
    for what, text in configs.items():
        d = daemon_factory(start=False, config=text)
        d.start(wait=False)
        rc = d.wait_exit(10)
        log = d.log().split("=====")[-1]
        if rc != 78:
            failures.append(f"{what}: exit code {rc}, not 78 (EX_CONFIG)")
        elif not re.search(rf"{re.escape(str(d.config_path))}:[23]\b|line\s*[23]\b", log):
            failures.append(f"{what}: the message does not name {d.config_path.name}:LINE:{log}")
        if bus.name_owner() is not None:
            failures.append(f"{what}: took the name")
        d.cleanup()
    assert not failures, "\n".join(failures)


def test_missing_config_file(daemon_factory, tmp_path):
    d = daemon_factory(start=False, args=["--config", str(tmp_path / "nope.conf")])
    d.start(wait=False)
    rc = d.wait_exit(30)
    assert rc == 78, f"exit code {rc} (EX_CONFIG is 78):\n{d.log()}"
    assert d.log().split("=====")[-1].count("\n") >= 2, f"no message:\n{d.log()}"


@pytest.mark.parametrize("args", [["--idle-timeout", "soon"], ["--log-level", "loud"], ["--bogus"],
                                  ["extra-argument"]],
                         ids=["bad duration", "bad level", "unknown option", "extra argument"])
def test_bad_command_line(daemon_factory, bus, args):
    d = daemon_factory(start=False, args=args)
    d.start(wait=False)
    rc = d.wait_exit(30)
    assert rc is not None and rc > 0, f"exit code {rc}:\n{d.log()}"
    assert d.log().split("=====")[-1].count("\n") >= 1, "no message"
    assert bus.name_owner() is None


def test_state_dir_is_a_file(daemon_factory, bus, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    d = daemon_factory(start=False, state_dir=f)
    d.start(wait=False)
    rc = d.wait_exit(30)
    assert rc is not None and rc > 0, f"exit code {rc}:\n{d.log()}"


def test_help(scratch):
    r = run([S2SD, "--help"], env=base_env(), cwd=scratch)
    assert r.rc == 0 and "--state-dir" in r.out + r.err and "--idle-timeout" in r.out + r.err, r


def test_dbus_activation_and_idle_exit(scratch, tmp_path, mkdir):
    """The bus starts s2sd on the first call (as Packaging/dbus/org.s2s.Daemon1.service would);
    an activated daemon exits when idle and the next call starts it again, state intact."""
    from conftest import Bus
    from s2sit import Client, NAME
    services = make_dir(scratch / "services")
    state = make_dir(tmp_path / "state", mode=0o700)
    log = tmp_path / "activated.log"
    bus = None
    pids = []
    try:
        bus = Bus(scratch, servicedir=services)
        wrapper = scratch / "s2sd-activated"
        wrapper.write_text(f"#!/bin/sh\nexec {S2SD} --system --state-dir {state} --idle-timeout 2s 2>>{log}\n")
        wrapper.chmod(0o755)
        (services / f"{NAME}.service").write_text(
            f"[D-BUS Service]\nName={NAME}\nExec={wrapper}\nUser=root\n")
        # The bus passes its environment (with DBUS_SYSTEM_BUS_ADDRESS, see Bus) and DBUS_STARTER_*.
        c = Client(bus.address)
        path, eid = c.create(mkdir("inbox"))  # activates s2sd
        pids.append(c.bus_call("GetConnectionUnixProcessID", "s", (NAME,))[0])
        c.close()
        deadline = time.monotonic() + 20
        while bus.name_owner() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bus.name_owner() is None, "an activated s2sd did not exit when idle"
        c = Client(bus.address)
        new_path = c.get_endpoint(eid)  # activated again; the endpoint is still there
        assert c.get(new_path, "org.s2s.Daemon1.Endpoint", "Id") == eid
        pids.append(c.bus_call("GetConnectionUnixProcessID", "s", (NAME,))[0])
        assert pids[0] != pids[1]
        c.close()
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if bus:
            bus.close()
        if log.exists():
            print(log.read_text()[-5000:])
