"""The Manager and Endpoint API through clients this project did not write: jeepney, busctl, gdbus."""

import json
import os
import re
import time

from s2sit import (
    ENDPOINT, ENDPOINT_PATH_RE, ENDPOINT_PROPERTIES, ERR_INVALID_ARGUMENT, ERR_NOT_FOUND, ERR_UNKNOWN_OBJECT,
    MANAGER, MANAGER_PROPERTIES, NAME, OBJECT_MANAGER, PEER, ROOT, U64_MAX, assert_valid_id, random_valid_id,
    typo_variants, bech32_encode, BECH32_CONST,
)

BUSCTL = ["busctl", "--no-pager"]


def now_usec():
    return int(time.time() * 1_000_000)


def test_manager_properties(daemon, root):
    props = root.manager_props()
    assert set(props) == MANAGER_PROPERTIES
    assert isinstance(props["Version"], str) and props["Version"].strip()
    assert 0 < now_usec() - props["StartTimestamp"] < 120_000_000, props["StartTimestamp"]
    assert isinstance(props["PeerListeners"], list)
    assert all(isinstance(x, str) for x in props["PeerListeners"])
    assert props["PeerListeners"] == [], "a daemon started by hand without LISTEN_FDS listens on nothing"
    assert props["MaxEndpointsPerUser"] > 0
    assert isinstance(props["IdleTimeout"], int)
    for name, value in props.items():
        assert root.get(ROOT, MANAGER, name) == value


def test_create_defaults(root, mkdir):
    d = mkdir("inbox")
    before = now_usec()
    path, eid = root.create(d)
    after = now_usec()
    assert ENDPOINT_PATH_RE.match(path), path
    key = assert_valid_id(eid)
    assert eid not in path and eid[4:] not in path and key.hex() not in path
    props = root.get_all(path, ENDPOINT)
    assert set(props) == ENDPOINT_PROPERTIES
    assert props["Id"] == eid
    assert props["Directory"] == str(d)
    assert props["Owner"] == 0
    assert before - 1_000_000 <= props["CreatedTimestamp"] <= after + 1_000_000
    assert props["Quota"] == U64_MAX
    assert props["ExpiresTimestamp"] == U64_MAX
    assert props["RemainingUses"] == U64_MAX
    assert props["BytesReceived"] == 0
    assert props["FilesReceived"] == 0
    for name, value in props.items():
        assert root.get(path, ENDPOINT, name) == value
    assert root.get_endpoint(eid) == path
    assert root.list_endpoints() == {path: props}


def test_create_with_options(root, mkdir):
    d = mkdir("inbox")
    path, eid = root.create(d, Quota=1234567, Lifetime=3600, MaxUses=5)
    p = root.get_all(path, ENDPOINT)
    assert p["Quota"] == 1234567
    assert p["RemainingUses"] == 5
    assert abs(p["ExpiresTimestamp"] - (p["CreatedTimestamp"] + 3600 * 1_000_000)) <= 2_000_000, p
    # Each option alone leaves the others unlimited.
    path2, _ = root.create(mkdir("inbox2"), MaxUses=1)
    p2 = root.get_all(path2, ENDPOINT)
    assert (p2["RemainingUses"], p2["Quota"], p2["ExpiresTimestamp"]) == (1, U64_MAX, U64_MAX)


def test_ids_are_unique_random_keys(root, mkdir):
    seen_ids, seen_paths = set(), set()
    for i in range(5):
        path, eid = root.create(mkdir(f"d{i}"))
        assert_valid_id(eid)
        seen_ids.add(eid)
        seen_paths.add(path)
    assert len(seen_ids) == 5 and len(seen_paths) == 5
    assert set(root.list_endpoints()) == seen_paths


def test_get_endpoint_is_case_insensitive(root, mkdir):
    path, eid = root.create(mkdir("inbox"))
    assert root.get_endpoint(eid.upper()) == path
    root.delete(eid.upper())
    assert root.list_endpoints() == {}


def test_delete(root, mkdir):
    d = mkdir("inbox")
    (d / "already-there").write_text("x")
    path, eid = root.create(d)
    keep_path, keep_id = root.create(mkdir("other"))
    root.delete(eid)
    assert root.error_of(ROOT, MANAGER, "GetEndpoint", "s", (eid,)) == ERR_NOT_FOUND
    assert root.error_of(ROOT, MANAGER, "DeleteEndpoint", "s", (eid,)) == ERR_NOT_FOUND
    assert root.error_of(path, "org.freedesktop.DBus.Properties", "GetAll", "s", (ENDPOINT,)) in (
        ERR_NOT_FOUND, ERR_UNKNOWN_OBJECT)
    assert set(root.list_endpoints()) == {keep_path}
    assert path not in root.managed_objects()
    assert (d / "already-there").read_text() == "x", "deleting an endpoint keeps the files"
    assert root.get_endpoint(keep_id) == keep_path


