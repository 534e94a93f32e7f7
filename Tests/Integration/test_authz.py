"""Authorization with two real Unix users: each sees and controls only their own endpoints,
the daemon opens directories as the caller, root sees and controls everything."""

import os

import pytest

from s2sit import (
    ENDPOINT, ENDPOINT_PATH_RE, ERR_ACCESS_DENIED, ERR_INVALID_PATH, ERR_LIMIT, ERR_NOT_FOUND, ERR_UNKNOWN_OBJECT,
    MANAGER, NAME, PROPS, ROOT, random_valid_id,
)

NOT_VISIBLE = (ERR_NOT_FOUND, ERR_UNKNOWN_OBJECT)


@pytest.fixture
def a_endpoint(client_a, user_a, mkdir):
    d = mkdir("a-inbox", user_a, 0o755)
    path, eid = client_a.create(d, Quota=1000)
    return path, eid, d


def endpoint_paths(paths):
    return {p for p in paths if ENDPOINT_PATH_RE.match(p)}


def test_owner_is_the_caller(client_a, user_a, a_endpoint):
    path, eid, d = a_endpoint
    props = client_a.get_all(path, ENDPOINT)
    assert props["Owner"] == user_a.uid
    assert props["Directory"] == str(d)
    assert client_a.get_endpoint(eid) == path
    assert set(client_a.list_endpoints()) == {path}
    assert set(client_a.managed_objects()) == {path}
    assert endpoint_paths(client_a.tree(ROOT)) == {path}


def test_other_user_cannot_see_show_or_delete(client_a, client_b, user_b, a_endpoint, mkdir):
    path, eid, _ = a_endpoint
    b_path, b_id = client_b.create(mkdir("b-inbox", user_b))
    # see
    assert set(client_b.list_endpoints()) == {b_path}
    assert set(client_b.managed_objects()) == {b_path}
    assert endpoint_paths(client_b.tree(ROOT)) == {b_path}
    assert path not in client_b.introspect(ROOT)
    # show
    assert client_b.error_of(ROOT, MANAGER, "GetEndpoint", "s", (eid,)) == ERR_NOT_FOUND
    assert client_b.error_of(ROOT, MANAGER, "GetEndpoint", "s", (eid.upper(),)) == ERR_NOT_FOUND
    for args in (("Get", "ss", (ENDPOINT, "Id")), ("Get", "ss", (ENDPOINT, "Directory")),
                 ("GetAll", "s", (ENDPOINT,))):
        assert client_b.error_of(path, PROPS, *args) in NOT_VISIBLE, args
    # delete
    assert client_b.error_of(ROOT, MANAGER, "DeleteEndpoint", "s", (eid,)) == ERR_NOT_FOUND
    # A's endpoint is untouched; A does not see B's either.
    assert client_a.get_endpoint(eid) == path
    assert client_a.get_all(path, ENDPOINT)["Quota"] == 1000
    assert set(client_a.list_endpoints()) == {path}
    assert client_a.error_of(ROOT, MANAGER, "GetEndpoint", "s", (b_id,)) == ERR_NOT_FOUND
    assert client_a.error_of(b_path, PROPS, "GetAll", "s", (ENDPOINT,)) in NOT_VISIBLE


def test_no_existence_leak(client_a, client_b, a_endpoint):
    """Another user's endpoint looks exactly like one that does not exist."""
    path, eid, _ = a_endpoint
    nonexistent_path = "/org/s2s/Daemon1/endpoint/0_999999"
    unknown = random_valid_id()
    for method in ("GetEndpoint", "DeleteEndpoint"):
        assert client_b.error_of(ROOT, MANAGER, method, "s", (eid,)) == \
            client_b.error_of(ROOT, MANAGER, method, "s", (unknown,))
    for args in (("Get", "ss", (ENDPOINT, "Id")), ("GetAll", "s", (ENDPOINT,))):
        assert client_b.error_of(path, PROPS, *args) == client_b.error_of(nonexistent_path, PROPS, *args)
    # Introspecting A's object must not reveal more than introspecting a missing one.
    def introspection(p):
        try:
            xml = client_b.introspect(p)
        except Exception as e:  # noqa: BLE001
            return getattr(e, "name", repr(e))
        return "has Endpoint interface" if ENDPOINT in xml else "no Endpoint interface"
    assert introspection(path) == introspection(nonexistent_path)


