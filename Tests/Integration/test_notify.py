# s2s-notify against a real notification server: dunst under Xvfb on a private session bus,
# real s2sd daemons on their own buses, transfers over loopback. What the server shows is read
# back from dunst itself: a dunst rule runs a script for every notification it displays (the
# first time and each time it is replaced in place), and `dunstctl history` lists what it showed.
#
# Debian packages: dunst xvfb imagemagick xdg-utils file fonts-dejavu-core (scripts/install-deps.sh).

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, PATH, REPO, Bus, as_user_argv, base_env, make_dir, run
from test_transfer import CuttingProxy, Side, new_endpoint, pair, random_file, wait_for  # noqa: F401 (pair: fixture)

S2S_NOTIFY = BIN_DIR / "s2s-notify"
ARTIFACTS = Path(os.environ.get("S2S_TEST_ARTIFACTS") or REPO / ".build" / "test-logs")
REAL_CONVERT = "/usr/bin/convert"  # imagemagick's, not a stand-in earlier on PATH
_agents = itertools.count(1)

SESSION_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- A session bus shared by root (dunst, the test) and the test user (s2s-notify). No service
       directories: nothing is activated, so "no notification server" means none. -->
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

DUNSTRC = """[global]
    font = DejaVu Sans 11
    width = 460
    height = 300
    origin = top-right
    offset = 12x12
    notification_limit = 0
    history_length = 500
    sticky_history = yes
    idle_threshold = 0
    show_age_threshold = -1
    markup = full
    format = "<b>%s</b>\\n%b"
    alignment = left
    word_wrap = yes
    progress_bar = true
    progress_bar_height = 10
    progress_bar_min_width = 300
    progress_bar_max_width = 436
    icon_position = off
    show_indicators = yes
    frame_width = 2
    frame_color = "#8caaee"
    separator_color = frame
    padding = 10
    horizontal_padding = 12
    corner_radius = 6
    dmenu = {menu}

[urgency_low]
    background = "#303446"
    foreground = "#c6d0f5"
    timeout = 0

[urgency_normal]
    background = "#303446"
    foreground = "#c6d0f5"
    highlight = "#a6d189"
    timeout = 0

[urgency_critical]
    background = "#303446"
    foreground = "#e78284"
    frame_color = "#e78284"
    timeout = 0

[log_every_notification]
    appname = "*"
    script = {script}
"""

# Run by dunst for every notification it shows: one JSON object a line, from dunst's variables.
LOG_SCRIPT = """#!/usr/bin/python3
import json, os
keys = ("ID", "APP_NAME", "SUMMARY", "BODY", "PROGRESS", "URGENCY", "CATEGORY")
with open({log!r}, "a") as f:
    f.write(json.dumps({{k: os.environ.get("DUNST_" + k, "") for k in keys}}) + "\\n")
"""

# dunst's context menu ("dunstctl context") pipes "#ACTION [SUMMARY]" lines to this program and
# acts on the line it prints: it picks the line named in the file CHOICE, as a person would.
MENU_SCRIPT = """#!/bin/sh
tee -a {seen} | grep -m1 -F -- "$(cat {choice})"
"""


def wait(predicate, timeout=60, what="condition", interval=0.1):
    return wait_for(predicate, timeout=timeout, interval=interval, what=what)


class Display:
    """Xvfb on a display number it picks itself."""

    def __init__(self, workdir: Path):
        self.log = open(workdir / "xvfb.log", "wb")
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24", "-nolisten", "tcp", "-ac"],
            pass_fds=(write,), stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        os.close(write)
        number = b""
        deadline = time.monotonic() + 30
        with os.fdopen(read, "rb") as pipe:
            while not number.endswith(b"\n") and time.monotonic() < deadline:
                chunk = pipe.read(1)
                if not chunk:
                    break
                number += chunk
        if not number.strip().isdigit():
            self.close()
            raise RuntimeError(f"Xvfb did not start: {(workdir / 'xvfb.log').read_text(errors='replace')}")
        self.name = f":{number.strip().decode()}"

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