def test_unknown_but_well_formed_id_is_not_found(root, mkdir):
    root.create(mkdir("inbox"))
    unknown = random_valid_id()
    for method in ("GetEndpoint", "DeleteEndpoint"):
        assert root.error_of(ROOT, MANAGER, method, "s", (unknown,)) == ERR_NOT_FOUND
        assert root.error_of(ROOT, MANAGER, method, "s", (unknown.upper(),)) == ERR_NOT_FOUND


def test_one_character_typo_is_rejected(root, mkdir):
    path, eid = root.create(mkdir("inbox"))
    for bad in typo_variants(eid):
        assert root.error_of(ROOT, MANAGER, "GetEndpoint", "s", (bad,)) == ERR_INVALID_ARGUMENT, bad
    # Swapped neighbours, and a typo on DeleteEndpoint, too.
    i = next(i for i in range(10, 60) if eid[i] != eid[i + 1])
    swapped = eid[:i] + eid[i + 1] + eid[i] + eid[i + 2:]
    assert root.error_of(ROOT, MANAGER, "GetEndpoint", "s", (swapped,)) == ERR_INVALID_ARGUMENT
    bad = next(typo_variants(eid))
    assert root.error_of(ROOT, MANAGER, "DeleteEndpoint", "s", (bad,)) == ERR_INVALID_ARGUMENT
    assert root.get_endpoint(eid) == path


MALFORMED_IDS = [
    "", "s2s1", "s2s", "hello", "x" * 62, " ", "s2s1" + "q" * 58,
    bech32_encode("s2t", os.urandom(32)),                         # wrong HRP, valid checksum
    bech32_encode("s2s", os.urandom(32), const=BECH32_CONST),     # Bech32, not Bech32m
    bech32_encode("s2s", os.urandom(31)),                         # too short payload
    bech32_encode("s2s", os.urandom(33)),                         # too long payload
    "s2s1" + "b" * 58,                                            # 'b' is not in the alphabet
    "../../etc/passwd", "/org/s2s/Daemon1/endpoint/1", "1",
]


def test_malformed_ids(root, mkdir):
    path, eid = root.create(mkdir("inbox"))
    mixed_case = eid[:10] + eid[10:].upper()
    # (Surrounding white space is deliberately ignored: EndpointID(parsing:) accepts pasted IDs.)
    bad_ids = MALFORMED_IDS + [eid + "q", eid[:-1], eid[:30] + eid[31:], eid[:30] + " " + eid[31:], mixed_case]
    failures = []
    for bad in bad_ids:
        for method in ("GetEndpoint", "DeleteEndpoint"):
            err = root.error_of(ROOT, MANAGER, method, "s", (bad,))
            if err != ERR_INVALID_ARGUMENT:
                failures.append(f"{method}({bad!r}): got {err}, want {ERR_INVALID_ARGUMENT}")
    assert not failures, "\n".join(failures)
    assert root.list_endpoints().keys() == {path}


def test_managed_objects_and_introspection_tree(root, mkdir):
    p1, id1 = root.create(mkdir("a"))
    p2, id2 = root.create(mkdir("b"), Quota=10)
    objs = root.managed_objects()
    assert set(objs) == {p1, p2}
    for p in (p1, p2):
        assert objs[p][ENDPOINT] == root.get_all(p, ENDPOINT)
        assert MANAGER not in objs[p]
    tree = root.tree(ROOT)
    assert {p for p in tree if ENDPOINT_PATH_RE.match(p)} == {p1, p2}
    root.delete(id1)
    tree = root.tree(ROOT)
    assert {p for p in tree if ENDPOINT_PATH_RE.match(p)} == {p2}


def test_peer_interface(root, mkdir):
    path, _ = root.create(mkdir("inbox"))
    for p in (ROOT, path):
        assert root.call(p, PEER, "Ping") == ()
        (machine_id,) = root.call(p, PEER, "GetMachineId")
        assert machine_id == open("/etc/machine-id").read().strip()


