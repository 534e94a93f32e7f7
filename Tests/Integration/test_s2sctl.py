"""s2sctl against the real daemon: output formats, sizes, durations, JSON, not running, --user."""

import datetime as dt
import re


from conftest import S2SCTL, base_env, run
from s2sit import CHARSET, ENDPOINT, ID_RE, U64_MAX, assert_valid_id, object_number, random_valid_id

JSON_KEYS = {"number", "id", "object", "directory", "owner", "created", "quota", "expires", "remainingUses",
             "bytesReceived", "filesReceived", "address", "relay", "relayConnected", "allowDirect"}


def new(ctl, *args, **kw):
    r = ctl("endpoint", "new", *[str(a) for a in args], **kw)
    assert r.rc == 0, r
    lines = [l for l in r.out.splitlines() if l.strip()]
    assert len(lines) == 1 and ID_RE.match(lines[0].strip()), f"want the ID alone on a line: {r}"
    eid = lines[0].strip()
    assert_valid_id(eid)
    return eid


def rfc3339_utc(s) -> dt.datetime:
    assert isinstance(s, str) and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]00:00)$", s), s
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert t.utcoffset() == dt.timedelta(0)
    return t


def usec(t: dt.datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def check_json_endpoint(obj, props, path):
    assert set(obj) == JSON_KEYS, obj
    assert obj["id"] == props["Id"]
    assert obj["object"] == path
    assert (obj["owner"], obj["number"]) == object_number(path)
    assert obj["directory"] == props["Directory"]
    assert obj["owner"] == props["Owner"] and isinstance(obj["owner"], int)
    assert abs(usec(rfc3339_utc(obj["created"])) - props["CreatedTimestamp"]) < 1_000_000
    assert obj["quota"] == (None if props["Quota"] == U64_MAX else props["Quota"])
    if props["ExpiresTimestamp"] == U64_MAX:
        assert obj["expires"] is None
    else:
        assert abs(usec(rfc3339_utc(obj["expires"])) - props["ExpiresTimestamp"]) < 1_000_000
    assert obj["remainingUses"] == (None if props["RemainingUses"] == U64_MAX else props["RemainingUses"])
    assert obj["bytesReceived"] == props["BytesReceived"]
    assert obj["filesReceived"] == props["FilesReceived"]


def test_new_show_rm(ctl, root, mkdir):
    d = mkdir("inbox")
    eid = new(ctl, d)
    path = root.get_endpoint(eid)
    props = root.get_all(path, ENDPOINT)
    assert props["Directory"] == str(d) and props["Owner"] == 0
    r = ctl("endpoint", "show", eid)
    assert r.rc == 0 and eid in r.out and str(d) in r.out, r
    r = ctl("endpoint", "show", eid.upper(), "--json")
    check_json_endpoint(r.json(), props, path)
    r = ctl("endpoint", "rm", eid.upper())
    assert r.rc == 0, r
    assert root.list_endpoints() == {}
    r = ctl("endpoint", "show", eid)
    assert r.rc == 1 and r.err.startswith("s2sctl: "), r


def test_relative_directory_is_made_absolute(ctl, client_a, user_a, mkdir):
    home = mkdir("home-a", user_a)
    sub = mkdir("home-a/inbox", user_a)
    eid = new(ctl, "inbox", user=user_a, cwd=home)
    path = client_a.get_endpoint(eid)
    assert client_a.get(path, ENDPOINT, "Directory") == str(sub)
    assert client_a.get(path, ENDPOINT, "Owner") == user_a.uid


SIZES = [("10G", 10 << 30), ("512M", 512 << 20), ("1.5G", 1610612736), ("4096", 4096), ("1K", 1024),
         ("2T", 2 << 40)]
DURATIONS = [("30s", 30), ("10min", 600), ("2h", 7200), ("7d", 7 * 86400)]


def test_quota_sizes(ctl, root, mkdir):
    failures = []
    for i, (size, expected) in enumerate(SIZES):
        eid = new(ctl, mkdir(f"inbox{i}"), "--quota", size)
        got = root.get(root.get_endpoint(eid), ENDPOINT, "Quota")
        shown = ctl("endpoint", "show", eid, "--json").json()["quota"]
        if (got, shown) != (expected, expected):
            failures.append(f"--quota {size}: Quota {got}, JSON quota {shown}, want {expected}")
    assert not failures, "\n".join(failures)


def test_expires_durations(ctl, root, mkdir):
    failures = []
    for i, (duration, seconds) in enumerate(DURATIONS):
        eid = new(ctl, mkdir(f"inbox{i}"), "--expires", duration)
        p = root.get_all(root.get_endpoint(eid), ENDPOINT)
        if abs(p["ExpiresTimestamp"] - (p["CreatedTimestamp"] + seconds * 1_000_000)) > 2_000_000:
            failures.append(f"--expires {duration}: ExpiresTimestamp {p['ExpiresTimestamp']}, "
                            f"CreatedTimestamp {p['CreatedTimestamp']}, want + {seconds} s")
    assert not failures, "\n".join(failures)


def test_once_and_all_options_in_json(ctl, root, mkdir):
    r = ctl("endpoint", "new", str(mkdir("inbox")), "--once", "--quota", "1M", "--expires", "1h", "--json")
    obj = r.json()
    assert isinstance(obj, dict), r
    path = root.get_endpoint(obj["id"])
    props = root.get_all(path, ENDPOINT)
    assert props["RemainingUses"] == 1 and props["Quota"] == 1 << 20
    check_json_endpoint(obj, props, path)
    assert obj["remainingUses"] == 1 and obj["quota"] == 1 << 20 and obj["expires"] is not None


def test_list(ctl, root, mkdir):
    r = ctl("endpoint", "list", "--json")
    assert r.json() == []
    r = ctl("endpoint", "list")
    assert r.rc == 0, r
    ids = [new(ctl, mkdir("a")), new(ctl, mkdir("b"), "--quota", "1G", "--once")]
    r = ctl("endpoint", "list")
    assert r.rc == 0, r
    lines = [l for l in r.out.splitlines() if l.strip()]
    assert len(lines) == 3, f"a header line and one line per endpoint: {r}"
    assert "id" in lines[0].lower() and not any(i in lines[0] for i in ids), r
    for i in ids:
        assert sum(i in l for l in lines[1:]) == 1, r
    listed = ctl("endpoint", "list", "--json").json()
    assert isinstance(listed, list) and sorted(e["id"] for e in listed) == sorted(ids)
    dbus = root.list_endpoints()
    for obj in listed:
        check_json_endpoint(obj, dbus[obj["object"]], obj["object"])


def test_status(ctl, daemon):
    r = ctl("status")
    assert r.rc == 0 and r.out.strip(), r
    assert isinstance(ctl("status", "--json").json(), dict)


def test_help(bus):
    env = base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address)
    for args in (["--help"], ["endpoint", "--help"], ["endpoint", "new", "--help"]):
        r = run([S2SCTL, *args], env=env)
        assert r.rc == 0 and "usage" in (r.out + r.err).lower(), r