class Desktop:
    """A user's desktop session: a private session bus, dunst on the X display, and what dunst
    showed."""

    def __init__(self, workdir: Path, display: Display, user):
        self.dir = make_dir(workdir / "desktop", mode=0o755)
        self.display = display
        self.user = user
        self.socket = self.dir / "session-bus"
        self.address = f"unix:path={self.socket}"
        (self.dir / "session.conf").write_text(SESSION_BUS_CONFIG.format(socket=self.socket))
        self.shown = self.dir / "shown.jsonl"
        self.menu_seen = self.dir / "menu-seen.txt"
        self.menu_choice = self.dir / "menu-choice.txt"
        self.menu_choice.write_text(",open-folder]\n")
        script = self.dir / "log-notification"
        script.write_text(LOG_SCRIPT.format(log=str(self.shown)))
        menu = self.dir / "menu"
        menu.write_text(MENU_SCRIPT.format(seen=self.menu_seen, choice=self.menu_choice))
        for f in (script, menu):
            f.chmod(0o755)
        (self.dir / "dunstrc").write_text(DUNSTRC.format(script=script, menu=menu))
        self.home = make_dir(self.dir / "home", user, 0o755)
        self.bus_proc = None
        self.dunst_proc = None
        self.start_bus()

    def env(self, **extra) -> dict:
        return base_env(DBUS_SESSION_BUS_ADDRESS=self.address, DISPLAY=self.display.name, **extra)

    def start_bus(self):
        self.bus_log = open(self.dir / "session-bus.log", "ab")
        self.bus_proc = subprocess.Popen(
            ["dbus-daemon", f"--config-file={self.dir / 'session.conf'}", "--nofork", "--nopidfile", "--nosyslog"],
            stdin=subprocess.DEVNULL, stdout=self.bus_log, stderr=self.bus_log, env=base_env(),
            start_new_session=True)
        wait(lambda: self.socket.exists() and self.bus_answers(), timeout=15, what="the session bus")

    def bus_answers(self) -> bool:
        r = run(["dbus-send", f"--bus={self.address}", "--print-reply", "--dest=org.freedesktop.DBus",
                 "/org/freedesktop/DBus", "org.freedesktop.DBus.GetId"], timeout=10)
        return r.rc == 0

    def stop_bus(self):
        if self.bus_proc and self.bus_proc.poll() is None:
            self.bus_proc.terminate()
            self.bus_proc.wait(timeout=10)
        self.bus_log.close()
        self.socket.unlink(missing_ok=True)

    def start_dunst(self):
        self.dunst_log = open(self.dir / "dunst.log", "ab")
        self.dunst_proc = subprocess.Popen(
            ["dunst", "-config", str(self.dir / "dunstrc"), "-verbosity", "info"],
            stdin=subprocess.DEVNULL, stdout=self.dunst_log, stderr=self.dunst_log,
            env=self.env(HOME=str(self.dir), XDG_CONFIG_HOME=str(self.dir / "dunst-config")), start_new_session=True)
        wait(lambda: self.dunstctl("debug").rc == 0, timeout=30, what="dunst on the session bus")

    def stop_dunst(self):
        if self.dunst_proc and self.dunst_proc.poll() is None:
            self.dunst_proc.terminate()
            self.dunst_proc.wait(timeout=10)
            self.dunst_log.close()

    def dunstctl(self, *args):
        return run(["dunstctl", *args], env=self.env(), timeout=30)

    def history(self) -> list[dict]:
        """dunstctl history: the notifications dunst showed and no longer shows, newest first."""
        r = self.dunstctl("history")
        assert r.rc == 0, r
        return [{k: v["data"] for k, v in n.items()} for n in json.loads(r.out)["data"][0]]

    def displayed(self) -> int:
        r = self.dunstctl("count", "displayed")
        assert r.rc == 0, r
        return int(r.out.strip())

    def shown_entries(self) -> list[dict]:
        """Every notification dunst displayed, once per display or in-place replacement, in order."""
        if not self.shown.exists():
            return []
        return [json.loads(line) for line in self.shown.read_text().splitlines() if line.strip()]

    def wait_shown(self, predicate, timeout=60, what="a notification"):
        def match():
            found = [e for e in self.shown_entries() if predicate(e)]
            return found[-1] if found else None
        try:
            return wait(match, timeout=timeout, what=what)
        except AssertionError:
            raise AssertionError(f"{what} was not shown; dunst showed: {self.shown_entries()}") from None

    def screenshot(self, name: str) -> Path:
        """The notifications on the screen, trimmed to them, as ARTIFACTS/NAME."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        raw = self.dir / "screen.png"
        r = run(["import", "-display", self.display.name, "-window", "root", str(raw)], timeout=60)
        assert r.rc == 0, r
        out = ARTIFACTS / name
        r = run([REAL_CONVERT, str(raw), "-trim", "+repage", "-bordercolor", "black", "-border", "12", str(out)],
                timeout=60)
        assert r.rc == 0, r
        return out

    def close(self):
        self.stop_dunst()
        self.stop_bus()


class Agent:
    """s2s-notify as a user, following a daemon's bus, showing on a desktop's session bus."""

    def __init__(self, desktop: Desktop, daemon_bus: Bus | None, user, workdir: Path, args=(), env=None):
        self.log_path = workdir / f"s2s-notify-{next(_agents)}-{user.name}.log"
        self.log_file = open(self.log_path, "ab")
        environment = desktop.env(
            DBUS_SYSTEM_BUS_ADDRESS=daemon_bus.address if daemon_bus else "unix:path=/nonexistent/bus",
            HOME=str(desktop.home), XDG_CONFIG_HOME=str(desktop.home / "config"),
            XDG_DATA_HOME=str(desktop.home / "share"), XDG_DATA_DIRS=str(desktop.home / "share"),
            **(env or {}))
        self.proc = subprocess.Popen(
            as_user_argv(user, [S2S_NOTIFY, "--verbose", *args]), env=environment, stdin=subprocess.DEVNULL,
            stdout=self.log_file, stderr=self.log_file, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout=60):
        try:
            wait(lambda: text in self.log(), timeout=timeout, what=f"{text!r} in the agent's log")
        except AssertionError:
            raise AssertionError(f"{text!r} not logged; the log:\n{self.log()}") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"s2s-notify did not exit within {timeout}s of {sig}:\n{self.log()}") from None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log_file.close()


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def display(tmp_path_factory):
    for tool in ("Xvfb", "dunst", "dunstctl", "import", "xdg-open"):
        if not shutil.which(tool, path=PATH):
            pytest.fail(f"{tool} is missing (scripts/install-deps.sh installs it)")
    if not os.access(S2S_NOTIFY, os.X_OK):
        pytest.fail(f"{S2S_NOTIFY} is not built (swift build)")
    d = Display(tmp_path_factory.mktemp("x"))
    yield d
    d.close()


@pytest.fixture
def desktop_factory(scratch, display, request):
    """make(user) -> a Desktop (session bus, no dunst yet); agent(desktop, bus, user) -> an Agent.
    All are stopped at teardown; on failure the logs are printed."""
    desktops, agents = [], []

    def make(user, name="d") -> Desktop:
        d = Desktop(make_dir(scratch / name), display, user)
        desktops.append(d)
        return d

    def agent(desktop, daemon_bus, user, args=(), env=None) -> Agent:
        a = Agent(desktop, daemon_bus, user, scratch, args, env)
        agents.append(a)
        return a

    def following(daemon_bus, user, args=()) -> tuple[Desktop, Agent]:
        """A desktop with dunst, and an agent that follows the daemon on DAEMON_BUS."""
        desktop = make(user)
        desktop.start_dunst()
        a = agent(desktop, daemon_bus, user, args)
        a.wait_log("following s2sd")
        return desktop, a

    make.agent = agent
    make.following = following
    yield make
    for a in agents:
        a.close()
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for d in desktops:
        if failed:
            for log in ("dunst.log", "session-bus.log"):
                p = d.dir / log
                if p.exists():
                    print(f"----- {p}:\n{p.read_text(errors='replace')[-4000:]}")
            print(f"----- notifications shown: {d.shown_entries()}")
        d.close()
    if failed:
        for a in agents:
            print(f"----- {a.log_path}:\n{a.log()[-8000:]}")


def sent_through(proxy: CuttingProxy, dest: str) -> str:
    return dest.rsplit(":", 1)[0] + f":{proxy.port}"


def ours(entry) -> bool:
    return entry["APP_NAME"] == "s2s"


def xdg_file_manager(desktop: Desktop, user) -> Path:
    """A desktop entry that handles folders (inode/directory) for xdg-open, and the file where it
    writes what it was asked to open."""
    opened = desktop.home / "opened.txt"
    apps = make_dir(desktop.home / "share" / "applications", user)
    handler = desktop.home / "record-open"
    handler.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> {opened}\n")
    handler.chmod(0o755)
    (apps / "s2s-test-files.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Test files\n"
        f"Exec={handler} %f\nMimeType=inode/directory;\n")
    config = make_dir(desktop.home / "config", user)
    (config / "mimeapps.list").write_text("[Default Applications]\ninode/directory=s2s-test-files.desktop\n")
    for p in (apps, config):
        os.chown(p, user.uid, user.gid)
    opened.touch()
    os.chown(opened, user.uid, user.gid)
    return opened


# --------------------------------------------------------------------------------------------


def test_an_incoming_file_is_shown_in_place_and_opens_its_folder(pair, desktop_factory, mkdir, user_a, user_b):
    """A file arriving slowly: one notification, shown after a moment and updated in place with
    a progress bar and a Cancel action; when it arrived it says so in the same notification,
    with "Open folder", which opens the endpoint's directory (xdg-open, no file manager on the
    bus). Screenshots of both go to .build/test-logs."""
    receiver, sender = pair
    desktop, agent = desktop_factory.following(receiver.bus, user_b)
    opened = xdg_file_manager(desktop, user_b)

    inbox = mkdir("Downloads", owner=user_b)
    size = 48 << 20
    name = "holiday & <friends>.mkv"
    source = random_file(mkdir("out", owner=user_a) / name, size, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    proxy = CuttingProxy(receiver.port, cut_after=None, rate=8 << 20)
    try:
        proc = sender.popen("send", str(source), sent_through(proxy, dest), user=user_a)
        running = desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == f"Receiving {name}" and e["PROGRESS"] not in ("", "-1", "0"),
                                     what="the running transfer's notification")
        assert "Cancel" not in running["BODY"]
        assert "into Downloads" in running["BODY"]
        desktop.screenshot("notification-progress.png")
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    finally:
        proxy.close()
    arrived = desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == "File received", what="the arrival")
    assert arrived["BODY"] == "holiday &amp; &lt;friends&gt;.mkv (48 MiB) arrived in Downloads", arrived
    shot = desktop.screenshot("notification.png")
    assert shot.stat().st_size > 1000

    mine = [e for e in desktop.shown_entries() if ours(e)]
    assert {e["ID"] for e in mine} == {running["ID"]}, f"one notification updated in place, not several: {mine}"
    progress = [int(e["PROGRESS"]) for e in mine if e["PROGRESS"] not in ("", "-1")]
    assert len(set(progress)) >= 2 and progress == sorted(progress), mine
    assert desktop.displayed() == 1

    # "Open folder", as chosen in dunst's context menu.
    assert desktop.dunstctl("context").rc == 0
    wait(lambda: opened.read_text().strip(), timeout=30, what="the folder to be opened")
    assert opened.read_text().split("\n")[0] == str(inbox)
    seen = desktop.menu_seen.read_text()
    assert f"#Open folder (File received) [{running['ID']},open-folder]" in seen, seen

    assert desktop.dunstctl("close-all").rc == 0
    history = [n for n in desktop.history() if n["appname"] == "s2s"]
    assert len(history) == 1, history
    assert history[0]["summary"] == "File received" and history[0]["id"] == int(running["ID"])
    assert agent.alive()


def test_cancel_in_the_notification_cancels_the_transfer(pair, desktop_factory, mkdir, user_a, user_b):
    """The Cancel action of a running transfer's notification cancels it on both sides; the
    notification then says so, in place."""
    receiver, sender = pair
    desktop, agent = desktop_factory.following(receiver.bus, user_b)
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "big.iso", 64 << 20, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    proxy = CuttingProxy(receiver.port, cut_after=None, rate=2 << 20)
    try:
        proc = sender.popen("send", str(source), sent_through(proxy, dest), user=user_a)
        running = desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == "Receiving big.iso",
                                     what="the running transfer's notification")
        # The only action of the notification: dunst invokes it.
        assert desktop.dunstctl("action", "0").rc == 0
        out, err = proc.communicate(timeout=120)
    finally:
        proxy.close()
    # The sender fails; its message is the sending daemon's business (it can say "internal error:
    # DATA after the session ended" when the receiver's CANCEL overtakes its own DATA: a race in
    # SendSession, reported separately). What matters here is the receiver's side.
    assert proc.returncode == 1, err
    t = wait(lambda: [t for t in receiver.transfers(user_b) if t["state"] == "cancelled"], what="cancelled")[0]
    assert t["direction"] == "receive"
    ended = desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == "Receiving big.iso cancelled", what="the cancellation")
    assert ended["ID"] == running["ID"]
    assert "big.iso" not in os.listdir(inbox)
    agent.wait_log("from its notification")


def test_small_transfers_coalesce_into_one_message(pair, desktop_factory, mkdir, user_a, user_b):
    """Twelve small files sent one after another make one message that grows in place, and a
    folder of many files one message; nothing per file."""
    receiver, sender = pair
    desktop, agent = desktop_factory.following(receiver.bus, user_b, args=["--coalesce", "5min"])
    inbox = mkdir("Downloads", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    total = 0
    for i in range(12):
        f = random_file(outbox / f"note-{i:02}.txt", 1000 + i, owner=user_a)
        total += 1000 + i
        r = sender.ctl("send", str(f), dest, user=user_a)
        assert r.rc == 0, r
    message = desktop.wait_shown(lambda e: ours(e) and e["BODY"].startswith("12 files"), what="the coalesced message")
    assert message["SUMMARY"] == "Files received"
    assert message["BODY"] == "12 files (11.8 KiB) arrived in Downloads", message
    mine = [e for e in desktop.shown_entries() if ours(e)]
    assert {e["ID"] for e in mine} == {message["ID"]}, mine
    assert desktop.displayed() == 1
    assert agent.alive()


def test_an_outgoing_transfer_is_reported_when_delivered(pair, desktop_factory, mkdir, user_a, user_b):
    """The sender's agent: "File sent" with the short destination; nothing to open."""
    receiver, sender = pair
    desktop, agent = desktop_factory.following(sender.bus, user_a)
    source = random_file(mkdir("out", owner=user_a) / "report.pdf", 300 * 1024, owner=user_a)
    dest = new_endpoint(receiver, mkdir("in", owner=user_b), user_b)
    r = sender.ctl("send", str(source), dest, user=user_a)
    assert r.rc == 0, r
    sent = desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == "File sent", what="the sent message")
    endpoint_id = dest.split("@")[0]
    assert sent["BODY"] == f"report.pdf (300 KiB) was delivered to {endpoint_id[:8]}…{endpoint_id[-4:]} at 127.0.0.1:{receiver.port}"


