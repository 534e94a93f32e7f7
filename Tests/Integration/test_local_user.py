"""What one local user can do to the daemon, bounded (issue 19): send slots are shared between
users and one user's queue is capped (finding 3); one Send names a bounded number of sources
(finding 1); a source swapped for a FIFO cannot block the daemon (finding 2); a source the user
cannot read is refused at once (finding 8)."""

from __future__ import annotations

import os
import time

from s2sit import TRANSFER, Client, unwrap
from test_queue import history, queue_pair  # noqa: F401  (queue_pair is a fixture)
from test_transfer import new_endpoint, pair, random_file  # noqa: F401  (pair is a fixture)

ERR_LIMIT = "org.s2s.Error.LimitExceeded"


def queue_send(side, user, source, dest, **options) -> str:
    """Queues a send over the bus without waiting for it; returns its object path."""
    with Client(side.bus.address, user) as c:
        (path, _warnings) = c.manager("Send", "assa{sv}", ([str(source)], dest, options))
    return path


def test_one_user_cannot_hold_every_send_slot(queue_pair, mkdir, user_a, user_b):
    """User B fills the queue with slow sends; user A's small send still starts at once, in the
    slot B's share leaves free, and completes while B's are still running or queued."""
    receiver, sender = queue_pair(sender_conf="MaxActiveSends=2\nMaxActiveSendsPerUser=1")
    slow_in = mkdir("slow", owner=user_b)
    dest_b = new_endpoint(receiver, slow_in, user_b)
    outbox_b = mkdir("outb", owner=user_b)
    slow = [queue_send(sender, user_b, random_file(outbox_b / f"big{i}.bin", 8 << 20, owner=user_b), dest_b,
                       RateLimit=("t", 32 << 10))
            for i in range(3)]
    dest_a = new_endpoint(receiver, mkdir("fast", owner=user_a), user_a)
    small = random_file(mkdir("outa", owner=user_a) / "note.txt", 7, owner=user_a)
    r = sender.ctl("send", str(small), dest_a, user=user_a, timeout=120)
    assert r.rc == 0, r
    states = {t["number"]: t["state"] for t in history(sender, user_b).values()}
    assert sorted(states.values()) == ["queued", "queued", "sending"], states
    with Client(sender.bus.address, user_b) as c:
        for path in slow:
            c.call(path, TRANSFER, "Cancel")


def test_what_one_user_may_queue_is_bounded(queue_pair, mkdir, user_a, user_b):
    receiver, sender = queue_pair(sender_conf="MaxQueuedSendsPerUser=2")
    # A destination nobody answers at: the sends wait for their next attempt.
    nowhere = new_endpoint(receiver, mkdir("in", owner=user_b), user_b).rsplit(":", 1)[0] + ":9"
    outbox = mkdir("out", owner=user_a)
    files = [random_file(outbox / f"f{i}", 10, owner=user_a) for i in range(3)]
    for f in files[:2]:
        queue_send(sender, user_a, f, nowhere)
    with Client(sender.bus.address, user_a) as c:
        error = c.error_of("/org/s2s/Daemon1", "org.s2s.Daemon1.Manager", "Send", "assa{sv}",
                           ([str(files[2])], nowhere, {}))
        assert error == ERR_LIMIT, error
    r = sender.ctl("send", str(files[2]), nowhere, user=user_a)
    assert r.rc != 0 and "MaxQueuedSendsPerUser" in r.err, r
    # Another user is not affected by A's full queue.
    other = random_file(mkdir("outb", owner=user_b) / "g", 10, owner=user_b)
    queue_send(sender, user_b, other, nowhere)


def test_a_send_names_a_bounded_number_of_sources(queue_pair, mkdir, user_a, user_b):
    receiver, sender = queue_pair()
    dest = new_endpoint(receiver, mkdir("in", owner=user_b), user_b)
    with Client(sender.bus.address, user_a) as c:
        many = [f"/nonexistent/{i}" for i in range(4097)]
        assert c.error_of("/org/s2s/Daemon1", "org.s2s.Daemon1.Manager", "Send", "assa{sv}", (many, dest, {})) == ERR_LIMIT
        long = ["/nonexistent/" + "x" * 3000 + f"/{i}" for i in range(100)]
        assert c.error_of("/org/s2s/Daemon1", "org.s2s.Daemon1.Manager", "Send", "assa{sv}", (long, dest, {})) == ERR_LIMIT
        # The daemon is still there for everyone, and stored nothing.
        assert c.manager("ListTransfers") == ([],)