def test_not_running(bus, ctl, mkdir):
    """The bus is there, s2sd is not."""
    for args in (("status",), ("endpoint", "list"), ("endpoint", "new", str(mkdir("inbox"))),
                 ("endpoint", "show", random_valid_id())):
        r = ctl(*args)
        assert r.rc == 69, r  # EX_UNAVAILABLE
        assert r.err.startswith("s2sctl: "), r
        assert "not running" in r.err.lower(), r
        assert "start" in r.err.lower() and ("s2sd" in r.err or "systemctl" in r.err), \
            f"say how to start it: {r}"
        assert "Traceback" not in r.err and "Fatal error" not in r.err


def test_no_bus_at_all(ctl, scratch):
    env = base_env(DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={scratch}/no-such-socket")
    r = ctl("status", env=env)
    assert r.rc == 69 and r.err.startswith("s2sctl: ") and r.err.strip() != "s2sctl:", r
    assert "Fatal error" not in r.err


def test_send_refuses_a_mistyped_id_without_the_bus(scratch):
    """A destination with one mistyped character fails on its checksum in s2sctl itself: both
    buses point at sockets that do not exist, so any bus call would fail with another message."""
    source = scratch / "file.txt"
    source.write_text("hello\n")
    good = random_valid_id()
    index = 20  # a data character: any single substitution breaks the Bech32m checksum
    mistyped = good[:index] + next(c for c in CHARSET if c != good[index]) + good[index + 1:]
    env = base_env(DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={scratch}/no-system-bus",
                   DBUS_SESSION_BUS_ADDRESS=f"unix:path={scratch}/no-session-bus")
    for bus_flag in ("--system", "--user"):
        r = run([S2SCTL, bus_flag, "send", source, f"{mistyped}@192.0.2.1:7730"], env=env, cwd=scratch)
        assert r.rc == 65, r  # EX_DATAERR
        assert r.err == "s2sctl: the endpoint ID's checksum does not match: a character is mistyped\n", r
        assert r.out == "", r
        # The control: a well-typed ID gets as far as the (missing) bus.
        r = run([S2SCTL, bus_flag, "send", source, f"{good}@192.0.2.1:7730"], env=env, cwd=scratch)
        assert r.rc == 69 and r.err.startswith("s2sctl: cannot reach "), r


def test_user_bus(daemon_factory, bus, mkdir, scratch):
    """s2sd --user and s2sctl --user use DBUS_SESSION_BUS_ADDRESS; the system bus is elsewhere."""
    daemon_factory(user_bus=True)
    env = base_env(DBUS_SESSION_BUS_ADDRESS=bus.address,
                   DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={scratch}/no-system-bus")
    r = run([S2SCTL, "--user", "endpoint", "new", mkdir("inbox")], env=env, cwd=scratch)
    assert r.rc == 0 and ID_RE.match(r.out.strip()), r
    r = run([S2SCTL, "--user", "endpoint", "list", "--json"], env=env, cwd=scratch)
    assert len(r.json()) == 1
    r = run([S2SCTL, "endpoint", "list", "--json"], env=env, cwd=scratch)  # --system by default
    assert r.rc == 69 and r.err.startswith("s2sctl: "), r
