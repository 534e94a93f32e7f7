"""Helpers for the s2s black-box integration suite: a small jeepney D-Bus client, Bech32m,
introspection XML parsing. Fixtures live in conftest.py; this module holds plain code."""

from __future__ import annotations

import contextlib
import os
import re
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass

from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, new_method_call
from jeepney.io.blocking import open_dbus_connection

NAME = "org.s2s.Daemon1"
ROOT = "/org/s2s/Daemon1"
MANAGER = "org.s2s.Daemon1.Manager"
ENDPOINT = "org.s2s.Daemon1.Endpoint"
TRANSFER = "org.s2s.Daemon1.Transfer"
PROPS = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PEER = "org.freedesktop.DBus.Peer"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
U64_MAX = 2**64 - 1

# The header flag of a caller that accepts an authorization agent's questions.
ALLOW_INTERACTIVE_AUTHORIZATION = 0x4

ERR_INVALID_ARGUMENT = "org.s2s.Error.InvalidArgument"
ERR_INVALID_PATH = "org.s2s.Error.InvalidPath"
ERR_ACCESS_DENIED = "org.s2s.Error.AccessDenied"
ERR_NOT_FOUND = "org.s2s.Error.NotFound"
ERR_LIMIT = "org.s2s.Error.LimitExceeded"
ERR_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
ERR_UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"

ENDPOINT_PROPERTIES = {
    "Id", "Directory", "Owner", "CreatedTimestamp", "Quota", "ExpiresTimestamp",
    "RemainingUses", "BytesReceived", "FilesReceived", "Relay", "RelayConnected", "AllowDirect",
}
MANAGER_PROPERTIES = {"Version", "StartTimestamp", "PeerListeners", "MaxEndpointsPerUser", "IdleTimeout", "ExternalAddress",
                      "MaxIncomingTransfers", "MaxIncomingTransfersPerEndpoint", "FreeSpaceReserve", "MaxUploadRate",
                      "MaxDownloadRate", "MaxActiveSends", "MaxActiveSendsPerDestination", "MaxActiveSendsPerUser",
                      "MaxQueuedSendsPerUser", "RetryFor", "HistoryRetention",
                      "QueuedSends", "ActiveSends", "CPUTimeByPhase"}
# Endpoints and transfers are named by their owner's UID and their number among that owner's:
# /org/s2s/Daemon1/endpoint/UID_N, canonical decimal, N from 1 (issue 19, finding 8).
OBJECT_NUMBER = r"(0|[1-9][0-9]*)_([1-9][0-9]*)"
ENDPOINT_PATH_RE = re.compile(rf"^/org/s2s/Daemon1/endpoint/{OBJECT_NUMBER}$")
TRANSFER_PATH_RE = re.compile(rf"^/org/s2s/Daemon1/transfer/{OBJECT_NUMBER}$")


def endpoint_path(uid: int, number: int) -> str:
    return f"{ROOT}/endpoint/{uid}_{number}"


def transfer_path(uid: int, number: int) -> str:
    return f"{ROOT}/transfer/{uid}_{number}"


def object_number(path: str) -> tuple[int, int]:
    """(owner UID, number) of an endpoint's or a transfer's object path."""
    m = ENDPOINT_PATH_RE.match(path) or TRANSFER_PATH_RE.match(path)
    assert m, f"not an endpoint or transfer object: {path!r}"
    return int(m.group(1)), int(m.group(2))


def number_of(path: str) -> int:
    """N of .../UID_N: the number s2sctl takes for the caller's own object."""
    return object_number(path)[1]
ID_RE = re.compile(r"^s2s1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$")


# --------------------------------------------------------------------------------------------
# Bech32m (BIP-350)

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (b >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_expand(hrp):
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convertbits(data, frombits, tobits, pad):
    acc = bits = 0
    out = []
    maxv = (1 << tobits) - 1
    for v in data:
        acc = (acc << frombits) | v
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (tobits - bits)) & maxv)
    elif not pad and (bits >= frombits or ((acc << (tobits - bits)) & maxv)):
        raise ValueError("bad padding")
    return out


def bech32_encode(hrp: str, payload: bytes, const: int = BECH32M_CONST) -> str:
    data = _convertbits(payload, 8, 5, True)
    pm = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + checksum)


def bech32m_decode(s: str) -> tuple[str, bytes]:
    """Decodes a Bech32m string; raises ValueError when it is not one."""
    if s.lower() != s and s.upper() != s:
        raise ValueError("mixed case")
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        raise ValueError("no separator")
    hrp, rest = s[:pos], s[pos + 1:]
    if any(c not in CHARSET for c in rest):
        raise ValueError("bad character")
    data = [CHARSET.index(c) for c in rest]
    if _polymod(_hrp_expand(hrp) + data) != BECH32M_CONST:
        raise ValueError("bad checksum")
    return hrp, bytes(_convertbits(data[:-6], 5, 8, False))


def random_valid_id() -> str:
    return bech32_encode("s2s", os.urandom(32))


