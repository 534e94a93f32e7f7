"""Bad input: a named D-Bus error or a clear command-line message, nothing changed, and the
daemon still serving afterwards."""

import os
import time

import pytest

from s2sit import (
    ENDPOINT, ERR_ACCESS_DENIED, ERR_INVALID_ARGS, ERR_INVALID_ARGUMENT, ERR_INVALID_PATH,
    INTROSPECTABLE, MANAGER, NAME, OBJECT_MANAGER, PROPS, ROOT, U64_MAX, Client, random_valid_id,
)
from jeepney import DBusAddress, new_method_call


def assert_serving(daemon, client, expected):
    assert daemon.alive(), f"s2sd died:\n{daemon.log()}"
    assert client.list_endpoints() == expected
    assert client.get(ROOT, MANAGER, "Version")


@pytest.fixture
def existing(root, mkdir):
    """One endpoint that must survive every bad call unchanged."""
    path, eid = root.create(mkdir("keep"), Quota=42)
    return root.list_endpoints()


def test_wrong_argument_signatures(daemon, root, existing, mkdir):
    d = str(mkdir("target"))
    calls = [
        ("CreateEndpoint", "", ()),
        ("CreateEndpoint", "s", (d,)),
        ("CreateEndpoint", "ss", (d, "x")),
        ("CreateEndpoint", "sa{ss}", (d, {"Quota": "1"})),
        ("CreateEndpoint", "sa{st}", (d, {"Quota": 1})),
        ("CreateEndpoint", "ia{sv}", (1, {})),
        ("CreateEndpoint", "a{sv}s", ({}, d)),
        ("CreateEndpoint", "sa{sv}s", (d, {}, "extra")),
        ("CreateEndpoint", "oa{sv}", ("/tmp", {})),
        ("ListEndpoints", "s", ("x",)),
        ("GetEndpoint", "", ()),
        ("GetEndpoint", "u", (1,)),
        ("GetEndpoint", "ss", ("a", "b")),
        ("GetEndpoint", "as", ([random_valid_id()],)),
        ("DeleteEndpoint", "", ()),
        ("DeleteEndpoint", "o", ("/org/s2s/Daemon1/endpoint/0_1",)),
        ("DeleteEndpoint", "t", (5,)),
        ("DeleteEndpoint", "v", (("s", next(iter(existing.values()))["Id"]),)),
        ("Subscribe", "s", ("x",)),
        ("Unsubscribe", "b", (True,)),
    ]
    failures = []
    for member, sig, body in calls:
        err = root.error_of(ROOT, MANAGER, member, sig, body)
        if err != ERR_INVALID_ARGS:
            failures.append(f"{member}({sig}): got {err}, want {ERR_INVALID_ARGS}")
    standard = [
        (ROOT, PROPS, "Get", "s", (MANAGER,)),
        (ROOT, PROPS, "Get", "", ()),
        (ROOT, PROPS, "GetAll", "", ()),
        (ROOT, PROPS, "GetAll", "i", (3,)),
        (ROOT, PROPS, "Set", "ss", (MANAGER, "Version")),
        (ROOT, INTROSPECTABLE, "Introspect", "s", ("x",)),
        # (Peer.Ping/GetMachineId are answered inside libdbus, which ignores extra arguments.)
        (ROOT, OBJECT_MANAGER, "GetManagedObjects", "s", ("x",)),
    ]
    for path, iface, member, sig, body in standard:
        err = root.error_of(path, iface, member, sig, body)
        if err != ERR_INVALID_ARGS:
            failures.append(f"{iface}.{member}({sig}): got {err}, want {ERR_INVALID_ARGS}")
    assert not failures, "\n".join(failures)
    assert_serving(daemon, root, existing)