def test_a_failure_is_shown_with_its_reason(pair, desktop_factory, mkdir, user_a, user_b):
    """A send refused by the receiver's quota: the sender sees why."""
    receiver, sender = pair
    desktop, agent = desktop_factory.following(sender.bus, user_a)
    source = random_file(mkdir("out", owner=user_a) / "big.bin", 2 << 20, owner=user_a)
    dest = new_endpoint(receiver, mkdir("in", owner=user_b), user_b, "--quota", "1M")
    r = sender.ctl("send", str(source), dest, user=user_a)
    assert r.rc == 1, r
    failed = desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == "Sending big.bin failed", what="the failure")
    assert "quota exceeded" in failed["BODY"].lower(), failed
    assert failed["URGENCY"] == "CRITICAL"


def test_no_notification_server_is_logged_once_and_one_appearing_is_used(pair, desktop_factory, mkdir, user_a, user_b):
    """Without a notification server the agent says so once and keeps running through
    transfers; when dunst starts, notifications start."""
    receiver, sender = pair
    desktop = desktop_factory(user_b)
    agent = desktop_factory.agent(desktop, receiver.bus, user_b)
    agent.wait_log("no notification server on the session bus")
    agent.wait_log("following s2sd")
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    for i in range(2):
        r = sender.ctl("send", str(random_file(outbox / f"early-{i}", 100, owner=user_a)), dest, user=user_a)
        assert r.rc == 0, r
    assert agent.alive()
    assert agent.log().count("no notification server") == 1, agent.log()

    desktop.start_dunst()
    agent.wait_log("notification server: dunst")
    r = sender.ctl("send", str(random_file(outbox / "late.txt", 100, owner=user_a)), dest, user=user_a)
    assert r.rc == 0, r
    shown = desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == "File received", what="a notification")
    assert shown["BODY"] == "late.txt (100 B) arrived in in"
    assert agent.log().count("no notification server") == 1


