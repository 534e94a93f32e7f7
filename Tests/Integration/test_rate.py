# Bandwidth limits (per transfer and daemon-wide, upload and download, changed while transfers
# run) and move mode (send --remove-source), between two real daemons over loopback.
#
# Rates are judged by the bytes the sender's daemon reports over time, sampled by the test: only
# the upper bound is asserted (a slow machine may run below a limit, never above it).

from __future__ import annotations

import os
import time

from conftest import run
from s2sit import number_of, transfer_path
from test_transfer import new_endpoint, pair, random_file, sha256, visible, wait_for  # noqa: F401 (pair: a fixture)

MIB = 1 << 20


def transfer(side, number, user):
    return next(t for t in side.ctl("transfers", "--json", user=user).json() if t["number"] == number)


def send_no_wait(sender, user, *args) -> int:
    r = sender.ctl("send", "--no-wait", *args, user=user)
    assert r.rc == 0, r
    return number_of(r.out.strip())


def sample_until_done(side, number, user, timeout=300):
    """[(monotonic time, BytesDone)] every 0.25 s until the transfer ends; its final state."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = transfer(side, number, user)
        samples.append((time.monotonic(), t["bytesDone"]))
        if t["state"] in ("done", "failed", "cancelled"):
            return samples, t
        time.sleep(0.25)
    raise AssertionError(f"transfer {number} did not end within {timeout} s")


def steady_rate(samples, skip_seconds=1.0):
    """Bytes per second after the first second (the bucket's initial credit and the connection's
    buffers may run ahead at the start), up to the last sample that still saw bytes move."""
    start = samples[0][0] + skip_seconds
    moving = [s for s in samples if s[0] >= start]
    last = max((s for s in moving), key=lambda s: s[1])
    first = moving[0]
    assert last[0] - first[0] >= 2, f"too few samples to judge a rate: {samples}"
    return (last[1] - first[1]) / (last[0] - first[0])


def test_a_10_mib_per_second_limit_holds_over_100_mib(pair, mkdir, user_a, user_b):
    """send --rate 10M: the sender's bytes over time stay within 10% above 10 MiB/s, the file
    arrives whole, and the transfer shows its limit."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 100 * MIB, owner=user_a)
    number = send_no_wait(sender, user_a, "--rate", "10M", str(source), new_endpoint(receiver, inbox, user_b))
    assert transfer(sender, number, user_a)["rateLimit"] == 10 * MIB
    started = time.monotonic()
    samples, final = sample_until_done(sender, number, user_a)
    elapsed = time.monotonic() - started
    assert final["state"] == "done", final
    rate = steady_rate(samples)
    print(f"steady rate {rate / MIB:.2f} MiB/s, whole transfer {100 / elapsed:.2f} MiB/s over {elapsed:.1f} s")
    assert rate <= 10 * MIB * 1.10, rate / MIB
    # The whole transfer too: 100 MiB at 10 MiB/s take 10 s, less at most the first second's credit.
    assert elapsed >= 100 / 11, elapsed
    assert sha256(inbox / "f.bin") == sha256(source)