def test_busctl_and_gdbus_as_other_user(client_a, user_b, a_endpoint, tool, bus):
    path, eid, _ = a_endpoint
    r = tool(["busctl", "--no-pager", f"--address={bus.address}", "tree", "--list", NAME], user=user_b)
    assert r.rc == 0, r
    assert path not in r.out.split(), r
    r = tool(["gdbus", "call", "--address", bus.address, "--dest", NAME, "--object-path", ROOT,
              "--method", f"{MANAGER}.GetEndpoint", eid], user=user_b)
    assert r.rc != 0 and ERR_NOT_FOUND in r.err, r
    r = tool(["gdbus", "call", "--address", bus.address, "--dest", NAME, "--object-path", ROOT,
              "--method", f"{MANAGER}.DeleteEndpoint", eid], user=user_b)
    assert r.rc != 0 and ERR_NOT_FOUND in r.err, r
    r = tool(["gdbus", "call", "--address", bus.address, "--dest", NAME, "--object-path", path,
              "--method", "org.freedesktop.DBus.Properties.GetAll", ENDPOINT], user=user_b)
    assert r.rc != 0 and (ERR_NOT_FOUND in r.err or ERR_UNKNOWN_OBJECT in r.err), r
    assert set(client_a.list_endpoints()) == {path}


def test_cannot_create_on_someone_elses_directory(client_a, client_b, user_a, user_b, mkdir, scratch):
    a_open = mkdir("a-open", user_a, 0o755)
    a_world_writable = mkdir("a-777", user_a, 0o777)
    a_private = mkdir("a-private", user_a, 0o700)
    a_private_sub = a_private / "sub"
    a_private_sub.mkdir()
    os.chown(a_private_sub, user_a.uid, user_a.gid)
    a_file = scratch / "a-file"
    a_file.write_text("x")
    os.chown(a_file, user_a.uid, user_a.gid)
    b_dir = mkdir("b-home", user_b, 0o755)
    b_link = b_dir / "link-to-a"
    os.symlink(a_open, b_link)
    os.lchown(b_link, user_b.uid, user_b.gid)
    b_file = b_dir / "file"
    b_file.write_text("x")
    os.chown(b_file, user_b.uid, user_b.gid)
    # B's own directory inside A's private one: B owns it but cannot reach it.
    b_unreachable = a_private / "b-inside"
    b_unreachable.mkdir()
    os.chown(b_unreachable, user_b.uid, user_b.gid)
    # B's own directory that B cannot write.
    b_readonly = mkdir("b-readonly", user_b, 0o555)

    cases = {
        "A's directory": (a_open, (ERR_ACCESS_DENIED,)),
        "A's world-writable directory": (a_world_writable, (ERR_ACCESS_DENIED,)),
        "A's private directory": (a_private, (ERR_ACCESS_DENIED,)),
        "a directory inside A's private one": (a_private_sub, (ERR_ACCESS_DENIED, ERR_INVALID_PATH)),
        "B's directory B cannot reach": (b_unreachable, (ERR_ACCESS_DENIED, ERR_INVALID_PATH)),
        "B's directory B cannot write": (b_readonly, (ERR_ACCESS_DENIED,)),
        "B's symlink to A's directory": (b_link, (ERR_INVALID_PATH, ERR_ACCESS_DENIED)),
        "A's file": (a_file, (ERR_INVALID_PATH, ERR_ACCESS_DENIED)),
        "B's file": (b_file, (ERR_INVALID_PATH,)),
    }
    failures = []
    for what, (path, allowed) in cases.items():
        err = client_b.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", (str(path), {}))
        if err not in allowed:
            failures.append(f"{what} ({path}): got {err}, want one of {allowed}")
    assert not failures, "\n".join(failures)
    assert client_b.list_endpoints() == {}
    assert client_a.list_endpoints() == {}
    # B can create on its own directory.
    path, _ = client_b.create(b_dir)
    assert client_b.get(path, ENDPOINT, "Owner") == user_b.uid