def test_the_daemon_starting_late_and_restarting_is_followed(scratch, daemon_factory, desktop_factory, mkdir, user_a,
                                                             user_b):
    """The agent starts before s2sd (logs it once, waits), follows it when it starts, and again
    after it restarts; SIGTERM then ends the agent with status 0."""
    bus = Bus(scratch)
    sender_bus = Bus(scratch)
    try:
        from conftest import free_port
        port = free_port()
        receiver = Side(bus, daemon_factory(target_bus=bus, args=["--listen", f"127.0.0.1:{port}"], start=False), port)
        sender = Side(sender_bus, daemon_factory(target_bus=sender_bus), None)
        desktop = desktop_factory(user_b)
        desktop.start_dunst()
        agent = desktop_factory.agent(desktop, bus, user_b)
        agent.wait_log("s2sd is not running")
        time.sleep(1.5)  # backoff turns go by: still one line
        assert agent.log().count("s2sd is not running") == 1, agent.log()

        receiver.daemon.start()
        agent.wait_log("following s2sd")
        inbox = mkdir("in", owner=user_b)
        outbox = mkdir("out", owner=user_a)
        dest = new_endpoint(receiver, inbox, user_b)
        r = sender.ctl("send", str(random_file(outbox / "first.txt", 10, owner=user_a)), dest, user=user_a)
        assert r.rc == 0, r
        desktop.wait_shown(lambda e: ours(e) and e["BODY"].startswith("first.txt"), what="the first file")

        receiver.daemon.restart()
        wait(lambda: agent.log().count("following s2sd") >= 2, what="the agent to follow the new daemon")
        r = sender.ctl("send", str(random_file(outbox / "second.txt", 10, owner=user_a)), dest, user=user_a)
        assert r.rc == 0, r
        desktop.wait_shown(lambda e: ours(e) and e["BODY"].startswith("second.txt"), what="the second file")

        assert agent.stop(signal.SIGTERM) == 0, agent.log()
        assert "stopped" in agent.log()
    finally:
        bus.close()
        sender_bus.close()


