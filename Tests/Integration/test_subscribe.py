"""Subscribe: ObjectManager signals as unicast, to the endpoint's owner (and root) only."""

import time

from jeepney import HeaderFields

from s2sit import (ENDPOINT, ERR_NOT_FOUND, MANAGER, NAME, OBJECT_MANAGER, ROOT, cpu_seconds, describe, is_om_signal,
                   unwrap, wakeups_during)

OM_MATCH = f"type='signal',sender='{NAME}',interface='{OBJECT_MANAGER}'"


def om(member, path):
    return lambda m: is_om_signal(m, member) and m.body[0] == path


def about(msgs, path):
    return [describe(m) for m in msgs if is_om_signal(m) and m.body and m.body[0] == path]


def check_unicast(msg, client, bus):
    f = msg.header.fields
    assert f.get(HeaderFields.path) == ROOT
    assert f.get(HeaderFields.sender) == bus.name_owner()
    assert f.get(HeaderFields.destination) == client.unique_name, "sent as a unicast signal"


def test_subscribers_get_only_their_own_endpoints(daemon, bus, connect, user_a, user_b, ctl, mkdir):
    sub_a, sub_b, sub_root = connect(user_a), connect(user_b), connect()
    for s in (sub_a, sub_b, sub_root):
        s.subscribe()
    # A broadcast would reach A through this match rule: the test then sees a leak.
    sub_a.bus_call("AddMatch", "s", (OM_MATCH,))
    a, b = connect(user_a), connect(user_b)

    b_path, b_id = b.create(mkdir("b", user_b))
    r = ctl("endpoint", "new", str(mkdir("a", user_a)), user=user_a)
    assert r.rc == 0, r
    a_id = r.out.strip()
    a_path = a.get_endpoint(a_id)

    msg, before = sub_a.wait_signal(om("InterfacesAdded", a_path))
    assert not about(before, b_path), f"A was told about B's endpoint: {about(before, b_path)}"
    check_unicast(msg, sub_a, bus)
    ifaces = {k: unwrap(v) for k, v in msg.body[1].items()}
    assert ENDPOINT in ifaces
    assert ifaces[ENDPOINT]["Id"] == a_id and ifaces[ENDPOINT]["Owner"] == user_a.uid

    msg, before = sub_b.wait_signal(om("InterfacesAdded", b_path))
    check_unicast(msg, sub_b, bus)
    assert unwrap(msg.body[1][ENDPOINT])["Id"] == b_id

    sub_root.wait_signal(om("InterfacesAdded", b_path))
    sub_root.wait_signal(om("InterfacesAdded", a_path))

    b.delete(b_id)
    r = ctl("endpoint", "rm", a_id, user=user_a)
    assert r.rc == 0, r
    msg, before = sub_a.wait_signal(om("InterfacesRemoved", a_path))
    assert not about(before, b_path), f"A was told about B's endpoint: {about(before, b_path)}"
    check_unicast(msg, sub_a, bus)
    assert ENDPOINT in msg.body[1]
    sub_root.wait_signal(om("InterfacesRemoved", b_path))
    sub_root.wait_signal(om("InterfacesRemoved", a_path))
    msg, before = sub_b.wait_signal(om("InterfacesRemoved", b_path))
    assert not about(before, a_path), "B was told about A's endpoint"

    leftover = sub_a.drain_signals(0.5)
    assert not about(leftover, b_path), f"A was told about B's endpoint: {about(leftover, b_path)}"
    assert daemon.alive()


def test_unsubscribe_and_unsubscribed_connections(daemon, connect, user_a, mkdir):
    sub = connect(user_a)
    listener = connect(user_a)  # never subscribes, but listens for broadcasts
    listener.bus_call("AddMatch", "s", (OM_MATCH,))
    a = connect(user_a)
    sub.subscribe()
    p1, id1 = a.create(mkdir("one", user_a))
    sub.wait_signal(om("InterfacesAdded", p1))
    sub.unsubscribe()
    p2, id2 = a.create(mkdir("two", user_a))
    a.delete(id1)
    got = sub.drain_signals(1.0)
    assert not [describe(m) for m in got if is_om_signal(m)], "signals after Unsubscribe"
    assert not [describe(m) for m in listener.drain_signals(0.2) if is_om_signal(m)], \
        "a connection that did not subscribe received ObjectManager signals"
    # Subscribing again works; a subscriber that disconnects does not disturb the daemon.
    sub.subscribe()
    a.delete(id2)
    sub.wait_signal(om("InterfacesRemoved", p2))
    sub.close()
    p3, id3 = a.create(mkdir("three", user_a))
    assert a.get_endpoint(id3) == p3
    assert daemon.alive()


def test_expired_endpoint_is_deleted(daemon, connect, user_a, mkdir):
    """docs/dbus-api.md: when Lifetime is over the daemon deletes the endpoint (InterfacesRemoved)."""
    sub = connect(user_a)
    sub.subscribe()
    a = connect(user_a)
    path, eid = a.create(mkdir("short", user_a), Lifetime=2)
    keep_path, _ = a.create(mkdir("long", user_a), Lifetime=3600)
    sub.wait_signal(om("InterfacesRemoved", path), timeout=15)
    assert a.error_of(ROOT, MANAGER, "GetEndpoint", "s", (eid,)) == ERR_NOT_FOUND
    assert set(a.list_endpoints()) == {keep_path}


def test_the_daemon_sleeps_after_expiries(daemon, connect, user_a, mkdir):
    """After endpoints expired (the sweeper's wait ended by its deadline, not by a new endpoint),
    the daemon still hears of new expiries, and idles: it neither spins (CPU time) nor polls
    (wake-ups; it used to wake about 20 times a second for its progress and queue loops)."""
    sub = connect(user_a)
    sub.subscribe()
    a = connect(user_a)
    for lifetime in (1, 2):
        path, _ = a.create(mkdir(f"short{lifetime}", user_a), Lifetime=lifetime)
        sub.wait_signal(om("InterfacesRemoved", path), timeout=15)
    sub.close()
    a.close()
    time.sleep(1)  # on purpose: the closed connections' clean-up is not the idleness measured
    cpu = cpu_seconds(daemon.pid)
    wakeups = wakeups_during(daemon.pid, 5)
    cpu = cpu_seconds(daemon.pid) - cpu
    print(f"idle after expiries, over 5 s: {cpu:.2f} s CPU, {wakeups} wake-ups")
    assert cpu < 1.0, f"the daemon used {cpu:.2f} s of CPU in 5 idle seconds"
    assert wakeups < 50, f"the daemon woke {wakeups} times in 5 idle seconds"


def test_expiry_while_stopped(daemon, connect, mkdir):
    """An endpoint that expired while the daemon was down is gone after the restart."""
    root = connect()
    path, eid = root.create(mkdir("short"), Lifetime=1)
    root.close()
    assert daemon.stop() == 0
    time.sleep(1.5)  # on purpose: the endpoint's lifetime runs out while the daemon is down
    daemon.start()
    root = connect()
    assert root.error_of(ROOT, MANAGER, "GetEndpoint", "s", (eid,)) == ERR_NOT_FOUND
    assert root.list_endpoints() == {}
