"""What s2sctl says, and its exit status, in each case of issue 15's "Messages" and
"Conventions": one sentence per fault, said once, with what to do; sysexits(3) statuses."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest

from conftest import S2SCTL, Bus, as_user_argv, base_env, free_port, run
from s2sit import CHARSET, ID_RE, number_of, random_valid_id
from test_transfer import Side, new_endpoint, pair, random_file, wait_for  # noqa: F401 (pair: a fixture)

EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM = 64, 65, 66, 69, 75, 77
INTERRUPTED = 130


def read_stderr_until(proc: subprocess.Popen, pattern: str, timeout=60) -> str:
    """Reads PROC's standard error until PATTERN matches what was read; returns all of it."""
    text = ""
    deadline = time.monotonic() + timeout
    fd = proc.stderr.fileno()
    while not re.search(pattern, text):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"timed out waiting for {pattern!r} on stderr: {text!r}")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise AssertionError(f"stderr ended before {pattern!r}: {text!r}")
        text += chunk.decode()
    return text


def finish(proc: subprocess.Popen, already: str = "", timeout=60) -> tuple[int, str, str]:
    """Waits for PROC; returns its status, stdout and the whole of its stderr."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, already + err


def popen(side: Side, *args, user=None) -> subprocess.Popen:
    """s2sctl with pipes that are read raw (read_stderr_until reads the fd itself)."""
    return subprocess.Popen(as_user_argv(user, [S2SCTL, *args]), env=side.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, bufsize=0)


def run_with_terminal_stderr(argv, *, user=None, env=None, timeout=30) -> tuple[int, str, str]:
    """Runs ARGV with standard error on a pseudo-terminal and standard output on a pipe."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(as_user_argv(user, argv), env=env, stdout=subprocess.PIPE, stderr=slave,
                                stdin=subprocess.DEVNULL, text=True)
        os.close(slave)
        slave = -1
        err = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:  # EIO: the terminal's last writer closed it
                    break
                if not chunk:
                    break
                err += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read()
        proc.wait(timeout=timeout)
        return proc.returncode, out, err.decode().replace("\r\n", "\n")
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


# -- 3, 11: no bus, no daemon ------------------------------------------------------------------