def test_unknown_members_objects_and_properties(daemon, root, existing):
    ep_path = next(iter(existing))
    cases = [
        (ROOT, MANAGER, "Frobnicate", "", ()),
        (ROOT, "org.s2s.Daemon1.Nope", "ListEndpoints", "", ()),
        ("/org/s2s/Daemon1/nope", MANAGER, "ListEndpoints", "", ()),
        ("/org/s2s/Daemon1/endpoint/0_999999", PROPS, "GetAll", "s", (ENDPOINT,)),
        ("/org/s2s/Daemon1/endpoint/0_999999", PROPS, "Get", "ss", (ENDPOINT, "Id")),
        (ROOT, PROPS, "Get", "ss", (MANAGER, "NoSuchProperty")),
        (ROOT, PROPS, "Get", "ss", ("org.s2s.Nope", "Version")),
        (ROOT, PROPS, "GetAll", "s", (ENDPOINT,)),
        (ep_path, PROPS, "Get", "ss", (ENDPOINT, "PrivateKey")),
        (ep_path, MANAGER, "ListEndpoints", "", ()),
    ]
    failures = []
    for path, iface, member, sig, body in cases:
        err = root.error_of(path, iface, member, sig, body)
        if not err or not (err.startswith("org.freedesktop.DBus.Error.") or err.startswith("org.s2s.Error.")):
            failures.append(f"{path} {iface}.{member}{body!r}: got {err!r}, want a D-Bus error")
    assert not failures, "\n".join(failures)
    assert root.error_of(ROOT, MANAGER, "Frobnicate") == "org.freedesktop.DBus.Error.UnknownMethod"
    # No property is writable (docs/dbus-api.md): Set always fails with PropertyReadOnly.
    for path, iface, prop, value in ((ROOT, MANAGER, "Version", ("s", "evil")),
                                     (ROOT, MANAGER, "MaxEndpointsPerUser", ("t", 1)),
                                     (ep_path, ENDPOINT, "Quota", ("t", 1)),
                                     (ep_path, ENDPOINT, "Owner", ("u", 1000))):
        err = root.error_of(path, PROPS, "Set", "ssv", (iface, prop, value))
        if err != "org.freedesktop.DBus.Error.PropertyReadOnly":
            failures.append(f"Set {iface}.{prop}: got {err}, want PropertyReadOnly")
    assert not failures, "\n".join(failures)
    # A method call without an interface field is legal D-Bus; any reply is fine, but one must come.
    root.error_of(ROOT, None, "ListEndpoints")
    assert root.get(ROOT, MANAGER, "Version") != "evil"
    assert_serving(daemon, root, existing)


def test_bad_paths(daemon, root, existing, mkdir, scratch):
    d = mkdir("dir")
    f = scratch / "file"
    f.write_text("x")
    link = scratch / "link"
    os.symlink(d, link)
    dangling = scratch / "dangling"
    os.symlink(scratch / "nowhere", dangling)
    cases = {
        "empty": "",
        "relative": "dir",
        "dot": ".",
        "dotdot": "..",
        "relative ./": "./dir",
        "nonexistent": str(scratch / "nonexistent"),
        "nonexistent parent": str(scratch / "no" / "such" / "dir"),
        "file": str(f),
        "file as dir": str(f) + "/",
        "char device": "/dev/null",
        "symlink to a dir": str(link),
        "dangling symlink": str(dangling),
        "magic link": "/proc/self/cwd",
        "control characters": str(scratch / "a\nb\tc\x1b"),
        "component longer than NAME_MAX": str(scratch / ("n" * 300)),
        "longer than PATH_MAX": str(d) + "/" + "/".join(["a" * 200] * 25),
        "1 MiB": "/" + "x" * (1 << 20),
        "1 MiB of slashes": "/" * (1 << 20),
    }
    failures = []
    for what, path in cases.items():
        err = root.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", (path, {}))
        if err != ERR_INVALID_PATH:
            failures.append(f"{what} ({path[:80]!r}): got {err}, want {ERR_INVALID_PATH}")
    assert not failures, "\n".join(failures)
    assert_serving(daemon, root, existing)


def test_non_root_on_system_directories(daemon, connect, user_a, root, existing):
    a = connect(user_a)
    failures = []
    for path in ("/", "/tmp", "/etc", "/root", "/var/tmp", "/dev/shm"):
        err = a.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", (path, {}))
        if err not in (ERR_ACCESS_DENIED,):
            failures.append(f"{path}: got {err}, want {ERR_ACCESS_DENIED}")
    assert not failures, "\n".join(failures)
    assert a.list_endpoints() == {}
    assert_serving(daemon, root, existing)


def test_hostile_options(daemon, root, existing, mkdir):
    d = str(mkdir("target"))
    cases = {
        "unknown key": {"Foo": ("t", 1)},
        "wrong case key": {"quota": ("t", 1)},
        "empty key": {"": ("t", 1)},
        "long key": {"K" * 100000: ("t", 1)},
        "Quota as string": {"Quota": ("s", "10G")},
        "Quota as i < 0": {"Quota": ("i", -1)},
        "Quota as x < 0": {"Quota": ("x", -10)},
        "Quota as n < 0": {"Quota": ("n", -10)},
        "Quota as double": {"Quota": ("d", 1.5)},
        "Quota as array": {"Quota": ("at", [1, 2])},
        "Quota as object path": {"Quota": ("o", "/x")},
        "Lifetime as string": {"Lifetime": ("s", "1h")},
        "Lifetime as i < 0": {"Lifetime": ("i", -60)},
        "MaxUses as b": {"MaxUses": ("b", True)},
        "MaxUses as struct": {"MaxUses": ("(t)", (1,))},
        "good and bad": {"Quota": ("t", 1), "Bogus": ("t", 1)},
        "many keys": {f"Key{i}": ("t", i) for i in range(5000)},
    }
    failures = []
    for what, opts in cases.items():
        err = root.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", (d, opts))
        if err != ERR_INVALID_ARGUMENT:
            failures.append(f"{what}: got {err}, want {ERR_INVALID_ARGUMENT}")
    assert not failures, "\n".join(failures)
    assert_serving(daemon, root, existing)