def test_busctl_client(daemon, tool, mkdir):
    d = mkdir("inbox")
    r = tool([*BUSCTL, f"--address={daemon.bus.address}", "--json=short", "call", NAME, ROOT, MANAGER,
              "CreateEndpoint", "sa{sv}", str(d), "2", "Quota", "t", "1048576", "MaxUses", "t", "3"])
    assert r.rc == 0, r
    out = json.loads(r.out)
    assert out["type"] == "os"
    path, eid = out["data"]
    assert_valid_id(eid)
    r = tool([*BUSCTL, f"--address={daemon.bus.address}", "--json=short", "get-property", NAME, path, ENDPOINT,
              "Quota", "RemainingUses", "Directory"])
    assert r.rc == 0, r
    values = [json.loads(line)["data"] for line in r.out.splitlines() if line.strip()]
    assert values == [1048576, 3, str(d)]
    r = tool([*BUSCTL, f"--address={daemon.bus.address}", "--json=short", "call", NAME, ROOT, MANAGER,
              "ListEndpoints"])
    assert r.rc == 0, r
    listed = json.loads(r.out)
    assert listed["type"] == "a(oa{sv})"
    assert [e[0] for e in listed["data"][0]] == [path]
    assert listed["data"][0][0][1]["Id"]["data"] == eid
    r = tool([*BUSCTL, f"--address={daemon.bus.address}", "introspect", NAME, path])
    assert r.rc == 0 and ENDPOINT in r.out and ".Quota" in r.out, r
    r = tool([*BUSCTL, f"--address={daemon.bus.address}", "tree", "--list", NAME])
    assert r.rc == 0, r
    assert ROOT in r.out.split() and path in r.out.split(), r
    r = tool([*BUSCTL, f"--address={daemon.bus.address}", "call", NAME, ROOT, MANAGER, "DeleteEndpoint", "s",
              eid.upper()])
    assert r.rc == 0, r
    r = tool([*BUSCTL, f"--address={daemon.bus.address}", "call", NAME, ROOT, MANAGER, "GetEndpoint", "s", eid])
    assert r.rc != 0 and r.err.strip(), r


def test_gdbus_client(daemon, tool, mkdir):
    d = mkdir("inbox")
    gd = ["gdbus", "call", "--address", daemon.bus.address, "--dest", NAME, "--object-path", ROOT]
    r = tool([*gd, "--method", f"{MANAGER}.CreateEndpoint", str(d), "{'Quota': <uint64 4096>, 'Lifetime': <uint64 60>}"])
    assert r.rc == 0, r
    m = re.fullmatch(r"\(objectpath '(/org/s2s/Daemon1/endpoint/\d+_\d+)', '(s2s1\w+)'\)\s*", r.out)
    assert m, r
    path, eid = m.groups()
    assert_valid_id(eid)
    r = tool([*gd, "--method", f"{MANAGER}.GetEndpoint", eid.upper()])
    assert r.rc == 0 and path in r.out, r
    r = tool(["gdbus", "call", "--address", daemon.bus.address, "--dest", NAME, "--object-path", path,
              "--method", "org.freedesktop.DBus.Properties.Get", ENDPOINT, "Quota"])
    assert r.rc == 0 and "4096" in r.out, r
    r = tool([*gd, "--method", f"{OBJECT_MANAGER}.GetManagedObjects"])
    assert r.rc == 0 and path in r.out and eid in r.out, r
    r = tool(["gdbus", "introspect", "--address", daemon.bus.address, "--dest", NAME, "--object-path", ROOT])
    assert r.rc == 0 and MANAGER in r.out and "CreateEndpoint" in r.out, r
    # A typo gets the named error.
    r = tool([*gd, "--method", f"{MANAGER}.GetEndpoint", next(typo_variants(eid))])
    assert r.rc != 0 and ERR_INVALID_ARGUMENT in r.err, r
    r = tool([*gd, "--method", f"{MANAGER}.DeleteEndpoint", eid])
    assert r.rc == 0, r
    r = tool([*gd, "--method", f"{MANAGER}.GetEndpoint", eid])
    assert r.rc != 0 and ERR_NOT_FOUND in r.err, r


def test_directory_is_stored_canonical(root, mkdir, scratch):
    """docs/dbus-api.md: the Directory property is the canonical path as the kernel resolved it;
    only a symlink as the final component is refused."""
    real = mkdir("real")
    inbox = mkdir("real/inbox")
    os.symlink(real, scratch / "via-link")
    for spelled in (f"{scratch}//real/./inbox", f"{scratch}/real/inbox/", f"{scratch}/real/../real/inbox",
                    f"{scratch}/via-link/inbox"):
        path, eid = root.create(spelled)
        assert root.get(path, ENDPOINT, "Directory") == str(inbox), spelled
        root.delete(eid)