def assert_valid_id(endpoint_id: str) -> bytes:
    assert isinstance(endpoint_id, str)
    assert len(endpoint_id) == 62, endpoint_id
    assert ID_RE.match(endpoint_id), endpoint_id
    hrp, key = bech32m_decode(endpoint_id)
    assert hrp == "s2s"
    assert len(key) == 32
    return key


def typo_variants(endpoint_id: str):
    """Every single-character substitution in the data part (one per position)."""
    for i in range(4, len(endpoint_id)):
        c = endpoint_id[i]
        repl = CHARSET[(CHARSET.index(c) + 1 + i % 31) % 32]
        assert repl != c
        yield endpoint_id[:i] + repl + endpoint_id[i + 1:]


# --------------------------------------------------------------------------------------------
# D-Bus client (jeepney)

class DBusError(Exception):
    def __init__(self, name: str, message: str = ""):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int


@contextlib.contextmanager
def effective_user(user: User | None):
    """Runs the block with the effective uid/gid/groups of USER (no-op for None).

    The D-Bus bus authenticates a connection by SO_PEERCRED, which the kernel records at
    connect() from the effective credentials, so a connection opened inside this block
    belongs to USER for its whole life, exactly as if USER's own process had opened it."""
    if user is None:
        yield
        return
    saved_groups = os.getgroups()
    os.setgroups(os.getgrouplist(user.name, user.gid))
    os.setegid(user.gid)
    os.seteuid(user.uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(saved_groups)


def unwrap(value):
    """Turns jeepney variants ((sig, value) tuples inside a{sv}) into plain values."""
    if isinstance(value, dict):
        return {k: unwrap_variant(v) for k, v in value.items()}
    return value


def unwrap_variant(v):
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str):
        return unwrap(v[1])
    return unwrap(v)