def test_no_system_bus_says_what_to_do_once(scratch):
    env = base_env(DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={scratch}/no-such-socket")
    for args in (("status",), ("endpoint", "list"), ("transfers",)):
        r = run([S2SCTL, *args], env=env, cwd=scratch)
        assert r.rc == EX_UNAVAILABLE, r
        assert r.err.startswith("s2sctl: cannot reach the system bus (Failed to connect to socket "), r
        assert r.err.count("system bus") == 1 and "disconnected" not in r.err, r
        assert '"systemctl start dbus"' in r.err and "s2sctl --user" in r.err, r
        assert r.err.count("\n") == 1 and r.out == "", r


def test_no_session_bus(scratch):
    env = base_env(DBUS_SESSION_BUS_ADDRESS=f"unix:path={scratch}/no-session", XDG_RUNTIME_DIR=str(scratch))
    r = run([S2SCTL, "--user", "status"], env=env, cwd=scratch)
    assert r.rc == EX_UNAVAILABLE, r
    assert r.err.startswith("s2sctl: cannot reach your session bus (") and "DBUS_SESSION_BUS_ADDRESS" in r.err, r


def test_daemon_not_running_is_ex_unavailable(bus, ctl, mkdir):
    for args in (("status",), ("endpoint", "new", str(mkdir("inbox"))), ("cancel", "1"), ("limits",)):
        r = ctl(*args)
        assert r.rc == EX_UNAVAILABLE, r
        assert r.err == ('s2sctl: s2sd is not running on the system bus. Start it with "systemctl enable --now '
                         's2sd.socket" (as root), or run "s2sd --system".\n'), r


# -- 4: endpoint new tells how senders reach the endpoint, on a terminal only ------------------

def test_endpoint_new_advice_with_an_external_address(scratch, daemon_factory, mkdir, user_b):
    bus = Bus(scratch)
    try:
        daemon_factory(target_bus=bus, args=["--external-address", "files.example.org"])
        env = base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        rc, out, err = run_with_terminal_stderr([S2SCTL, "endpoint", "new", mkdir("in", owner=user_b)], user=user_b,
                                                env=env)
        assert rc == 0, (out, err)
        eid = out.strip()
        assert ID_RE.match(eid) and out == eid + "\n", out
        assert f"Senders on the direct route: s2sctl send FILE {eid}@files.example.org:7730\n" in err, err
        assert "The ID alone works only through a relay, and s2sd has none (Relay= in s2sd.conf).\n" in err, err
        # Not a terminal: the ID alone, nothing on stderr.
        r = run([S2SCTL, "endpoint", "new", mkdir("in2", owner=user_b)], user=user_b, env=env)
        assert r.rc == 0 and ID_RE.match(r.out.strip()) and r.err == "", r
    finally:
        bus.close()


def test_endpoint_new_advice_with_a_listener_only(pair, mkdir, user_b):
    receiver, _ = pair
    rc, out, err = run_with_terminal_stderr([S2SCTL, "endpoint", "new", mkdir("in", owner=user_b)], user=user_b,
                                            env=receiver.env())
    assert rc == 0, (out, err)
    eid = out.strip()
    assert (f"Senders on the direct route: s2sctl send FILE {eid}@HOST:{receiver.port}, with HOST this machine's "
            "address as they reach it") in err, err
    assert "The ID alone works only through a relay" in err, err


# -- 5: an unknown endpoint ID -----------------------------------------------------------------

def test_unknown_endpoint_is_one_sentence(pair, mkdir, user_a):
    receiver, sender = pair
    source = random_file(mkdir("out", owner=user_a) / "f", 10, owner=user_a)
    r = sender.ctl("send", str(source), f"{random_valid_id()}@127.0.0.1:{receiver.port}", user=user_a)
    assert r.rc == 1, r
    # The attempts before it say they will retry (one line each); the verdict is one sentence, once.
    verdict = "s2sctl: transfer failed: the receiver has no endpoint with this ID (mistyped, or deleted)"
    lines = r.err.splitlines()
    assert lines[-1] == verdict and r.err.count("no endpoint with this ID") == 1, r
    assert all(line.startswith("s2sctl: attempt ") for line in lines[:-1]), r


# -- 6, 7, 11: retry times, Ctrl-C, EX_TEMPFAIL ------------------------------------------------

def test_retry_time_is_relative_and_local_then_ctrl_c(pair, mkdir, user_a):
    _, sender = pair
    source = random_file(mkdir("out", owner=user_a) / "f", 10, owner=user_a)
    nobody = f"{random_valid_id()}@127.0.0.1:{free_port()}"  # nothing listens there
    proc = popen(sender, "send", str(source), nobody, "--retry-for", "1h", user=user_a)
    try:
        err = read_stderr_until(proc, r"retrying .*Ctrl-C cancels\n")
        assert re.search(r"s2sctl: attempt 1 failed: .+; retrying in \d+ s \(at \d\d:\d\d:\d\d\); Ctrl-C cancels\n",
                         err), err
        assert "Z)" not in err and "T0" not in err, f"no raw UTC stamps: {err!r}"
        listed = sender.ctl("transfers", user=user_a)
        assert re.search(r"retry (in \d+ s \(at \d\d:\d\d:\d\d\)|now) after ", listed.out), listed
        proc.send_signal(signal.SIGINT)
        rc, out, err = finish(proc, err)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == INTERRUPTED, err
    assert err.endswith("s2sctl: transfer cancelled\n") and err.count("cancel") == 2, err  # "Ctrl-C cancels" once


def interrupt_a_receiving_send(receiver, sender, inbox, user_a, user_b) -> tuple[int, str, str]:
    """Sends big.bin slowly, presses Ctrl-C once the receiver receives; returns s2sctl's status,
    stdout and stderr."""
    source = random_file(inbox.parent / "big.bin", 64 << 20, owner=user_a)
    proc = popen(sender, "send", str(source), new_endpoint(receiver, inbox, user_b), "--rate", "2M", user=user_a)
    try:
        wait_for(lambda: [t for t in receiver.transfers(user_b) if t["state"] == "receiving"], what="receiving")
        proc.send_signal(signal.SIGINT)
        return finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ctrl_c_during_a_transfer(pair, mkdir, user_a, user_b):
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    rc, out, err = interrupt_a_receiving_send(receiver, sender, inbox, user_a, user_b)
    assert rc == INTERRUPTED, err
    assert err == "s2sctl: transfer cancelled\n", err
    row = wait_for(lambda: [l for l in receiver.ctl("transfers", user=user_b).out.splitlines() if "cancelled " in l],
                   what="the cancelled transfer on the receiver")[0]
    # 8: the file name and the endpoint's directory, not an object path.
    assert f"big.bin into {inbox}" in row and "/org/s2s" not in row, row


def test_receiver_says_cancelled_by_the_sender_once(pair, mkdir, user_a, user_b):
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    interrupt_a_receiving_send(receiver, sender, inbox, user_a, user_b)
    row = wait_for(lambda: [l for l in receiver.ctl("transfers", user=user_b).out.splitlines() if "cancelled " in l],
                   what="the cancelled transfer")[0]
    assert row.endswith(f"big.bin into {inbox}: cancelled by the sender"), row


def test_daemon_stopping_during_a_send_is_ex_tempfail(pair, mkdir, user_a, user_b):
    receiver, sender = pair
    source = random_file(mkdir("out", owner=user_a) / "big.bin", 64 << 20, owner=user_a)
    proc = popen(sender, "send", str(source), new_endpoint(receiver, mkdir("in", owner=user_b), user_b),
                 "--rate", "2M", user=user_a)
    try:
        wait_for(lambda: [t for t in sender.transfers(user_a) if t["state"] == "sending"], what="sending")
        sender.daemon.stop()
        rc, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == EX_TEMPFAIL, err
    assert err == ("s2sctl: s2sd stopped during the transfer; it stays queued and carries on when s2sd starts again "
                   "(s2sctl transfers)\n"), err


# -- 8: cancel 999 -----------------------------------------------------------------------------

def test_cancel_an_unknown_transfer(ctl, daemon):
    for command in ("cancel", "pause", "resume"):
        r = ctl(command, "999")
        assert r.rc == 1 and r.err == "s2sctl: no transfer 999\n", r
    r = ctl("set-rate", "999", "1M")
    assert r.rc == 1 and r.err == "s2sctl: no transfer 999\n", r


# -- 9: status ---------------------------------------------------------------------------------

def test_status_aligns_its_labels_and_shows_queue_transfers_relays(ctl, daemon):
    r = ctl("status")
    assert r.rc == 0, r
    first, *details = r.out.splitlines()
    assert first.startswith("s2sd ") and "running on the system bus" in first, r
    colons = {line.index(": ") for line in details}
    assert len(colons) == 1, f"labels aligned on their colons: {r}"
    labels = [line.split(":")[0].strip() for line in details]
    assert labels == ["Since", "Endpoints", "Transfers", "Send queue", "Relays", "Peer sockets", "Idle exit"], r
    text = dict(line.strip().split(": ", 1) for line in details)
    assert text["Transfers"] == "none running" and text["Send queue"] == "0 waiting, 0 active", r
    assert text["Relays"] == "no endpoint waits at a relay", r
    status = ctl("status", "--json").json()
    assert status["queuedSends"] == 0 and status["activeSends"] == 0 and status["runningTransfers"] == 0, status


# -- 10: watch, JSON ---------------------------------------------------------------------------

def test_watch_shows_percent_and_eta_and_json_names_agree(pair, mkdir, user_a, user_b):
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    dest = new_endpoint(receiver, inbox, user_b)
    text_watch = popen(receiver, "watch", user=user_b)
    json_watch = popen(receiver, "watch", "--json", user=user_b)
    try:
        time.sleep(1)  # both subscribed
        source = random_file(mkdir("out", owner=user_a) / "f.bin", 12 << 20, owner=user_a)
        r = sender.ctl("send", str(source), dest, "--rate", "4M", user=user_a)
        assert r.rc == 0, r
        time.sleep(1)
    finally:
        for proc in (text_watch, json_watch):
            proc.terminate()
    text, _ = text_watch.communicate(timeout=10)
    lines, _ = json_watch.communicate(timeout=10)
    progress = [l for l in text.splitlines() if " receiving: " in l]
    assert progress and all(re.search(r"receiving: \d+% ", l) for l in progress), text
    assert any(re.search(r", ETA \d+:\d\d$", l) for l in progress), text
    assert f"added: receive f.bin into {inbox}" in text, text
    import json
    added = [json.loads(l) for l in lines.splitlines() if '"added"' in l]
    assert added and added[0]["transfer"]["digestAlgorithm"] == "xxh3-128", lines
    listed = receiver.transfers(user_b)
    assert listed and all(t["digestAlgorithm"] == "xxh3-128" for t in listed), listed


def test_empty_json_lists_print_brackets(ctl, daemon):
    for args in (("transfers", "--json"), ("endpoint", "list", "--json"), ("transfers", "--all", "--json")):
        r = ctl(*args)
        assert r.rc == 0 and r.out == "[]\n", r


# -- 11: exit statuses -------------------------------------------------------------------------

def test_exit_statuses_of_the_command_line(ctl, daemon, scratch, mkdir):
    source = scratch / "f"
    source.write_text("x")
    good = random_valid_id()
    mistyped = good[:20] + next(c for c in CHARSET if c != good[20]) + good[21:]
    cases = [
        (("frobnicate",), EX_USAGE),
        (("send", str(source)), EX_USAGE),
        (("limits", "Bogus=1"), EX_USAGE),
        (("endpoint", "show", "s2s1qqq"), EX_DATAERR),
        (("endpoint", "rm", mistyped), EX_DATAERR),
        (("send", str(source), f"{mistyped}@127.0.0.1:7730"), EX_DATAERR),
        (("send", str(scratch / "missing"), f"{good}@127.0.0.1:7730"), EX_NOINPUT),
        (("endpoint", "new", str(scratch / "missing-dir")), EX_NOINPUT),
        (("endpoint", "show", good), 1),
    ]
    failures = []
    for args, status in cases:
        r = ctl(*args, cwd=scratch)
        if r.rc != status or not r.err.strip():
            failures.append(f"want {status}: {r}")
        if status != EX_USAGE and not r.err.startswith("s2sctl: "):
            failures.append(f"want one s2sctl: line: {r}")
    assert not failures, "\n".join(failures)


def test_exit_statuses_are_in_the_help(bus):
    r = run([S2SCTL, "--help"], env=base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address))
    assert r.rc == 0, r
    text = " ".join(r.out.split())
    for fragment in ("64 the command line is wrong (EX_USAGE)", "65 an endpoint ID", "66 a file or directory",
                     "69 s2sd is not running", "75 send stopped waiting", "77 you may not do this", "130 interrupted"):
        assert fragment in text, (fragment, r.out)


