"""No user can hold the send queue for everyone (issue 19, finding 3), and what one user can make
the daemon store is bounded (finding 1): send slots are shared between users, the sends one user
may queue are capped, and one Send names a bounded number of sources."""

from __future__ import annotations

from s2sit import TRANSFER, Client
from test_queue import history, queue_pair  # noqa: F401  (queue_pair is a fixture)
from test_transfer import new_endpoint, random_file

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