YEAR = 365 * 86400
# docs/dbus-api.md: values are positive; 0, negative numbers and finite values above 2^63-1 are
# refused with InvalidArgument, as is a Lifetime over 100 years; UINT64_MAX means unlimited.
REFUSED_VALUES = [
    ("Quota", 0), ("Lifetime", 0), ("MaxUses", 0),
    ("Quota", 1 << 63), ("MaxUses", U64_MAX - 1), ("Lifetime", U64_MAX - 1), ("Lifetime", 1 << 62),
    ("Lifetime", 18446744073710), ("Lifetime", 101 * YEAR),
]


def test_edge_option_values(daemon, root, existing, mkdir):
    d = str(mkdir("target"))
    failures = []
    for option, value in REFUSED_VALUES:
        err = root.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", (d, {option: ("t", value)}))
        if err != ERR_INVALID_ARGUMENT:
            failures.append(f"{option}={value}: got {err}, want {ERR_INVALID_ARGUMENT}")
    assert_serving(daemon, root, existing)
    # UINT64_MAX is unlimited / never; the largest finite values are stored exactly.
    path, eid = root.create(d, Quota=U64_MAX, Lifetime=U64_MAX, MaxUses=U64_MAX)
    p = root.get_all(path, ENDPOINT)
    if (p["Quota"], p["ExpiresTimestamp"], p["RemainingUses"]) != (U64_MAX, U64_MAX, U64_MAX):
        failures.append(f"UINT64_MAX options: {p}")
    root.delete(eid)
    path, eid = root.create(d, Quota=(1 << 63) - 1, Lifetime=99 * YEAR, MaxUses=(1 << 63) - 1)
    p = root.get_all(path, ENDPOINT)
    if (p["Quota"], p["RemainingUses"]) != ((1 << 63) - 1, (1 << 63) - 1) or \
            p["ExpiresTimestamp"] != p["CreatedTimestamp"] + 99 * YEAR * 1_000_000:
        failures.append(f"largest finite options: {p}")
    root.delete(eid)
    assert not failures, "\n".join(failures)
    assert_serving(daemon, root, existing)


def test_other_integer_types_are_accepted(root, mkdir):
    """docs/dbus-api.md: the type is t; other integer types are accepted when non-negative."""
    path, _ = root.create(mkdir("target"), Quota=("u", 4096), Lifetime=("i", 60), MaxUses=("y", 2))
    p = root.get_all(path, ENDPOINT)
    assert p["Quota"] == 4096 and p["RemainingUses"] == 2
    assert p["ExpiresTimestamp"] == p["CreatedTimestamp"] + 60_000_000


def test_huge_strings(daemon, root, existing):
    huge_id = "s2s1" + "q" * 100000
    for method in ("GetEndpoint", "DeleteEndpoint"):
        for s in (huge_id, "x" * 100000, "s2s1" * 25000):
            assert root.error_of(ROOT, MANAGER, method, "s", (s,)) == ERR_INVALID_ARGUMENT
    big = "é" * (1 << 19)
    assert root.error_of(ROOT, MANAGER, "GetEndpoint", "s", (big,)) == ERR_INVALID_ARGUMENT
    assert root.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", ("/" + big, {})) == ERR_INVALID_PATH
    assert root.error_of(ROOT, PROPS, "Get", "ss", (MANAGER, "P" * 100000)) is not None
    assert_serving(daemon, root, existing)


def test_clients_that_vanish_and_floods(daemon, bus, root, existing, mkdir, user_a):
    dirs = [str(mkdir(f"v{i}")) for i in range(10)]
    for i in range(10):
        c = Client(bus.address, user_a if i % 2 else None)
        addr = DBusAddress(ROOT, bus_name=NAME, interface=MANAGER)
        c.conn.send(new_method_call(addr, "CreateEndpoint", "sa{sv}", (dirs[i], {})))
        c.conn.send(new_method_call(addr, "GetEndpoint", "s", (random_valid_id(),)))
        c.conn.send(new_method_call(addr, "Subscribe"))
        c.close()
    # 300 pipelined calls on one connection, all answered.
    c = Client(bus.address)
    addr = DBusAddress(ROOT, bus_name=NAME, interface=MANAGER)
    for i in range(300):
        c.conn.send(new_method_call(addr, "GetEndpoint" if i % 2 else "ListEndpoints", "s" if i % 2 else "",
                                    (random_valid_id(),) if i % 2 else ()))
    replies = 0
    deadline = time.monotonic() + 30
    while replies < 300 and time.monotonic() < deadline:
        msg = c.conn.receive(timeout=max(0.1, deadline - time.monotonic()))
        if msg.header.message_type.name in ("method_return", "error"):
            replies += 1
    assert replies == 300
    c.close()
    assert daemon.alive(), daemon.log()
    # Endpoints the vanished clients created (or not) are theirs; the one we keep is unchanged.
    listed = root.list_endpoints()
    for path, props in existing.items():
        assert listed[path] == props
    assert root.get(ROOT, MANAGER, "Version")