def test_permission_denied_is_ex_noperm(ctl, daemon, user_a):
    r = ctl("limits", "MaxUploadRate=1M", user=user_a)
    assert r.rc == EX_NOPERM and r.err.startswith("s2sctl: "), r


# -- 13: completions ask the daemon ------------------------------------------------------------

def complete(ctl, *path, user=None, bus_flag=()):
    """What the completion scripts get from s2sctl for the first argument of the subcommand PATH
    (as bash asks: ---completion PATH -- KEY WORD-INDEX CURSOR WORDS...)."""
    words = ["s2sctl", *bus_flag, *path, ""]
    r = ctl("---completion", *path, "--", "positional@0", str(len(words) - 1), "0", *words, user=user)
    assert r.rc == 0, r
    return r.out.split()


def test_completions_ask_the_daemon(ctl, daemon, mkdir, user_a):
    eid = ctl("endpoint", "new", str(mkdir("in"))).out.strip()
    assert complete(ctl, "endpoint", "show") == [eid]
    assert complete(ctl, "endpoint", "rm") == [eid]
    assert complete(ctl, "endpoint", "show", user=user_a) == [], "only the caller's endpoints"
    # A transfer that waits (nothing listens at the address) has a number to complete.
    source = mkdir("out") / "f"
    source.write_text("x")
    r = ctl("send", str(source), f"{random_valid_id()}@127.0.0.1:{free_port()}", "--no-wait")
    assert r.rc == 0, r
    number = str(number_of(r.out.strip()))
    for command in ("cancel", "pause", "resume", "set-rate"):
        assert complete(ctl, command) == [number], command


def test_completions_without_a_daemon_are_quiet(ctl, bus, scratch):
    """No daemon, no bus for --user: nothing completed, nothing printed, nothing started."""
    env = base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address, DBUS_SESSION_BUS_ADDRESS=f"unix:path={scratch}/none")
    for flag in ((), ("--user",)):
        words = ["s2sctl", *flag, "cancel", ""]
        r = run([S2SCTL, "---completion", "cancel", "--", "positional@0", str(len(words) - 1), "0", *words], env=env)
        assert r.rc == 0 and r.out.strip() == "" and r.err == "", r
    assert bus.name_owner() is None


def test_completion_scripts_list_checksums_and_limit_keys(bus):
    env = base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address)
    for shell in ("bash", "zsh", "fish"):
        script = run([S2SCTL, "--generate-completion-script", shell], env=env).out
        assert "xxh3-128" in script and "sha256" in script, shell
        assert "MaxUploadRate=" in script and "FreeSpaceReserve=" in script, shell