def test_the_daemons_bus_going_away_and_coming_back(pair, desktop_factory, mkdir, user_a, user_b):
    """The bus the daemon is on stops (and the daemon with it); both come back at the same
    address: the agent reconnects on its own and shows the next arrival."""
    receiver, sender = pair
    desktop, agent = desktop_factory.following(receiver.bus, user_b)
    receiver.daemon.stop()
    receiver.bus.proc.kill()
    receiver.bus.proc.wait(timeout=10)
    agent.wait_log("lost the connection")
    assert agent.alive()
    receiver.bus.socket.unlink(missing_ok=True)
    receiver.bus.proc = subprocess.Popen(
        ["dbus-daemon", f"--config-file={receiver.bus.config}", "--nofork", "--nopidfile", "--nosyslog"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=base_env(DBUS_SYSTEM_BUS_ADDRESS=receiver.bus.address), start_new_session=True)
    wait(lambda: receiver.bus.socket.exists(), timeout=15, what="the bus to come back")
    receiver.bus._admin = None
    receiver.daemon.start()
    wait(lambda: agent.log().count("following s2sd") >= 2, timeout=90, what="the agent to follow the daemon again")
    inbox = mkdir("in", owner=user_b)
    dest = new_endpoint(receiver, inbox, user_b)
    r = sender.ctl("send", str(random_file(mkdir("out", owner=user_a) / "back.txt", 10, owner=user_a)), dest, user=user_a)
    assert r.rc == 0, r
    desktop.wait_shown(lambda e: ours(e) and e["BODY"].startswith("back.txt"), what="the arrival after the restart")


def test_the_session_ending_ends_the_agent_cleanly(desktop_factory, daemon, bus, user_b):
    """The session bus goes away: the agent exits with status 0. A second agent in the same
    session exits at once, also with 0."""
    desktop = desktop_factory(user_b)
    agent = desktop_factory.agent(desktop, bus, user_b)
    agent.wait_log("following s2sd")
    second = desktop_factory.agent(desktop, bus, user_b)
    assert second.proc.wait(timeout=30) == 0
    assert "another s2s-notify already runs" in second.log()
    desktop.stop_bus()
    assert agent.proc.wait(timeout=30) == 0, agent.log()
    assert "the session bus closed" in agent.log()


class FileManager:
    """A file manager's D-Bus face on the session bus (org.freedesktop.FileManager1): records
    what it is asked to show, as Nautilus or Dolphin would be."""

    def __init__(self, desktop: Desktop):
        import threading

        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.calls: list = []
        self.conn = open_dbus_connection(desktop.address)
        self.conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.FileManager1"), timeout=10)
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        from jeepney import HeaderFields, MessageType, new_method_return
        while not self.stopped:
            try:
                msg = self.conn.receive(timeout=0.2)
            except (TimeoutError, OSError):
                continue
            if msg.header.message_type == MessageType.method_call:
                self.calls.append((msg.header.fields.get(HeaderFields.member), msg.body))
                self.conn.send(new_method_return(msg))

    def close(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.conn.close()


def test_open_folder_asks_the_file_manager_to_show_what_arrived(pair, desktop_factory, mkdir, user_a, user_b):
    """With a file manager on the session bus, "Open folder" (here the default action, a click)
    is ShowItems with the arrived file selected."""
    receiver, sender = pair
    desktop = desktop_factory(user_b)
    desktop.start_dunst()
    files = FileManager(desktop)
    try:
        agent = desktop_factory.agent(desktop, receiver.bus, user_b)
        agent.wait_log("following s2sd")
        inbox = mkdir("Downloads", owner=user_b)
        dest = new_endpoint(receiver, inbox, user_b)
        r = sender.ctl("send", str(random_file(mkdir("out", owner=user_a) / "slides.odp", 5000, owner=user_a)), dest,
                       user=user_a)
        assert r.rc == 0, r
        desktop.wait_shown(lambda e: ours(e) and e["SUMMARY"] == "File received", what="the arrival")
        assert desktop.dunstctl("action", "0").rc == 0
        wait(lambda: files.calls, timeout=30, what="a call to the file manager")
    finally:
        files.close()
    assert files.calls[0] == ("ShowItems", ([f"file://{inbox}/slides.odp"], "")), files.calls
    agent.wait_log("asked the file manager to show")


def test_the_agent_never_starts_the_daemon(scratch, tmp_path, desktop_factory, ctl, user_b):
    """s2sd activatable on its bus: the agent waits for it without starting it; once something
    else starts it, the agent follows it; with the agent gone, the daemon exits when idle."""
    from s2sit import NAME
    services = make_dir(scratch / "services")
    state = make_dir(tmp_path / "state", mode=0o700)
    activated = tmp_path / "activated"
    bus = Bus(scratch, servicedir=services)
    try:
        wrapper = scratch / "s2sd-activated"
        wrapper.write_text(f"#!/bin/sh\necho $$ >>{activated}\nexec {BIN_DIR / 's2sd'} --system --state-dir {state} "
                           f"--idle-timeout 2s 2>>{tmp_path / 's2sd.log'}\n")
        wrapper.chmod(0o755)
        (services / f"{NAME}.service").write_text(f"[D-BUS Service]\nName={NAME}\nExec={wrapper}\nUser=root\n")
        desktop = desktop_factory(user_b)
        agent = desktop_factory.agent(desktop, bus, user_b)
        agent.wait_log("s2sd is not running")
        assert not activated.exists() and bus.name_owner() is None, "the agent started the daemon"

        r = run([BIN_DIR / "s2sctl", "status"], env=base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address))
        assert r.rc == 0, r  # activates it
        agent.wait_log("following s2sd")
        assert agent.stop() == 0
        wait(lambda: bus.name_owner() is None, timeout=30, what="the idle daemon to exit once the agent is gone")
        assert len(activated.read_text().split()) == 1
    finally:
        owner_pid = None
        if bus.name_owner():
            owner_pid = bus.admin.bus_call("GetConnectionUnixProcessID", "s", (NAME,))[0]
        if owner_pid:
            os.kill(owner_pid, signal.SIGTERM)
        bus.close()
