"""Endpoints and transfers are numbered per owner (issue 19, finding 8): two users on one daemon
each count from 1, so no number or object path tells one user how many endpoints or transfers
the other has; another user's object answers exactly as one that does not exist; root acts on
another user's transfer by USER:N or UID:N; numbers never come back, not after a delete,
transfers --clear or kill -9."""

from __future__ import annotations

from s2sit import (
    ENDPOINT, ERR_UNKNOWN_OBJECT, INTROSPECTABLE, PROPS, ROOT, TRANSFER, Client, endpoint_path, object_number, transfer_path,
)
from test_transfer import pair, random_file, wait_for  # noqa: F401 (pair: a fixture)


def new_endpoint(side, directory, user) -> str:
    r = side.ctl("endpoint", "new", str(directory), user=user)
    assert r.rc == 0, r
    return r.out.strip()


def send_no_wait(side, user, source, destination) -> str:
    r = side.ctl("send", "--no-wait", str(source), destination, user=user)
    assert r.rc == 0, r
    return r.out.strip()


def numbers(side, user) -> dict:
    """{number: transfer} of `user`'s transfers as s2sctl transfers --all --json lists them."""
    listed = side.ctl("transfers", "--all", "--json", user=user).json()
    assert all(object_number(t["object"]) == (t["owner"], t["number"]) for t in listed), listed
    return {t["number"]: t for t in listed}


def everything_seen_by(side, user) -> set:
    """Every endpoint and transfer object `user` can find: listings, ObjectManager, introspection."""
    with Client(side.bus.address, user) as c:
        paths = set(c.list_endpoints())
        paths |= {p for p, _ in c.manager("ListTransfers")[0]}
        paths |= {p for p, _ in c.manager("ListTransferHistory")[0]}
        paths |= set(c.managed_objects())
        paths |= c.tree(ROOT) - {ROOT, f"{ROOT}/endpoint", f"{ROOT}/transfer"}
    return paths


