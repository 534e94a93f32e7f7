"""Administrators through polkit: the daemon asks org.freedesktop.PolicyKit1.Authority
CheckAuthorization about callers that are not root, for other users' endpoints and transfers
(org.s2s.Daemon1.manage-all) and for the daemon-wide limits (org.s2s.Daemon1.set-limits).

The authority here is a test peer: a real D-Bus service on the private bus that speaks polkit's
interface and answers from a table, after asking the bus who the subject is, as polkitd does.
The real polkitd, with its rules, is exercised by the boot test (scripts/boot-test.sh), where
it runs on a real system bus; on this private bus it would need the action file and a rule in
the host's /usr/share/polkit-1 and /etc/polkit-1, which a test must not change."""

import threading

import pytest
from jeepney import DBusAddress, MessageType, new_error, new_method_call, new_method_return
from jeepney.io.blocking import open_dbus_connection

from conftest import Bus
from s2sit import ENDPOINT, ERR_ACCESS_DENIED, ERR_LIMIT, ERR_NOT_FOUND, MANAGER, ROOT, random_valid_id

MANAGE_ALL = "org.s2s.Daemon1.manage-all"
SET_LIMITS = "org.s2s.Daemon1.set-limits"
POLKIT = "org.freedesktop.PolicyKit1"
ALLOW_USER_INTERACTION = 1

POLICY = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow own="org.s2s.Daemon1"/>
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.s2s.Daemon1"/>
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
</busconfig>
"""


class Authority:
    """org.freedesktop.PolicyKit1.Authority.CheckAuthorization, answered from `grants`:
    {(uid, action_id)}. Every check is recorded as (uid, action_id, flags)."""

    def __init__(self, address):
        self.grants: set = set()
        self.checks: list = []
        self.conn = open_dbus_connection(address)
        self.bus = open_dbus_connection(address)
        reply = self.conn.send_and_get_reply(new_method_call(
            DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"),
            "RequestName", "su", (POLKIT, 4)))
        assert reply.body == (1,), reply.body
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def uid_of(self, bus_name):
        reply = self.bus.send_and_get_reply(new_method_call(
            DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"),
            "GetConnectionUnixUser", "s", (bus_name,)))
        return reply.body[0]

    def _serve(self):
        while not self.stopped:
            try:
                msg = self.conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            if msg.header.fields.get(3) != "CheckAuthorization":  # 3: the member
                self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))
                continue
            (kind, details), action, _details, flags, _cancel = msg.body
            assert kind == "system-bus-name"
            uid = self.uid_of(details["name"][1])
            self.checks.append((uid, action, flags))
            authorized = (uid, action) in self.grants
            self.conn.send(new_method_return(msg, "(bba{ss})", ((authorized, not authorized, {}),)))

    def close(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.conn.close()
        self.bus.close()


@pytest.fixture
def polkit_bus(scratch):
    policy = scratch / "policy.conf"
    policy.write_text(POLICY)
    b = Bus(scratch, policy_include=policy)
    yield b
    b.close()


@pytest.fixture
def authority(polkit_bus):
    a = Authority(polkit_bus.address)
    yield a
    a.close()


@pytest.fixture
def setup(polkit_bus, authority, daemon_factory, connect, user_a, user_b, mkdir):
    daemon = daemon_factory(target_bus=polkit_bus)
    a = connect(user_a, address=polkit_bus.address)
    b = connect(user_b, address=polkit_bus.address)
    a_path, a_id = a.create(mkdir("a-inbox", user_a))
    return daemon, a, b, a_path, a_id


def test_without_a_grant_polkit_is_asked_and_says_no(setup, authority, user_b):
    _, a, b, a_path, a_id = setup
    assert b.list_endpoints() == {}
    assert b.error_of(ROOT, MANAGER, "GetEndpoint", "s", (a_id,)) == ERR_NOT_FOUND
    assert b.error_of(ROOT, MANAGER, "DeleteEndpoint", "s", (a_id,), interactive=True) == ERR_NOT_FOUND
    assert a.get_endpoint(a_id) == a_path
    asked = [c for c in authority.checks if c[0] == user_b.uid]
    # A listing never lets polkit ask the user; a call that allowed it is passed on as allowed.
    assert (user_b.uid, MANAGE_ALL, 0) in asked
    assert (user_b.uid, MANAGE_ALL, ALLOW_USER_INTERACTION) in asked
    # The owner acting on their own endpoint costs no question.
    assert not [c for c in authority.checks if c[0] != user_b.uid and c[2] == ALLOW_USER_INTERACTION]


def test_a_missing_id_asks_polkit_too(setup, authority, user_b):
    """Another user's endpoint and no endpoint at all look the same, prompts included."""
    _, _, b, _, _ = setup
    before = len(authority.checks)
    assert b.error_of(ROOT, MANAGER, "GetEndpoint", "s", (random_valid_id(),), interactive=True) == ERR_NOT_FOUND
    assert (user_b.uid, MANAGE_ALL, ALLOW_USER_INTERACTION) in authority.checks[before:]