class Client:
    """A D-Bus client of the private bus, as root or as a given user."""

    def __init__(self, address: str, user: User | None = None, timeout: float = 15):
        with effective_user(user):
            self.conn = open_dbus_connection(address, auth_timeout=5)
        self.user = user
        self.timeout = timeout
        self.unique_name = self.conn.unique_name
        self.signals: deque = deque(maxlen=10000)
        self._filter = self.conn.filter(MatchRule(type="signal"), queue=self.signals)

    def close(self):
        with contextlib.suppress(Exception):
            self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # raw calls
    def call(self, path, iface, member, sig="", body=(), dest=NAME, timeout=None, interactive=False):
        msg = new_method_call(DBusAddress(path, bus_name=dest, interface=iface), member, sig, tuple(body))
        if interactive:
            msg.header.flags |= ALLOW_INTERACTIVE_AUTHORIZATION
        reply = self.conn.send_and_get_reply(msg, timeout=timeout or self.timeout)
        if reply.header.message_type == MessageType.error:
            name = reply.header.fields.get(HeaderFields.error_name, "")
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise DBusError(name, text)
        return reply.body

    def error_of(self, *args, **kw) -> str | None:
        """The D-Bus error name the call fails with, or None if it succeeds."""
        try:
            self.call(*args, **kw)
        except DBusError as e:
            return e.name
        return None

    def manager(self, member, sig="", body=()):
        return self.call(ROOT, MANAGER, member, sig, body)

    def bus_call(self, member, sig="", body=()):
        return self.call("/org/freedesktop/DBus", "org.freedesktop.DBus", member, sig, body,
                         dest="org.freedesktop.DBus")

    # Manager
    def create(self, directory, **options):
        opts = {}
        for k, v in options.items():
            opts[k] = v if isinstance(v, tuple) else ("t", v)
        path, endpoint_id = self.manager("CreateEndpoint", "sa{sv}", (str(directory), opts))
        return path, endpoint_id

    def list_endpoints(self) -> dict:
        (items,) = self.manager("ListEndpoints")
        out = {}
        for path, props in items:
            assert path not in out, f"duplicate object {path} in ListEndpoints"
            out[path] = unwrap(props)
        return out

    def get_endpoint(self, endpoint_id):
        return self.manager("GetEndpoint", "s", (endpoint_id,))[0]

    def delete(self, endpoint_id):
        self.manager("DeleteEndpoint", "s", (endpoint_id,))

    def subscribe(self):
        self.manager("Subscribe")

    def unsubscribe(self):
        self.manager("Unsubscribe")

    # Properties / standard interfaces
    def get(self, path, iface, prop):
        (v,) = self.call(path, PROPS, "Get", "ss", (iface, prop))
        return unwrap_variant(v)

    def get_all(self, path, iface):
        (d,) = self.call(path, PROPS, "GetAll", "s", (iface,))
        return unwrap(d)

    def manager_props(self):
        return self.get_all(ROOT, MANAGER)

    def managed_objects(self) -> dict:
        (objs,) = self.call(ROOT, OBJECT_MANAGER, "GetManagedObjects")
        return {p: {i: unwrap(props) for i, props in ifaces.items()} for p, ifaces in objs.items()}

    def introspect(self, path) -> str:
        return self.call(path, INTROSPECTABLE, "Introspect")[0]

    def tree(self, start="/", limit=500) -> set:
        """All object paths reachable by Introspect child nodes from START."""
        seen, todo = set(), [start]
        while todo and len(seen) < limit:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            try:
                xml = self.introspect(p)
            except DBusError:
                continue
            for child in ET.fromstring(xml).findall("node"):
                name = child.get("name")
                if name:
                    todo.append(p.rstrip("/") + "/" + name.strip("/"))
        return seen

    def name_owner(self, name=NAME):
        try:
            return self.bus_call("GetNameOwner", "s", (name,))[0]
        except DBusError:
            return None

    # signals
    def drain_signals(self, seconds: float) -> list:
        """Receives for SECONDS and returns every signal collected so far (and clears)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                self.conn.recv_messages(timeout=left)
            except TimeoutError:
                break
        out = list(self.signals)
        self.signals.clear()
        return out

    def wait_signal(self, predicate, timeout=10):
        """Receives until a signal satisfying PREDICATE arrives. Returns (that signal, every
        signal received before it). Raises AssertionError on timeout."""
        before = []
        deadline = time.monotonic() + timeout
        while True:
            while self.signals:
                m = self.signals.popleft()
                if predicate(m):
                    return m, before
                before.append(m)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching signal within {timeout}s; got {[describe(m) for m in before]}")
            try:
                self.conn.recv_messages(timeout=left)
            except TimeoutError:
                pass


def describe(msg) -> str:
    f = msg.header.fields
    return (f"{f.get(HeaderFields.interface)}.{f.get(HeaderFields.member)} path={f.get(HeaderFields.path)} "
            f"dest={f.get(HeaderFields.destination)} body={msg.body!r}"[:400])


def is_om_signal(msg, member=None) -> bool:
    f = msg.header.fields
    return (msg.header.message_type == MessageType.signal
            and f.get(HeaderFields.interface) == OBJECT_MANAGER
            and (member is None or f.get(HeaderFields.member) == member))


# --------------------------------------------------------------------------------------------
# Introspection XML

def parse_interfaces(xml_text: str) -> dict:
    """{interface: {"methods": {...}, "properties": {...}, "signals": {...}}} of one node."""
    root = ET.fromstring(xml_text)
    out = {}
    for iface in root.findall("interface"):
        methods, props, signals = {}, {}, {}
        for m in iface.findall("method"):
            methods[m.get("name")] = [
                (a.get("name"), a.get("type"), a.get("direction") or "in") for a in m.findall("arg")
            ]
        for p in iface.findall("property"):
            props[p.get("name")] = {
                "type": p.get("type"),
                "access": p.get("access"),
                "annotations": {a.get("name"): a.get("value") for a in p.findall("annotation")},
            }
        for s in iface.findall("signal"):
            signals[s.get("name")] = [(a.get("name"), a.get("type")) for a in s.findall("arg")]
        out[iface.get("name")] = {"methods": methods, "properties": props, "signals": signals}
    return out


def child_nodes(xml_text: str) -> list:
    return [n.get("name") for n in ET.fromstring(xml_text).findall("node")]


# Standard interfaces: member -> in/out signatures (argument names vary between implementations).
STANDARD = {
    PROPS: {
        "methods": {"Get": ("ss", "v"), "GetAll": ("s", "a{sv}"), "Set": ("ssv", "")},
        "signals": {"PropertiesChanged": "sa{sv}as"},
    },
    INTROSPECTABLE: {"methods": {"Introspect": ("", "s")}, "signals": {}},
    PEER: {"methods": {"Ping": ("", ""), "GetMachineId": ("", "s")}, "signals": {}},
    OBJECT_MANAGER: {
        "methods": {"GetManagedObjects": ("", "a{oa{sa{sv}}}")},
        "signals": {"InterfacesAdded": "oa{sa{sv}}", "InterfacesRemoved": "oas"},
    },
}


def signature_of(iface_desc: dict) -> dict:
    methods = {
        name: ("".join(t for _, t, d in args if d == "in"), "".join(t for _, t, d in args if d == "out"))
        for name, args in iface_desc["methods"].items()
    }
    signals = {name: "".join(t for _, t in args) for name, args in iface_desc["signals"].items()}
    return {"methods": methods, "signals": signals}


def context_switches(pid: int) -> dict[str, int]:
    """Voluntary context switches so far of each thread of pid: each one is a thread going to
    sleep, i.e. one wake-up. (Involuntary ones are preemptions, which other load on the machine
    causes.)"""
    counts = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                counts[task] = sum(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
        except OSError:  # a thread that ended meanwhile
            pass
    return counts


def wakeups_during(pid: int, seconds: float) -> int:
    """Wake-ups of pid's threads over the next seconds (threads that end meanwhile are not counted)."""
    start = context_switches(pid)
    time.sleep(seconds)
    return sum(n - start.get(task, 0) for task, n in context_switches(pid).items())


def cpu_seconds(pid: int) -> float:
    """User and system CPU time pid has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