def test_root_sees_and_deletes_everything(daemon, connect, client_a, client_b, user_a, user_b, a_endpoint, mkdir):
    path, eid, a_dir = a_endpoint
    b_path, b_id = client_b.create(mkdir("b-inbox", user_b))
    root = connect()
    assert set(root.list_endpoints()) == {path, b_path}
    assert root.list_endpoints()[path]["Owner"] == user_a.uid
    assert set(root.managed_objects()) == {path, b_path}
    assert endpoint_paths(root.tree(ROOT)) == {path, b_path}
    assert root.get_endpoint(eid) == path
    assert root.get_all(path, ENDPOINT) == client_a.get_all(path, ENDPOINT)
    # Root may create on any directory, including A's private one; it is root's endpoint.
    r_path, r_id = root.create(mkdir("a-priv", user_a, 0o700))
    assert root.get(r_path, ENDPOINT, "Owner") == 0
    assert client_a.error_of(ROOT, MANAGER, "GetEndpoint", "s", (r_id,)) == ERR_NOT_FOUND
    assert set(client_a.list_endpoints()) == {path}
    # Root deletes A's endpoint.
    root.delete(eid)
    assert client_a.list_endpoints() == {}
    assert client_a.error_of(ROOT, MANAGER, "GetEndpoint", "s", (eid,)) == ERR_NOT_FOUND
    assert set(root.list_endpoints()) == {b_path, r_path}


def test_per_user_endpoint_limit(daemon_factory, connect, user_a, user_b, mkdir):
    daemon_factory(config="[Daemon]\nMaxEndpointsPerUser=2\n")
    a, b = connect(user_a), connect(user_b)
    assert a.get(ROOT, MANAGER, "MaxEndpointsPerUser") == 2
    p1, id1 = a.create(mkdir("a1", user_a))
    a.create(mkdir("a2", user_a))
    a3 = str(mkdir("a3", user_a))
    assert a.error_of(ROOT, MANAGER, "CreateEndpoint", "sa{sv}", (a3, {})) == ERR_LIMIT
    assert len(a.list_endpoints()) == 2
    b.create(mkdir("b1", user_b))  # the limit is per user
    a.delete(id1)
    a.create(a3)
    assert len(a.list_endpoints()) == 2


def test_s2sctl_as_two_users(ctl, client_a, user_a, user_b, mkdir):
    d = mkdir("a-inbox", user_a)
    r = ctl("endpoint", "new", str(d), user=user_a)
    assert r.rc == 0, r
    eid = r.out.strip()
    assert client_a.list_endpoints()
    r = ctl("endpoint", "list", "--json", user=user_b)
    assert r.json() == [], r
    for args in (("endpoint", "show", eid), ("endpoint", "rm", eid)):
        r = ctl(*args, user=user_b)
        assert r.rc == 1 and r.err.startswith("s2sctl: "), r
    r = ctl("endpoint", "new", str(d), user=user_b)
    assert r.rc == 77 and r.err.startswith("s2sctl: "), r  # EX_NOPERM: not owned by the caller
    r = ctl("endpoint", "list", "--json", user=user_a)
    assert [e["id"] for e in r.json()] == [eid]
    assert r.json()[0]["owner"] == user_a.uid
    r = ctl("endpoint", "list", "--json")  # root
    assert [e["id"] for e in r.json()] == [eid]