# ---------------------------------------------------------------------------------------------
# s2sctl

def list_json(ctl):
    r = ctl("endpoint", "list", "--json")
    return r.json()


USAGE_ERRORS = [
    ("frobnicate",),
    ("endpoint", "frobnicate"),
    ("endpoint", "new"),
    ("endpoint", "show"),
    ("endpoint", "rm"),
    ("endpoint", "new", "{dir}", "--quota"),
    ("endpoint", "new", "{dir}", "--quota", "12Q"),
    ("endpoint", "new", "{dir}", "--quota", "-5"),
    ("endpoint", "new", "{dir}", "--quota", "1.5.5G"),
    ("endpoint", "new", "{dir}", "--quota", ""),
    ("endpoint", "new", "{dir}", "--quota", "G"),
    ("endpoint", "new", "{dir}", "--expires", "soon"),
    ("endpoint", "new", "{dir}", "--expires", "10 parsecs"),
    ("endpoint", "new", "{dir}", "--expires", "-1s"),
    ("endpoint", "new", "{dir}", "--expires", ""),
    ("endpoint", "new", "{dir}", "--bogus"),
    ("endpoint", "new", "{dir}", "{dir}"),
    ("endpoint", "list", "--bogus"),
    ("endpoint", "list", "extra"),
    ("endpoint", "show", "{id}", "extra"),
    ("status", "--bogus"),
    ("--bogus", "status"),
]


def test_s2sctl_usage_errors(daemon, ctl, mkdir):
    d = mkdir("target")
    r = ctl("endpoint", "new", str(mkdir("keep")))
    assert r.rc == 0, r
    eid = r.out.strip()
    before = list_json(ctl)
    failures = []
    for args in USAGE_ERRORS:
        r = ctl(*[a.format(dir=d, id=eid) for a in args])
        if r.rc != 64:
            failures.append(f"want exit 64 (EX_USAGE): {r}")
        elif not r.err.strip():
            failures.append(f"no message on stderr: {r}")
        elif "Fatal error" in r.err:
            failures.append(f"crashed: {r}")
    assert not failures, "\n\n".join(failures)
    assert list_json(ctl) == before
    assert daemon.alive()


def test_s2sctl_failures(daemon, ctl, mkdir, scratch):
    keep = mkdir("keep")
    r = ctl("endpoint", "new", str(keep))
    assert r.rc == 0, r
    eid = r.out.strip()
    f = scratch / "file"
    f.write_text("x")
    link = scratch / "link"
    os.symlink(keep, link)
    before = list_json(ctl)
    failures = []
    cases = [
        # EX_NOINPUT (66) for a directory that cannot serve, EX_DATAERR (65) for a malformed ID.
        (("endpoint", "new", str(scratch / "nonexistent")), (66,)),
        (("endpoint", "new", str(f)), (66,)),
        (("endpoint", "new", str(link)), (66,)),
        (("endpoint", "show", random_valid_id()), (1,)),
        (("endpoint", "rm", random_valid_id()), (1,)),
        (("endpoint", "show", eid[:-1] + ("q" if eid[-1] != "q" else "p")), (65,)),
        (("endpoint", "rm", eid[:-1] + ("q" if eid[-1] != "q" else "p")), (65,)),
        (("endpoint", "show", "garbage"), (65,)),
        (("endpoint", "rm", "x" * 100000), (65,)),
        (("endpoint", "show", ""), (65,)),
    ]
    for args, codes in cases:
        r = ctl(*args)
        if r.rc not in codes or not r.err.strip():
            failures.append(f"want exit {codes} and a message: {r}")
        elif not r.err.startswith("s2sctl: "):
            failures.append(f"a failure message starts with 's2sctl: ': {r}")
        if r.out.strip():
            failures.append(f"nothing on stdout for a failure: {r}")
    assert not failures, "\n\n".join(failures)
    assert list_json(ctl) == before
    assert daemon.alive()