def test_a_limit_changed_while_the_transfer_runs(pair, mkdir, user_a, user_b):
    """set-rate while running: down from unlimited-ish to 2 MiB/s, then off; each takes effect."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 48 * MIB, owner=user_a)
    number = send_no_wait(sender, user_a, "--rate", "4M", str(source), new_endpoint(receiver, inbox, user_b))
    wait_for(lambda: transfer(sender, number, user_a)["bytesDone"] > 0, timeout=30, what="bytes to flow")
    r = sender.ctl("set-rate", str(number), "2M", user=user_a)
    assert r.rc == 0, r
    assert transfer(sender, number, user_a)["rateLimit"] == 2 * MIB
    time.sleep(1)  # the new limit applies within a quarter second; let the old credit drain
    samples = []
    for _ in range(13):
        samples.append((time.monotonic(), transfer(sender, number, user_a)["bytesDone"]))
        time.sleep(0.25)
    slow = steady_rate(samples, skip_seconds=0)
    assert slow <= 2 * MIB * 1.10, slow / MIB
    r = sender.ctl("set-rate", str(number), "unlimited", user=user_a)
    assert r.rc == 0, r
    samples, final = sample_until_done(sender, number, user_a, timeout=120)
    assert final["state"] == "done" and final["rateLimit"] == 0, final
    assert sha256(inbox / "f.bin") == sha256(source)


def test_the_daemon_wide_upload_limit_is_shared(pair, mkdir, user_a, user_b):
    """MaxUploadRate=6M with two transfers at once: together they stay under 6 MiB/s; the
    limit is shown and kept for the daemon's next start (limits.conf)."""
    receiver, sender = pair
    r = sender.ctl("limits", "MaxUploadRate=6M")
    assert r.rc == 0, r
    assert "MaxUploadRate: 6 MiB/s" in r.out, r
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    numbers = [send_no_wait(sender, user_a, str(random_file(outbox / f"f{i}.bin", 24 * MIB, owner=user_a)), dest)
               for i in range(2)]
    samples = []
    while True:
        ts = [transfer(sender, n, user_a) for n in numbers]
        samples.append((time.monotonic(), sum(t["bytesDone"] for t in ts)))
        if all(t["state"] in ("done", "failed", "cancelled") for t in ts):
            break
        time.sleep(0.25)
    assert all(t["state"] == "done" for t in ts), ts
    together = steady_rate(samples)
    print(f"two transfers together: {together / MIB:.2f} MiB/s")
    assert together <= 6 * MIB * 1.10, together / MIB
    assert sender.ctl("limits", "--json").json()["MaxUploadRate"] == 6 * MIB
    r = sender.ctl("limits", "MaxUploadRate=0")
    assert r.rc == 0 and "MaxUploadRate: unlimited" in r.out, r


def test_the_receivers_download_limit_slows_the_sender(pair, mkdir, user_a, user_b):
    """MaxDownloadRate on the receiving daemon: the receiver reads no faster, so the sender's
    bytes (and its window) follow it; the file arrives whole."""
    receiver, sender = pair
    r = receiver.ctl("limits", "MaxDownloadRate=4M")
    assert r.rc == 0, r
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 32 * MIB, owner=user_a)
    number = send_no_wait(sender, user_a, str(source), new_endpoint(receiver, inbox, user_b))
    samples, final = sample_until_done(sender, number, user_a)
    assert final["state"] == "done", final
    rate = steady_rate(samples, skip_seconds=2)  # socket buffers fill first
    print(f"sender's bytes under the receiver's limit: {rate / MIB:.2f} MiB/s")
    # Within 25 %, not the 10 % of a sender's own limit: what the sender counts runs ahead of the
    # receiver's reads by the socket buffers, which the kernel may still be growing after the
    # first seconds (4.51 MiB/s in one run on a loaded 2-core machine). Unlimited, it would be a
    # hundred times the limit.
    assert rate <= 4 * MIB * 1.25, rate / MIB
    assert sha256(inbox / "f.bin") == sha256(source)


