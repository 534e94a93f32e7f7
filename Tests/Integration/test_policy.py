"""The packaged bus policy (Packaging/dbus/org.s2s.Daemon1.conf) on a system-like bus: only root
owns the name, everyone may use the API, signals reach subscribers."""

import pytest

from conftest import POLICY_FILE, Bus, Daemon, as_user_argv, base_env, run, S2SCTL
from s2sit import ENDPOINT, MANAGER, ROOT, Client, is_om_signal


@pytest.fixture
def packaged_bus(scratch):
    if not POLICY_FILE.exists():
        pytest.skip(f"{POLICY_FILE} not written yet")
    b = Bus(scratch, policy_include=POLICY_FILE)
    yield b
    b.close()


def test_packaged_policy(packaged_bus, tmp_path, mkdir, user_a):
    intruder = Daemon(packaged_bus, tmp_path, state_dir=mkdir("a-state", user_a, 0o700),
                      wrapper=as_user_argv(user_a, []))
    daemon = Daemon(packaged_bus, tmp_path)
    clients = []
    try:
        intruder.start(wait=False)
        rc = intruder.wait_exit(30)
        assert rc is not None and rc != 0, f"a non-root s2sd ran with the packaged policy:\n{intruder.log()}"
        assert packaged_bus.name_owner() is None
        daemon.start()
        a = Client(packaged_bus.address, user_a)
        clients.append(a)
        a.subscribe()
        path, eid = a.create(mkdir("a-inbox", user_a))
        a.wait_signal(lambda m: is_om_signal(m, "InterfacesAdded") and m.body[0] == path)
        assert a.get(path, ENDPOINT, "Id") == eid
        assert a.get_all(ROOT, MANAGER)["Version"]
        assert set(a.list_endpoints()) == {path}
        assert set(a.managed_objects()) == {path}
        assert ENDPOINT in a.introspect(path)
        assert a.call(ROOT, "org.freedesktop.DBus.Peer", "Ping") == ()
        r = run([S2SCTL, "endpoint", "list", "--json"], user=user_a,
                env=base_env(DBUS_SYSTEM_BUS_ADDRESS=packaged_bus.address))
        assert [e["id"] for e in r.json()] == [eid]
        a.delete(eid)
        a.wait_signal(lambda m: is_om_signal(m, "InterfacesRemoved") and m.body[0] == path)
    finally:
        for c in clients:
            c.close()
        intruder.cleanup()
        daemon.cleanup()