def test_a_source_swapped_for_a_fifo_blocks_nothing(queue_pair, mkdir, user_a, user_b):
    """The second file of a send becomes a FIFO while the first is on its way: the send goes on
    (that file is reported changed) and ends; nothing hangs, and the daemon stops at once."""
    receiver, sender = queue_pair()
    inbox = mkdir("in", owner=user_b)
    dest = new_endpoint(receiver, inbox, user_b)
    tree = mkdir("out", owner=user_a) / "tree"
    tree.mkdir()
    os.chown(tree, user_a.uid, user_a.gid)
    random_file(tree / "a.bin", 1 << 20, owner=user_a)
    b = random_file(tree / "b.bin", 10, owner=user_a)
    path = queue_send(sender, user_a, tree, dest, RateLimit=("t", 256 << 10))
    with Client(sender.bus.address, user_a) as c:   # the attempt has scanned and offered b.bin
        deadline = time.monotonic() + 30
        while c.get(path, TRANSFER, "BytesDone") == 0:
            assert time.monotonic() < deadline, sender.daemon.log()
            time.sleep(0.05)
    b.unlink()
    os.mkfifo(b)
    os.chown(b, user_a.uid, user_a.gid)
    with Client(sender.bus.address, user_a) as c:
        deadline = time.monotonic() + 90
        while c.get(path, TRANSFER, "State") not in ("done", "failed", "cancelled"):
            assert time.monotonic() < deadline, f"the send hangs:\n{sender.daemon.log()}"
            time.sleep(0.2)
    assert (inbox / "tree" / "a.bin").is_file()
    assert not (inbox / "tree" / "b.bin").exists()
    # The journal's lines about a transfer name it first (issue 15), by its owner and number:
    # "transfer 1000:1: send queued".
    assert f"transfer {user_a.uid}:1: send queued" in sender.daemon.log()
    started = time.monotonic()
    assert sender.daemon.stop() == 0
    assert time.monotonic() - started < 10


def test_a_source_the_user_cannot_read_is_refused_at_once(queue_pair, mkdir, user_a, user_b):
    receiver, sender = queue_pair()
    dest = new_endpoint(receiver, mkdir("in", owner=user_b), user_b)
    secret = random_file(mkdir("private", owner=user_b) / "secret.bin", 10, owner=user_b)
    os.chmod(secret, 0o600)
    r = sender.ctl("send", str(secret), dest, user=user_a)
    assert r.rc != 0 and "Permission denied" in r.err, r
    assert history(sender, user_a) == {}


def test_a_file_the_user_cannot_read_inside_a_sent_directory_is_skipped_with_a_warning(pair, mkdir, user_a, user_b):
    """The scan asks the kernel with the sending user's own credentials (`faccessat`,
    `AT_EACCESS`): a file of another user's, mode 0600, is left out and named; a file the user may
    read through its group is sent."""
    receiver, sender = pair
    inbox = mkdir("in", owner=user_b)
    dest = new_endpoint(receiver, inbox, user_b)
    top = mkdir("out", owner=user_a)
    random_file(top / "mine.bin", 10, owner=user_a)
    theirs = random_file(top / "theirs.bin", 10, owner=user_b)
    os.chmod(theirs, 0o600)
    shared = random_file(top / "shared.bin", 10, owner=user_b)
    os.chown(shared, user_b.uid, user_a.gid)
    os.chmod(shared, 0o640)
    r = sender.ctl("send", str(top), dest, user=user_a)
    assert r.rc == 0, r
    assert "skipped" in r.err and "theirs.bin" in r.err and "Permission denied" in r.err, r
    assert sorted(p.name for p in (inbox / "out").iterdir()) == ["mine.bin", "shared.bin"]


def test_a_list_larger_than_the_bus_carries_is_an_error_to_its_caller(queue_pair, mkdir, user_a, user_b):
    """A user fills its queue with sends whose paths take nearly the 256 KiB a send may name.
    ListTransfers stays small (each entry: the first sources and SourceCount; the object has them
    all); GetManagedObjects, which carries whole properties, would be over the 32 MiB a system bus
    carries: that caller gets LimitsExceeded; the daemon stays on the bus and answers everyone else
    (it once sent the reply and was dropped by the bus, for everyone)."""
    receiver, sender = queue_pair()
    nowhere = new_endpoint(receiver, mkdir("in", owner=user_b), user_b).rsplit(":", 1)[0] + ":9"
    deep = mkdir("out", owner=user_a)
    for level in range(15):  # a directory whose path is about 3.8 KB
        deep = deep / (f"{level:02d}" + "d" * 248)
        deep.mkdir()
        os.chown(deep, user_a.uid, user_a.gid)
    sources = [str(random_file(deep / f"f{i}", 1, owner=user_a)) for i in range(64)]
    assert 200 << 10 < sum(len(s.encode()) for s in sources) <= 256 << 10
    owner_before = sender.bus.name_owner()
    with Client(sender.bus.address, user_a) as c:
        paths = [c.manager("Send", "assa{sv}", (sources, nowhere, {}))[0] for _ in range(140)]  # ~35 MB of sources
        (listed,) = c.manager("ListTransfers")
        assert sorted(p for p, _ in listed) == sorted(paths)
        for _path, props in map(lambda entry: (entry[0], unwrap(entry[1])), listed):
            assert props["Sources"] == sources[:1] and props["SourceCount"] == 64, props["Sources"][:2]
        assert len(c.get(paths[0], TRANSFER, "Sources")) == 64
        assert c.error_of("/org/s2s/Daemon1", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects") == \
            "org.freedesktop.DBus.Error.LimitsExceeded"
        r = sender.ctl("transfers", "--json", user=user_a)
        assert r.rc == 0 and {t["sourceCount"] for t in r.json()} == {64}, r
    assert sender.bus.name_owner() == owner_before and sender.daemon.alive()
    with Client(sender.bus.address, user_b) as c:
        assert c.manager("ListTransfers") == ([],)