def test_bad_rates_and_limits_are_clear_errors(pair, mkdir, user_a, user_b):
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    source = random_file(mkdir("out", owner=user_a) / "f.bin", 4096, owner=user_a)
    dest = new_endpoint(receiver, inbox, user_b)
    for bad in ("fast", "-5M", "10Q", "1e9", "99999999999999999999"):
        r = sender.ctl("send", "--rate", bad, str(source), dest, user=user_a)
        assert r.rc == 64 and "--rate" in r.err, (bad, r)
    for args, message in ((["limits", "Bogus=1"], "unknown limit"), (["limits", "MaxUploadRate"], "KEY=VALUE"),
                          (["limits", "MaxUploadRate=fast"], "MaxUploadRate"),
                          (["limits", "MaxUploadRate=1M", "maxuploadrate=2M"], "twice")):
        r = sender.ctl(*args)
        assert r.rc == 64 and message in r.err, (args, r)
    r = sender.ctl("limits", "MaxUploadRate=1M", user=user_a)  # not an administrator
    assert r.rc == 77 and "only an administrator" in r.err, r  # EX_NOPERM
    assert sender.ctl("limits", "--json").json()["MaxUploadRate"] == 0
    r = sender.ctl("set-rate", "999999", "1M", user=user_a)
    assert r.rc != 0, r
    r = sender.ctl("set-rate", "abc", "1M", user=user_a)
    assert r.rc == 64, r
    # Through a D-Bus client we did not write: a wrong type, a finished transfer, another user's.
    number = send_no_wait(sender, user_a, str(source), dest)
    wait_for(lambda: transfer(sender, number, user_a)["state"] == "done", timeout=60, what="the send")
    path = transfer_path(user_a.uid, number)
    r = run(["busctl", "--no-pager", f"--address={sender.bus.address}", "call", "org.s2s.Daemon1", path,
             "org.s2s.Daemon1.Transfer", "SetRateLimit", "s", "fast"], env=sender.env())
    assert r.rc == 1 and "takes arguments (t), not (s)" in r.err, r
    r = sender.ctl("set-rate", str(number), "1M", user=user_a)
    assert r.rc != 0 and "ended" in r.err, r
    r = sender.ctl("set-rate", str(number), "1M", user=user_b)
    assert r.rc != 0, r


def test_remove_source_moves_a_tree(pair, mkdir, user_a, user_b):
    """--remove-source: every file arrives and is gone from the source only afterwards;
    directories stay, emptied of what was sent."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    top = outbox / "season"
    (top / "extras").mkdir(parents=True)
    hashes = {}
    for name in ("e01.mkv", "e02.mkv", "extras/notes.txt"):
        path = random_file(top / name, (3 * MIB) if name.endswith(".mkv") else 1000, owner=user_a)
        hashes[name] = sha256(path)
    for d in (top, top / "extras"):
        os.chown(d, user_a.uid, user_a.gid)
    r = sender.ctl("send", "--remove-source", str(top), new_endpoint(receiver, inbox, user_b), user=user_a)
    assert r.rc == 0, r
    for name, digest in hashes.items():
        assert sha256(inbox / "season" / name) == digest
        assert not (top / name).exists(), name
    assert top.is_dir() and (top / "extras").is_dir()
    t = sender.ctl("transfers", "--json", user=user_a).json()[-1]
    assert t["removeSource"] is True and t["keptSources"] == [], t


def test_remove_source_keeps_a_file_that_changed(pair, mkdir, user_a, user_b):
    """A source appended to while it is being sent is not confirmed, so it stays, with what
    was appended; the other file of the same send is moved."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    small = random_file(outbox / "a-small.bin", 1000, owner=user_a)
    growing = random_file(outbox / "b-growing.bin", 8 * MIB, owner=user_a)
    number = send_no_wait(sender, user_a, "--remove-source", "--rate", "2M", str(small), str(growing),
                          new_endpoint(receiver, inbox, user_b))
    wait_for(lambda: transfer(sender, number, user_a)["currentFile"] == "b-growing.bin", timeout=30,
             what="the second file to be sent")
    with open(growing, "ab") as f:
        f.write(b"appended while being sent")
    sender.ctl("set-rate", str(number), "0", user=user_a)
    _, final = sample_until_done(sender, number, user_a)
    assert final["state"] == "failed" and "changed" in final["error"], final
    assert not small.exists()
    assert (inbox / "a-small.bin").exists()
    assert growing.exists() and growing.read_bytes().endswith(b"appended while being sent")
    assert "b-growing.bin" not in visible(inbox)