def test_manage_all_lets_an_administrator_act_on_others(setup, authority, user_a, user_b):
    _, a, b, a_path, a_id = setup
    authority.grants.add((user_b.uid, MANAGE_ALL))
    assert set(b.list_endpoints()) == {a_path}
    assert set(b.managed_objects()) == {a_path}
    assert b.get_endpoint(a_id) == a_path
    assert b.get_all(a_path, ENDPOINT)["Owner"] == user_a.uid
    b.delete(a_id)
    assert a.list_endpoints() == {}
    # manage-all is not set-limits.
    assert b.error_of(ROOT, MANAGER, "SetLimits", "a{sv}", ({"MaxEndpointsPerUser": ("t", 5)},)) == ERR_ACCESS_DENIED


def test_an_administrator_subscription_hears_about_others(setup, authority, user_a, user_b, mkdir):
    _, a, b, _, _ = setup
    authority.grants.add((user_b.uid, MANAGE_ALL))
    b.subscribe()
    path, _ = a.create(mkdir("a-second", user_a))
    b.wait_signal(lambda m: m.header.fields.get(3) == "InterfacesAdded" and m.body[0] == path)


def test_set_limits_needs_an_administrator_and_lasts(setup, authority, user_a, user_b, mkdir):
    daemon, a, b, _, _ = setup
    args = ({"MaxEndpointsPerUser": ("t", 1)},)
    assert a.error_of(ROOT, MANAGER, "SetLimits", "a{sv}", args) == ERR_ACCESS_DENIED
    assert a.manager_props()["MaxEndpointsPerUser"] == 1024
    authority.grants.add((user_b.uid, SET_LIMITS))
    b.call(ROOT, MANAGER, "SetLimits", "a{sv}", args)
    assert a.manager_props()["MaxEndpointsPerUser"] == 1
    # a has one endpoint already: the new limit holds at once.
    assert a.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", (str(mkdir("a-more", user_a)), {})) == ERR_LIMIT
    assert "MaxEndpointsPerUser=1" in (daemon.state_dir / "limits.conf").read_text()
    # Bad values change nothing.
    assert b.error_of(ROOT, MANAGER, "SetLimits", "a{sv}", ({"MaxEndpointsPerUser": ("t", 0)},)) is not None
    assert b.error_of(ROOT, MANAGER, "SetLimits", "a{sv}", ({"IdleTimeout": ("t", 1)},)) is not None
    # The limit outlives the daemon.
    daemon.restart()
    assert a.manager_props()["MaxEndpointsPerUser"] == 1


def test_without_polkit_only_root_is_an_administrator(daemon, root, client_a, client_b, user_a, mkdir):
    """The ordinary private bus has no polkit: the daemon falls back to root only."""
    path, a_id = client_a.create(mkdir("a-inbox", user_a))
    assert client_b.error_of(ROOT, MANAGER, "GetEndpoint", "s", (a_id,), interactive=True) == ERR_NOT_FOUND
    assert client_b.error_of(ROOT, MANAGER, "SetLimits", "a{sv}", ({"MaxIncomingTransfers": ("t", 3)},)) == ERR_ACCESS_DENIED
    root.call(ROOT, MANAGER, "SetLimits", "a{sv}", ({"MaxIncomingTransfers": ("t", 3), "FreeSpaceReserve": ("t", 1 << 20)},))
    props = root.manager_props()
    assert props["MaxIncomingTransfers"] == 3 and props["FreeSpaceReserve"] == 1 << 20
    assert root.get_endpoint(a_id) == path