def test_each_user_counts_from_one_and_learns_nothing_of_the_other(pair, mkdir, user_a, user_b):
    side, _ = pair
    a_in, b_in = mkdir("a-in", owner=user_a), mkdir("b-in", owner=user_b)
    a_out, b_out = mkdir("a-out", owner=user_a), mkdir("b-out", owner=user_b)
    a_uid, b_uid = user_a.uid, user_b.uid

    # User A is busy first: three endpoints, one deleted, and a send that waits (nothing listens
    # at port 9).
    a_ids = [new_endpoint(side, a_in, user_a) for _ in range(3)]
    assert side.ctl("endpoint", "rm", a_ids[2], user=user_a).rc == 0
    with Client(side.bus.address, user_a) as c:
        assert sorted(c.list_endpoints()) == [endpoint_path(a_uid, 1), endpoint_path(a_uid, 2)]
    waiting = send_no_wait(side, user_a, random_file(a_out / "w", 10, owner=user_a), f"{a_ids[0]}@127.0.0.1:9")
    assert waiting == transfer_path(a_uid, 1)

    # User B starts at 1 all the same: its numbers tell nothing of A's three endpoints and send.
    b_id = new_endpoint(side, b_in, user_b)
    with Client(side.bus.address, user_b) as c:
        assert list(c.list_endpoints()) == [endpoint_path(b_uid, 1)]
        assert c.get_endpoint(b_id) == endpoint_path(b_uid, 1)
    # B sends into A's first endpoint on this same daemon: B's send is B's transfer 1, what A
    # receives is A's transfer 2, arriving in A's endpoint 1.
    r = side.ctl("send", str(random_file(b_out / "f", 1000, owner=user_b)), f"{a_ids[0]}@127.0.0.1:{side.port}", user=user_b)
    assert r.rc == 0, r
    assert (a_in / "f").is_file()
    b_transfers = numbers(side, user_b)
    assert list(b_transfers) == [1] and b_transfers[1]["direction"] == "send", b_transfers
    a_transfers = wait_for(lambda: (lambda t: t if 2 in t and t[2]["state"] == "done" else None)(numbers(side, user_a)),
                           what="A's receipt")
    assert sorted(a_transfers) == [1, 2]
    assert a_transfers[2]["direction"] == "receive" and a_transfers[2]["endpoint"] == endpoint_path(a_uid, 1)
    assert everything_seen_by(side, user_b) == {endpoint_path(b_uid, 1), transfer_path(b_uid, 1)}

    # A's objects answer B exactly as objects that do not exist, well-formed or not.
    others = [endpoint_path(a_uid, 1), transfer_path(a_uid, 1), transfer_path(a_uid, 2)]
    missing = [endpoint_path(a_uid, 99), transfer_path(a_uid, 99), transfer_path(b_uid, 99), transfer_path(b_uid, 2),
               f"{ROOT}/transfer/1", f"{ROOT}/transfer/{a_uid}_01", f"{ROOT}/transfer/0{a_uid}_1", f"{ROOT}/transfer/{a_uid}_0"]
    with Client(side.bus.address, user_b) as c:
        for path in others + missing:
            iface = ENDPOINT if "/endpoint/" in path else TRANSFER
            assert c.error_of(path, PROPS, "GetAll", "s", (iface,)) == ERR_UNKNOWN_OBJECT, path
            assert c.error_of(path, PROPS, "Get", "ss", (iface, "Owner")) == ERR_UNKNOWN_OBJECT, path
            if iface == TRANSFER:
                assert c.error_of(path, TRANSFER, "Cancel") == ERR_UNKNOWN_OBJECT, path
            assert c.error_of(path, INTROSPECTABLE, "Introspect") == ERR_UNKNOWN_OBJECT, path
    # s2sctl says the same for A's transfer and for one that does not exist.
    for text in (f"{user_a.name}:1", f"{a_uid}:1", f"{user_a.name}:99"):
        r = side.ctl("cancel", text, user=user_b)
        assert r.rc == 1 and r.err == f"s2sctl: no transfer {user_a.name}:{text.rsplit(':', 1)[1]}\n", r
    assert numbers(side, user_a)[1]["state"] == "queued"

    # Root sees both users' transfers as it can type them back, and cancels A's by USER:N and by
    # UID:N.
    second = send_no_wait(side, user_a, a_out / "w", f"{a_ids[1]}@127.0.0.1:9")
    assert second == transfer_path(a_uid, 3)
    listing = side.ctl("transfers").out
    for shown in (f"{user_a.name}:1", f"{user_a.name}:2", f"{user_a.name}:3", f"{user_b.name}:1"):
        assert f"\n{shown} " in listing, listing
    assert side.ctl("cancel", f"{user_a.name}:1").rc == 0
    assert side.ctl("cancel", f"{a_uid}:3").rc == 0
    a_transfers = numbers(side, user_a)
    assert a_transfers[1]["state"] == a_transfers[3]["state"] == "cancelled", a_transfers
    # The journal names a transfer by its owner and number, as root types it.
    assert f"transfer {a_uid}:1: send queued" in side.daemon.log()

    # Numbers never come back: not after a delete, transfers --clear, or kill -9.
    assert side.ctl("transfers", "--clear", user=user_a).rc == 0
    assert numbers(side, user_a) == {}
    side.daemon.kill9()
    side.daemon.start()
    new_endpoint(side, a_in, user_a)
    with Client(side.bus.address, user_a) as c:
        assert sorted(c.list_endpoints()) == [endpoint_path(a_uid, n) for n in (1, 2, 4)]
    assert send_no_wait(side, user_a, a_out / "w", f"{a_ids[0]}@127.0.0.1:9") == transfer_path(a_uid, 4)
    assert send_no_wait(side, user_b, b_out / "f", f"{b_id}@127.0.0.1:9") == transfer_path(b_uid, 2)