def move_a_followed_symlink(pair, mkdir, user_a, user_b):
    """Sends outbox/link.bin -> target.bin with --remove-source --follow-symlinks; returns
    (inbox, outbox, link, target, s2sctl's result)."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    target = random_file(outbox / "target.bin", 4096, owner=user_a)
    link = outbox / "link.bin"
    link.symlink_to(target)
    os.lchown(link, user_a.uid, user_a.gid)
    r = sender.ctl("send", "--remove-source", "--follow-symlinks", str(link), new_endpoint(receiver, inbox, user_b),
                   user=user_a)
    assert r.rc == 0, r
    return inbox, outbox, link, target, r


def test_remove_source_keeps_what_a_symlink_points_to(pair, mkdir, user_a, user_b):
    """--follow-symlinks --remove-source: the link is what was named, not the file that was
    read, so both stay and the transfer lists the kept source."""
    sender = pair[1]
    inbox, _, link, target, r = move_a_followed_symlink(pair, mkdir, user_a, user_b)
    assert "kept" in r.err and "link.bin" in r.err, r
    assert link.is_symlink() and target.exists()
    assert sha256(inbox / "link.bin") == sha256(target)
    t = sender.ctl("transfers", "--json", user=user_a).json()[-1]
    assert len(t["keptSources"]) == 1 and t["keptSources"][0].startswith(str(link)), t


def test_a_changed_limit_and_kept_sources_outlive_a_restart(pair, mkdir, user_a, user_b):
    """What SetRateLimit and move mode change while a send runs is stored with it: a send
    restored after kill -9 runs at the limit it last had, and the history still lists what
    move mode kept."""
    receiver, sender = pair
    inbox, outbox, _, _, _ = move_a_followed_symlink(pair, mkdir, user_a, user_b)
    moved = sender.ctl("transfers", "--json", user=user_a).json()[-1]
    assert len(moved["keptSources"]) == 1, moved

    big = random_file(outbox / "big.bin", 12 * MIB, owner=user_a)
    number = send_no_wait(sender, user_a, "--rate", "1M", str(big), new_endpoint(receiver, inbox, user_b))
    wait_for(lambda: transfer(sender, number, user_a)["bytesDone"] > 0, timeout=30, what="the send to start")
    r = sender.ctl("set-rate", str(number), "3M", user=user_a)
    assert r.rc == 0, r
    changed = transfer(sender, number, user_a)["rateLimit"]
    assert changed in (3 * MIB, 3_000_000), changed
    sender.daemon.kill9()
    sender.daemon.start()

    restored = transfer(sender, number, user_a)
    assert restored["rateLimit"] == changed and restored["state"] != "done", restored
    samples, final = sample_until_done(sender, number, user_a)
    assert final["state"] == "done", final
    assert sha256(inbox / "big.bin") == sha256(big)
    if len(samples) > 12:  # only the upper bound: a slow machine may run below the limit
        assert steady_rate(samples) <= changed * 1.1, samples
    for listing in (sender.ctl("transfers", "--json", user=user_a).json(),
                    sender.ctl("transfers", "--all", "--json", user=user_a).json()):
        kept = next(t for t in listing if t["number"] == moved["number"])
        assert kept["keptSources"] == moved["keptSources"], kept


def test_a_source_left_by_an_attempt_that_died_is_moved_by_the_next(pair, mkdir, user_a, user_b):
    """Move mode: a file the receiver confirmed but the sender could not remove (here: its
    folder was read-only), then the sending daemon killed; the attempt after the restart finds
    the file unchanged since it was first offered, removes it and lists nothing as kept."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    outbox = mkdir("out", owner=user_a)
    small = random_file(outbox / "a-small.bin", 1000, owner=user_a)
    big = random_file(outbox / "b-big.bin", 6 * MIB, owner=user_a)
    digests = {p.name: sha256(p) for p in (small, big)}
    os.chmod(outbox, 0o555)
    number = send_no_wait(sender, user_a, "--remove-source", "--rate", "1M", str(small), str(big),
                          new_endpoint(receiver, inbox, user_b))
    wait_for(lambda: any(k.startswith(str(small)) for k in transfer(sender, number, user_a)["keptSources"]),
             timeout=30, what="the first file to be kept")
    t = transfer(sender, number, user_a)
    assert t["state"] == "sending" and t["currentFile"] == "b-big.bin", t
    os.chmod(outbox, 0o755)
    sender.daemon.kill9()
    sender.daemon.start()
    sender.ctl("set-rate", str(number), "0", user=user_a)
    _, final = sample_until_done(sender, number, user_a)
    assert final["state"] == "done" and final["keptSources"] == [], final
    assert not small.exists() and not big.exists()
    assert {name: sha256(inbox / name) for name in digests} == digests
