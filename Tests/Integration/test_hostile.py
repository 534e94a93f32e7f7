# A hostile sender against s2sd's receiving side, black-box, over loopback TCP with the
# independent protocol client of peerclient.py (docs/protocol.md is the reference).
#
# Every test plays one attack and then checks what must hold whatever the daemon answered:
#   - the session ends as the specification says (REFUSE, CANCEL, or a close without a word);
#   - nothing was written outside the endpoint (the directories around it, symlink targets,
#     /etc, /tmp): `assert_outside_untouched`;
#   - nothing half-written is visible in the endpoint: only files confirmed (or complete and
#     correct) exist under a final name, partial data stays in `.s2s-partial`:
#     `assert_endpoint_holds` / `assert_nothing_visible`;
#   - the daemon is alive, answers on D-Bus, and still receives a correct transfer: `assert_unharmed`.
#
# Tests marked `slow` wait for the default protocol timeouts (60 s idle, 120 s offer); deselect them
# with -m "not slow". The fast variants need s2sd's PeerIdleTimeout=/PeerOfferTimeout= settings and
# are skipped (with the reason) by a daemon that does not know them.

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import stat
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import peerclient as pc
from conftest import S2SCTL, Bus, Daemon, _failed, base_env, free_port, make_dir, run
from peerclient import FILE_RESULT, Item, PeerClient, SessionResult
from s2sit import User
from test_transfer import wait_for

HOST = "127.0.0.1"
MARKER = f"s2s-hostile-{os.getpid()}-{os.urandom(4).hex()}"   # hostile paths aim at this name
M = MARKER.encode()
SENSITIVE = [Path("/etc/passwd"), Path("/etc/hostname")]      # must never change
_names = itertools.count(1)


def sha256(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def blob(n: int, seed: int = 0) -> bytes:
    """N deterministic pseudo-random bytes."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(struct.pack(">QQ", seed, counter)).digest()
        counter += 1
    return bytes(out[:n])


# --------------------------------------------------------------------------------------------
# The receiver under attack

@dataclass
class Receiver:
    """A daemon listening on a loopback port with one endpoint, owned by user b.

    home/ (b's, 0755)      everything here but in/ must stay exactly as it was
      in/                  the endpoint
      outside/keep.txt     a directory b may write to: a symlink or a path escape would reach it
      victim.txt           a file b may write to
    """
    daemon: Daemon
    port: int
    endpoint_id: str
    scratch: Path
    home: Path
    inbox: Path
    outside: Path
    victim: Path
    owner: User
    ctl: object
    before: dict = field(default_factory=dict)
    sensitive: dict = field(default_factory=dict)
    others: list = field(default_factory=list)     # more endpoints in scratch, left out of `before`

    @property
    def key(self) -> bytes:
        return pc.endpoint_key(self.endpoint_id)

    def connect(self, **kw) -> PeerClient:
        return PeerClient.connect(HOST, self.port, self.endpoint_id, **kw)

    def open(self) -> PeerClient:
        """A TCP connection with nothing sent yet."""
        return PeerClient.open(HOST, self.port)

    def plant_symlink(self, name: str, target) -> Path:
        link = self.inbox / name
        os.symlink(target, link)
        os.lchown(link, self.owner.uid, self.owner.gid)
        return link


def make_receiver(daemon_factory, ctl, scratch: Path, owner: User, *, config: str | None = None,
                  optional_settings: bool = False) -> Receiver:
    """A receiver on a daemon of its own (from conftest's daemon_factory), listening on a free
    loopback port. With OPTIONAL_SETTINGS, a daemon that rejects CONFIG as unknown skips the test."""
    port = free_port()
    daemon = daemon_factory(args=["--listen", f"{HOST}:{port}"], config=config, start=False)
    daemon.start(wait=False)
    try:
        daemon.wait_ready(30)
    except AssertionError:
        if optional_settings and "unknown setting" in daemon.log():
            pytest.skip(f"this s2sd does not know the settings {config!r}: {daemon.log()[-300:]}")
        raise
    return add_endpoint(daemon, port, ctl, scratch, owner)


def add_endpoint(daemon: Daemon, port: int, ctl, scratch: Path, owner: User) -> Receiver:
    """Lays out scratch/home (see Receiver) and makes home/in an endpoint of DAEMON."""
    home = scratch / "home"
    home.mkdir()
    inbox, outside = home / "in", home / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"keep me\n")
    victim = home / "victim.txt"
    victim.write_bytes(b"victim: must not change\n")
    for p in (home, inbox, outside, outside / "keep.txt", victim):
        os.chown(p, owner.uid, owner.gid)
    r = ctl("endpoint", "new", str(inbox), user=owner)
    assert r.rc == 0, r
    rx = Receiver(daemon, port, r.out.strip().splitlines()[0].split("@")[0], scratch, home, inbox, outside,
                  victim, owner, ctl)
    rx.before = snapshot(scratch, exclude=[inbox])
    rx.sensitive = {p: p.read_bytes() for p in SENSITIVE if p.exists()}
    return rx


@dataclass
class Shared:
    bus: Bus
    daemon: Daemon
    port: int

    def ctl(self, *args, user=None, cwd=None):
        return run([S2SCTL, *args], user=user, env=base_env(DBUS_SYSTEM_BUS_ADDRESS=self.bus.address), cwd=cwd)


@pytest.fixture(scope="module")
def shared(world, users):
    """One bus and one listening daemon for the many short cases of this module (each gets an
    endpoint of its own): starting a daemon per case would double the run time, and one daemon
    facing every attack in turn is a test in itself. A case that kills it fails (assert_unharmed);
    the next one starts it again."""
    workdir = make_dir(world / f"hostile-shared-{os.getpid()}", mode=0o755)
    bus = Bus(workdir)
    port = free_port()
    daemon = Daemon(bus, workdir, args=["--listen", f"{HOST}:{port}"])
    daemon.start()
    yield Shared(bus, daemon, port)
    daemon.cleanup()
    bus.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def rx(shared, scratch, user_b, request) -> Receiver:
    """An endpoint of its own on the shared daemon."""
    if not shared.daemon.alive():
        shared.daemon.start()  # an earlier case killed it (and failed)
    log_start = shared.daemon.log_path.stat().st_size

    def ctl(*args, user=None):
        return shared.ctl(*args, user=user, cwd=scratch)

    receiver = add_endpoint(shared.daemon, shared.port, ctl, scratch, user_b)
    yield receiver
    if _failed(request):
        with open(shared.daemon.log_path, "rb") as f:
            f.seek(log_start)
            print(f"----- shared s2sd log during this test ({shared.daemon.log_path}):\n"
                  f"{f.read().decode(errors='replace')[-20000:]}")


@pytest.fixture
def own_rx(daemon_factory, ctl, scratch, user_b) -> Receiver:
    """An endpoint on a daemon of its own (for attacks that occupy the whole daemon)."""
    return make_receiver(daemon_factory, ctl, scratch, user_b)


# --------------------------------------------------------------------------------------------
# What must hold after every attack

def _read_at(dir_fd: int, name: str) -> bytes:
    """A file's content, opened relative to its directory (paths may exceed PATH_MAX)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def snapshot(root: Path, exclude: list) -> dict:
    """Every entry under ROOT except the subtrees EXCLUDE, without following symlinks: type, mode,
    owner, size, mtime, and a file's content hash or a link's target. The bus's log only by name."""
    out = {}
    for dirpath, dirnames, filenames, dir_fd in os.fwalk(root, follow_symlinks=False):
        d = Path(dirpath)
        dirnames[:] = [n for n in dirnames if d / n not in exclude]
        for name in dirnames + filenames:
            st = os.lstat(name, dir_fd=dir_fd)
            info = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_size, st.st_mtime_ns)
            if stat.S_ISLNK(st.st_mode):
                info += (os.readlink(name, dir_fd=dir_fd),)
            elif stat.S_ISREG(st.st_mode):
                if name.endswith(".log"):
                    info = ("volatile",)
                else:
                    info += (sha256(_read_at(dir_fd, name)).hex(),)
            out[str((d / name).relative_to(root))] = info
    return out


def assert_outside_untouched(rx: Receiver):
    """Nothing around the endpoint changed, and the hostile name exists nowhere we can think of."""
    after = snapshot(rx.scratch, exclude=[rx.inbox, *rx.others])
    changed = {k: (rx.before.get(k), after.get(k)) for k in set(rx.before) | set(after)
               if rx.before.get(k) != after.get(k)}
    assert not changed, f"written outside the endpoint: {changed}"
    places = [*rx.inbox.parents, Path("/etc"), Path("/tmp"), Path("/var/tmp"), Path("/root")]
    for place in places:
        assert not os.path.lexists(place / MARKER), f"{place / MARKER} was created"
    for p, content in rx.sensitive.items():
        assert p.read_bytes() == content, f"{p} changed"


def visible(directory: Path) -> dict:
    """What a user sees in DIRECTORY (the partial area left out): relative path -> "dir",
    ("link", target) or the file's content."""
    out = {}
    for dirpath, dirnames, filenames, dir_fd in os.fwalk(directory, follow_symlinks=False):
        d = Path(dirpath)
        if d == directory:
            dirnames[:] = [n for n in dirnames if n != ".s2s-partial"]
            filenames = [n for n in filenames if n != ".s2s-partial"]
        for name in dirnames + filenames:
            rel = str((d / name).relative_to(directory))
            st = os.lstat(name, dir_fd=dir_fd)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(name, dir_fd=dir_fd))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            elif stat.S_ISREG(st.st_mode):
                out[rel] = _read_at(dir_fd, name)
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode))
    return out


def assert_partial_area_private(rx: Receiver):
    area = rx.inbox / ".s2s-partial"
    try:
        st = os.lstat(area)
    except FileNotFoundError:
        return  # none, or the daemon removed it just now (after a finished transfer)
    assert stat.S_ISDIR(st.st_mode), f"{area} is not a directory"
    assert stat.S_IMODE(st.st_mode) == 0o700, f"{area} has mode {oct(st.st_mode)}"
    assert st.st_uid == rx.owner.uid, f"{area} belongs to uid {st.st_uid}"


def assert_endpoint_holds(rx: Receiver, may: dict, must=(), planted: dict | None = None):
    """The endpoint shows only entries of MAY (path -> content, or "dir"), each with exactly that
    content (so never a half-written file), all of MUST, and the PLANTED symlinks unchanged."""
    planted = planted or {}
    seen = visible(rx.inbox)
    for path, target in planted.items():
        assert seen.pop(path, None) == ("link", target), f"planted symlink {path} changed: {visible(rx.inbox)}"
    for path, what in seen.items():
        assert path in may, f"unexpected {path!r} in the endpoint: {sorted(seen)}"
        if may[path] == "dir":
            assert what == "dir", f"{path!r} should be a directory, is {what!r}"
        else:
            assert what == may[path], f"{path!r} has wrong content ({len(what)} bytes, expected {len(may[path])})"
    missing = set(must) - set(seen)
    assert not missing, f"confirmed files missing from the endpoint: {missing}; it holds {sorted(seen)}"
    assert_partial_area_private(rx)


def assert_nothing_visible(rx: Receiver, planted: dict | None = None):
    assert_endpoint_holds(rx, may={}, planted=planted)


def assert_unharmed(rx: Receiver):
    """The daemon is alive, answers on D-Bus and receives a correct transfer."""
    assert rx.daemon.alive(), f"s2sd died:\n{rx.daemon.log()}"
    r = rx.ctl("status")
    assert r.rc == 0, r
    name = f"healthy-{next(_names)}.txt"
    content = os.urandom(3000)
    with rx.connect() as c:
        result = c.send_files({name: content})
    assert result.ok, f"a correct transfer after the attack failed: {result}"
    assert (rx.inbox / name).read_bytes() == content


def assert_safe(rx: Receiver, may: dict | None = None, must=(), planted: dict | None = None):
    """Everything of the header: endpoint contents, nothing outside, daemon unharmed."""
    assert_endpoint_holds(rx, may or {}, must, planted)
    assert_outside_untouched(rx)
    assert_unharmed(rx)


# --------------------------------------------------------------------------------------------
# How a session ends

def try_send(c: PeerClient, records=(), raw: bytes = b""):
    """Sends, ignoring a connection the receiver already closed (it may refuse early)."""
    try:
        if records:
            c.send_records(records)
        if raw:
            c.send_raw(raw)
    except OSError:
        pass


def ending(c: PeerClient, timeout: float = 5) -> list:
    """The records the receiver sends until it closes, as readable strings."""
    return [pc.describe(r) for r in c.read_until_closed(timeout)]


def assert_refused(c: PeerClient, code: int, timeout: float = 5):
    records = ending(c, timeout)
    assert records == [f"REFUSE({code})"], f"expected REFUSE({code}) and a close, got {records}"


def assert_cancelled(c: PeerClient, code: int = pc.CANCEL_PROTOCOL, timeout: float = 5) -> dict:
    """CANCEL(code) and a close, after nothing but FILE_RESULTs; returns those results."""
    records = c.read_until_closed(timeout)
    names = [pc.describe(r) for r in records]
    assert names and names[-1] == f"CANCEL({code})", f"expected CANCEL({code}) and a close, got {names}"
    assert all(r[0] == FILE_RESULT for r in records[:-1]), names
    return dict(struct.unpack(">IB", r[1]) for r in records[:-1])


def assert_closed_silently(c: PeerClient, timeout: float = 3):
    """Closed within TIMEOUT without sending a byte (before the handshake, or after a frame that
    does not decrypt: the receiver answers nothing)."""
    try:
        got = c.read_raw_until_closed(timeout)
    except TimeoutError:
        pytest.fail(f"the receiver did not close the connection within {timeout} s")
    assert got == b"", f"the receiver sent {len(got)} bytes before closing: {got[:64].hex()}"


def assert_no_reaction(c: PeerClient, timeout: float = 3) -> dict:
    """Closed within TIMEOUT; anything it still sent are FILE_RESULTs of earlier files (no CANCEL,
    no REFUSE: a frame that does not decrypt gets no answer). Returns those results."""
    try:
        records = c.read_until_closed(timeout)
    except TimeoutError:
        pytest.fail(f"the receiver did not close the connection within {timeout} s")
    names = [pc.describe(r) for r in records]
    assert all(r[0] == FILE_RESULT for r in records), f"the receiver answered undecryptable input: {names}"
    return dict(struct.unpack(">IB", r[1]) for r in records)


def running_into(rx: Receiver) -> list[dict]:
    """The incoming transfers into the endpoint that have not ended, from `s2sctl transfers --json`."""
    endpoint = rx.ctl("endpoint", "show", "--json", rx.endpoint_id).json().get("object")
    return [t for t in rx.ctl("transfers", "--json").json()
            if t.get("endpoint") in (endpoint, None) and t.get("state") not in ("done", "failed", "cancelled")]


def wait_received(rx: Receiver, count: int, timeout: float = 10):
    """Waits until the endpoint's running transfer has received COUNT bytes (its published
    progress), so that what the test does next comes after them."""
    wait_for(lambda: any(t["bytesDone"] >= count for t in running_into(rx)), timeout=timeout,
             what=f"{count} bytes received")


def wait_transfers_ended(rx: Receiver, timeout: float = 10):
    """Waits until the daemon lists no running incoming transfer into the endpoint (it noticed
    that the connection ended), from `s2sctl transfers --json`."""
    deadline = time.monotonic() + timeout
    while True:
        running = running_into(rx)
        if not running:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the daemon still lists running transfers {timeout} s after the connection ended: {running}")
        time.sleep(0.05)


def partial_data_gone(rx: Receiver, token: bytes, timeout: float = 3) -> bool:
    """Whether the transfer's partial directory is (or soon is) gone: after DONE_ACK or CANCEL
    the receiver deletes it, possibly just after sending the final record."""
    partial = rx.inbox / ".s2s-partial" / pc.partial_area_name(token)
    deadline = time.monotonic() + timeout
    while os.path.lexists(partial) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.lexists(partial)


def confirmed(results: dict, items: list) -> set:
    return {items[i].path.decode() for i, code in results.items() if code == pc.RESULT_OK}


# --------------------------------------------------------------------------------------------
# A standard offer for attacks after ACCEPT:
#   0 ok.txt (sent completely first), 1 d/, 2 d/f (100 bytes), 3 g (10 bytes)

STD_ITEMS = [Item(b"ok.txt", b"fine"), Item(b"d"), Item(b"d/f", blob(100, 1)), Item(b"g", blob(10, 2))]
STD_MAY = {"ok.txt": b"fine", "d": "dir", "d/f": blob(100, 1), "g": blob(10, 2)}
F = STD_ITEMS[2].content
OK_FIRST = [pc.data(0, 0, b"fine"), pc.file_end(0, sha256(b"fine"))]


def accepted_session(rx: Receiver, items=STD_ITEMS, digest_algorithm=pc.DIGEST_SHA256,
                     token: bytes | None = None) -> tuple[PeerClient, SessionResult]:
    c = rx.connect()
    c.offer(items, token or os.urandom(16), digest_algorithm)
    result = SessionResult()
    assert c.read_answer(result), f"a correct offer was not accepted: {result}"
    return c, result


# ============================================================================================
# 0. The client itself: a correct transfer (otherwise nothing below means anything)

@pytest.mark.parametrize("algorithm", [pc.DIGEST_XXH3, pc.DIGEST_SHA256], ids=["xxh3", "sha256"])
def test_peerclient_delivers_a_correct_transfer(rx, algorithm):
    """Not hostile: our client's directories, empty and multi-record files arrive intact, with
    their mtimes and at most their modes."""
    if algorithm == pc.DIGEST_XXH3:
        pytest.importorskip("xxhash")
    big = os.urandom(3 * 65506 + 17)
    files = {"notes/hello.txt": b"hello", "notes/empty": b"", "notes/sub/big.bin": big, "top.txt": b"top"}
    items = pc.items_from(files)
    items[1].mode, items[1].mtime, items[1].mtime_ns = 0o640, 1_600_000_000, 500_000_000
    with rx.connect() as c:
        assert c.peer_hello.version == 1 and c.peer_hello.max_record >= pc.MIN_RECORD_LIMIT
        result = c.send_files(items, digest_algorithm=algorithm)
    assert result.ok, result
    assert result.resume == {}
    assert visible(rx.inbox) == {"notes": "dir", "notes/hello.txt": b"hello", "notes/empty": b"",
                                 "notes/sub": "dir", "notes/sub/big.bin": big, "top.txt": b"top"}
    st = os.stat(rx.inbox / "notes/hello.txt")
    assert st.st_mtime_ns == 1_600_000_000_500_000_000
    assert stat.S_IMODE(st.st_mode) & ~0o640 == 0 and st.st_mode & 0o600 == 0o600
    assert st.st_uid == rx.owner.uid
    assert_outside_untouched(rx)


def test_peerclient_delivers_a_correct_transfer_with_aes_gcm(rx):
    """Not hostile: a session whose preamble announces AES-GCM (magic s2s/G) and whose handshake
    and transport use Noise_NK_25519_AESGCM_SHA256 carries a multi-record file intact, whatever
    the receiver's CPU (its HELLO sets flag 0x0004 only when it runs AES-GCM in hardware)."""
    big = os.urandom(3 * 65506 + 17)
    c = rx.open()
    with c:
        c.send_preamble(rx.key, magic=pc.AESGCM_MAGIC)
        c.handshake(prologue=pc.AESGCM_MAGIC, protocol_name=pc.AESGCM_PROTOCOL_NAME)
        result = c.send_files(pc.items_from({"aes.bin": big}))
    assert result.ok, result
    assert visible(rx.inbox) == {"aes.bin": big}
    assert "cipher=AESGCM" in rx.daemon.log()


def test_peerclient_asks_for_aes_gcm_transport_after_a_chachapoly_handshake(rx):
    """Not hostile: a ChaChaPoly session whose HELLO sets 0x0010 gets AES-GCM transport keys,
    HKDF(ck, "s2s/G", 2) in place of Split(), when the receiver's CPU runs AES-GCM in hardware
    (its HELLO sets 0x0010 in reply; this client derives the keys from the specification alone);
    otherwise the reply leaves the bit out and ChaChaPoly carries the session. A multi-record file
    arrives intact either way."""
    big = os.urandom(3 * 65506 + 17)
    c = rx.open()
    with c:
        c.send_preamble(rx.key)
        theirs = c.handshake(payload=pc.hello(flags=pc.FLAG_AESGCM_TRANSPORT))
        result = c.send_files(pc.items_from({"upgraded.bin": big}))
    assert result.ok, result
    assert visible(rx.inbox) == {"upgraded.bin": big}
    takes_aes = bool(theirs.flags & pc.FLAG_AESGCM)
    assert bool(theirs.flags & pc.FLAG_AESGCM_TRANSPORT) == takes_aes, theirs
    accepted = [line for line in rx.daemon.log().splitlines() if "incoming transfer accepted" in line][-1]
    assert "announced=ChaChaPoly" in accepted, accepted
    assert ("cipher=AESGCM" if takes_aes else "cipher=ChaChaPoly") in accepted, accepted


def test_a_session_that_does_not_ask_keeps_chachapoly(rx):
    """The receiver sets 0x0010 only in reply: a sender that did not ask (an older one) gets
    ChaChaPoly transport keys from Split(), as before."""
    c = rx.open()
    with c:
        c.send_preamble(rx.key)
        theirs = c.handshake()
        result = c.send_files(pc.items_from({"plain.bin": b"x" * 1000}))
    assert result.ok, result
    assert not theirs.flags & pc.FLAG_AESGCM_TRANSPORT, theirs
    accepted = [line for line in rx.daemon.log().splitlines() if "incoming transfer accepted" in line][-1]
    assert "announced=ChaChaPoly" in accepted and "cipher=ChaChaPoly" in accepted, accepted


# ============================================================================================
# 1. Paths that try to leave the endpoint or break its rules: REFUSE(8)

def _deep_path_items(total: int) -> list:
    """Nested directories of 200-byte components, then a file whose path is TOTAL bytes."""
    items, path = [], b""
    while len(path) + 201 + 1 + 1 <= total:
        path = path + b"/" + b"d" * 200 if path else b"d" * 200
        items.append(Item(path))
    name = b"f" * (total - len(path) - 1)
    return items + [Item(path + b"/" + name, b"x")]


BAD_PATHS = {
    "dotdot": [Item(b"../" + M, b"x")],
    "dotdot-inside": [Item(b"a"), Item(b"a/../../" + M, b"x")],
    "dotdot-deep": [Item(b"a"), Item(b"a/" + b"../" * 12 + b"tmp/" + M, b"x")],
    "dotdot-alone": [Item(b"..")],
    "dot-component": [Item(b"./" + M, b"x")],
    "absolute-etc": [Item(b"/etc/" + M, b"x")],
    "absolute-tmp": [Item(b"/tmp/" + M, b"x")],
    "nul": [Item(M + b"\x00.txt", b"x")],
    "newline": [Item(M + b"\nx", b"x")],
    "control-01": [Item(M + b"\x01", b"x")],
    "escape": [Item(b"\x1b[2J" + M, b"x")],
    "del-7f": [Item(M + b"\x7f", b"x")],
    "c1-control": [Item(M + b"\xc2\x85", b"x")],
    "partial-area-inside": [Item(b".s2s-partial"), Item(b".s2s-partial/" + M, b"x")],
    "partial-area-as-file": [Item(b".s2s-partial", b"x")],
    "partial-area-no-parent": [Item(b".s2s-partial/" + M, b"x")],
    "empty-component": [Item(b"a"), Item(b"a//b", b"x")],
    "trailing-slash": [Item(b"a/")],
    "too-long-4097": _deep_path_items(4097),
    "component-256": [Item(b"c" * 256, b"x")],
    "invalid-utf8": [Item(M + b"\xff", b"x")],
    "overlong-utf8-dotdot": [Item(b"\xc0\xae\xc0\xae"), Item(b"\xc0\xae\xc0\xae/" + M, b"x")],
    "surrogate": [Item(b"\xed\xa0\x80" + M, b"x")],
}


@pytest.mark.parametrize("items", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_bad_path_is_refused(rx, items):
    """Hostile: an offered path that escapes the endpoint (.., absolute), hides in the partial area,
    or breaks the path rules (NUL, control characters, empty component, too long, bad UTF-8).
    Must: REFUSE(8) and close; nothing created anywhere (if the offer were accepted, the client
    would push the data)."""
    with rx.connect() as c:
        result = c.send_files(items, close=False)
        assert result.refuse == pc.MALFORMED, f"expected REFUSE(8), got {result}"
        assert ending(c) == []
    assert_safe(rx)


def test_deep_path_of_4096_bytes_is_not_an_escape(rx):
    """Boundary, not hostile: a path of exactly 4096 bytes is legal. Whatever the receiver does
    with it (deliver it, or fail that file), it stays inside the endpoint."""
    items = _deep_path_items(4096)
    assert len(items[-1].path) == 4096
    with rx.connect() as c:
        result = c.send_files(items)
    assert result.accepted, result
    may = {it.path.decode(): "dir" if it.is_dir else it.content for it in items}
    assert_safe(rx, may=may, must=confirmed(result.results, items))


def test_odd_but_legal_names_stay_inside(rx):
    """Names that look dangerous but are legal (backslashes, leading dots, spaces, '...'): they
    arrive literally, inside the endpoint."""
    files = {"..\\" + MARKER: b"1", "...": b"2", ".hidden": b"3", " ": b"4", "a\\..\\..\\b": b"5"}
    with rx.connect() as c:
        result = c.send_files(files)
    assert result.ok, result
    assert visible(rx.inbox) == files
    assert_outside_untouched(rx)
    assert_unharmed(rx)


# ============================================================================================
# 2. Symbolic links already in the endpoint

def test_symlinked_directory_is_not_followed(rx):
    """Hostile: the endpoint holds `evil -> ../outside` (a directory the owner may write) and the
    offer has directory `evil` and file `evil/pwned`. Must: nothing appears in outside/; the link
    is unchanged; the file lands under another name inside the endpoint, or fails."""
    rx.plant_symlink("evil", rx.outside)
    planted = {"evil": str(rx.outside)}
    with rx.connect() as c:
        result = c.send_files({"evil/pwned": b"pwned"})
    assert result.done_ack, result
    may = {name: "dir" for name in ("evil (1)", "evil (2)")}
    may.update({f"{name}/pwned": b"pwned" for name in ("evil (1)", "evil (2)")})
    assert_endpoint_holds(rx, may, planted=planted)
    if result.results.get(1) == pc.RESULT_OK:
        assert any(visible(rx.inbox).get(f"{n}/pwned") == b"pwned" for n in ("evil (1)", "evil (2)"))
    assert_outside_untouched(rx)
    assert_unharmed(rx)


def test_symlinked_file_is_not_followed(rx):
    """Hostile: the endpoint holds `f -> /etc/passwd` and `g -> ../victim.txt` (a file the owner
    may write); the offer has files `f` and `g`. Must: both targets unchanged, the links
    unchanged, the files arrive under other names (`f (1)`) or fail."""
    rx.plant_symlink("f", "/etc/passwd")
    rx.plant_symlink("g", rx.victim)
    planted = {"f": "/etc/passwd", "g": str(rx.victim)}
    with rx.connect() as c:
        result = c.send_files({"f": b"root::0:0::/:/bin/sh\n", "g": b"overwritten\n"})
    assert result.done_ack, result
    may = {"f (1)": b"root::0:0::/:/bin/sh\n", "g (1)": b"overwritten\n"}
    must = {name for name, idx in (("f (1)", 0), ("g (1)", 1)) if result.results.get(idx) == pc.RESULT_OK}
    assert_endpoint_holds(rx, may, must=must, planted=planted)
    assert_outside_untouched(rx)
    assert_unharmed(rx)


def test_symlinked_partial_area_is_not_followed(rx):
    """Hostile: the endpoint holds `.s2s-partial -> ../outside` before anything arrives. Must:
    nothing written to outside/, the link unchanged; the transfer may fail. Once the link is gone
    the daemon receives again."""
    rx.plant_symlink(".s2s-partial", rx.outside)
    with rx.connect() as c:
        result = c.send_files({"a.txt": b"data"})
    assert rx.daemon.alive()
    assert os.readlink(rx.inbox / ".s2s-partial") == str(rx.outside)
    expected = {"a.txt": b"data"} if result.results.get(0) == pc.RESULT_OK else {}
    assert visible(rx.inbox) == expected, result
    assert_outside_untouched(rx)
    os.unlink(rx.inbox / ".s2s-partial")
    assert_unharmed(rx)


def test_directory_swapped_for_symlink_mid_transfer(rx):
    """Hostile: while a file of directory `d` is arriving, `d` is moved away and replaced by
    `d -> ../outside`. Must: nothing written to outside/; whatever arrives stays in the endpoint."""
    content = blob(300_000, 3)
    items = pc.items_from({"d/big": content})
    c, _ = accepted_session(rx, items)
    with c:
        c.send_records([pc.data(1, off, content[off:off + 50_000]) for off in range(0, 100_000, 50_000)])
        deadline = time.monotonic() + 3
        while not (rx.inbox / "d").is_dir() and time.monotonic() < deadline:
            time.sleep(0.02)
        if (rx.inbox / "d").is_dir():
            os.rename(rx.inbox / "d", rx.inbox / "d-moved")
        rx.plant_symlink("d", rx.outside)
        c.send_records([pc.data(1, off, content[off:off + 50_000]) for off in range(100_000, len(content), 50_000)])
        c.send_records([pc.file_end(1, sha256(content)), pc.done()])
        records = [pc.describe(r) for r in c.read_until_closed(10)]
    assert rx.daemon.alive()
    assert records and records[-1] in ("DONE_ACK", "CANCEL(2)", "CANCEL(8)"), records
    may = {"d-moved": "dir", "d-moved/big": content, "d (1)": "dir", "d (1)/big": content}
    assert_endpoint_holds(rx, may, planted={"d": str(rx.outside)})
    assert_outside_untouched(rx)
    assert_unharmed(rx)


# ============================================================================================
# 3. Too many entries, too many path bytes

def test_100000_entries_are_refused(rx):
    """Hostile: one offer of 100,000 entries (the default limit is 65,536), all sent. Must:
    REFUSE(5); nothing created."""
    count = 100_000
    records = [pc.offer_begin(os.urandom(16), count, 0)]
    records += [pc.entry(b"f%06d" % i) for i in range(count)] + [pc.offer_end()]
    with rx.connect() as c:
        sender = c.send_in_background(records)
        assert_refused(c, pc.TOO_LARGE, timeout=15)
    sender.join(15)
    assert_safe(rx)


def test_100000_entries_announced_then_stalling(rx):
    """Hostile: OFFER_BEGIN announces 100,000 entries, three follow, then nothing. Must: REFUSE(5)
    at once, not after a timeout."""
    with rx.connect() as c:
        c.send_records([pc.offer_begin(os.urandom(16), 100_000, 0), *(pc.entry(b"f%d" % i) for i in range(3))])
        assert_refused(c, pc.TOO_LARGE, timeout=3)
    assert_safe(rx)


@pytest.mark.slow
def test_offer_path_budget_is_refused(rx):
    """Hostile: about 2,100 entries with paths of 4,095 bytes: over the 8 MiB offer path budget.
    Must: REFUSE(5). (Slow: a debug s2sd takes about 12 s to examine 8 MiB of paths.)"""
    items = [Item(b"/".join([b"d" * 255] * depth)) for depth in range(1, 16)]   # 15 nested directories
    base = items[-1].path + b"/"
    names = [base + (b"%06d" % i).ljust(4095 - len(base), b"n") for i in range(2100)]
    assert len(base) == 3840 and all(len(n) == 4095 for n in names)
    records = [pc.offer_begin(os.urandom(16), len(items) + len(names), 0), *(it.encode() for it in items),
               *(pc.entry(n) for n in names), pc.offer_end()]
    with rx.connect() as c:
        sender = c.send_in_background(records)
        assert_refused(c, pc.TOO_LARGE, timeout=30)
    sender.join(15)
    assert_safe(rx)


# ============================================================================================
# 4. Framing: zero-length, short, oversize-looking, garbage and replayed frames

def session_at(rx: Receiver, phase: str) -> PeerClient:
    """A connection brought to PHASE: "handshake" (nothing after it), "offer" (OFFER_BEGIN and one
    of two entries sent), "transfer" (STD offer accepted, ok.txt complete, half of d/f sent)."""
    if phase == "handshake":
        return rx.connect()
    if phase == "offer":
        c = rx.connect()
        c.send_records([pc.offer_begin(os.urandom(16), 2, 0), pc.entry(b"a")])
        return c
    c, _ = accepted_session(rx)
    c.send_records([*OK_FIRST, pc.data(2, 0, F[:50])])
    return c


PHASES = ["handshake", "offer", "transfer"]


def assert_protocol_error(c: PeerClient, phase: str, refuse_code: int = pc.MALFORMED):
    """REFUSE(code) before the offer was answered, CANCEL(2) after it. Returns FILE_RESULTs."""
    if phase == "transfer":
        return assert_cancelled(c, pc.CANCEL_PROTOCOL)
    assert_refused(c, refuse_code)
    return {}


@pytest.mark.parametrize("phase", PHASES)
def test_zero_length_frame(rx, phase):
    """Hostile: a frame of length 0 (no Noise message at all). Must: REFUSE(8) before ACCEPT,
    CANCEL(2) after; the half-sent file is not visible."""
    with session_at(rx, phase) as c:
        try_send(c, raw=b"\x00\x00")
        results = assert_protocol_error(c, phase)
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


SHORT_FRAMES = {
    "1-byte": lambda c: b"\x00\x01" + os.urandom(1),
    "16-random-bytes": lambda c: b"\x00\x10" + os.urandom(16),
    "16-bytes-sealed-empty-record": lambda c: c.seal(b""),
}


@pytest.mark.parametrize("frame", SHORT_FRAMES.values(), ids=SHORT_FRAMES.keys())
@pytest.mark.parametrize("phase", PHASES)
def test_frame_shorter_than_a_tag_and_a_record(rx, phase, frame):
    """Hostile: a frame of 1 or 16 bytes, too short for the 16-byte tag plus a one-byte record
    (random, or a correctly sealed empty record). The spec: a length below 17 closes the
    connection as for a malformed record, REFUSE(8) before ACCEPT and CANCEL(2) after, decided on
    the length alone without reading the body."""
    with session_at(rx, phase) as c:
        try_send(c, raw=frame(c))
        results = assert_protocol_error(c, phase)
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


@pytest.mark.parametrize("size", [100, pc.MAX_FRAME])
@pytest.mark.parametrize("phase", PHASES)
def test_garbage_frame_closes_without_a_word(rx, phase, size):
    """Hostile: a well-framed message of random bytes (100 bytes, or the largest frame, 65535)
    after the handshake. Must: closed at once, nothing sent in answer."""
    with session_at(rx, phase) as c:
        try_send(c, raw=struct.pack(">H", size) + os.urandom(size))
        results = assert_no_reaction(c)
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


def test_replayed_frame_closes_without_a_word(rx):
    """Hostile: the same encrypted OFFER_BEGIN frame sent twice (a replay). Must: the copy fails
    to decrypt; closed at once, nothing sent."""
    with rx.connect() as c:
        frame = c.seal(pc.offer_begin(os.urandom(16), 1, 0))
        try_send(c, raw=frame + frame)
        assert_no_reaction(c)
    assert_safe(rx)


@pytest.mark.parametrize("phase", PHASES)
def test_largest_record_of_an_unknown_type(rx, phase):
    """Hostile: the largest record there is (65519 bytes of plaintext, a 65535-byte frame) with
    type 0x00. (A frame above the receiver's max record + 16 cannot be expressed: the receiver
    advertises 65519, and 65519 + 16 is the largest 2-byte length.) Must: REFUSE(8) / CANCEL(2)."""
    with session_at(rx, phase) as c:
        try_send(c, raw=c.seal(b"\x00" + os.urandom(pc.MAX_RECORD - 1)))
        results = assert_protocol_error(c, phase)
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


def test_entry_with_a_65493_byte_path(rx):
    """Hostile: an ENTRY that fills the largest record, its path 65493 bytes (16 times the limit).
    Must: REFUSE(8) (a malformed entry; REFUSE(5) is reserved for the listed size limits)."""
    with rx.connect() as c:
        path = b"p" * (pc.MAX_RECORD - 26)
        try_send(c, [pc.offer_begin(os.urandom(16), 1, 0), pc.entry(path)])
        assert_refused(c, pc.MALFORMED)
    assert_safe(rx)


@pytest.mark.parametrize("phase", PHASES)
def test_frame_cut_short_by_end_of_stream(rx, phase):
    """Hostile: a frame header announcing 65535 bytes, 100 bytes of it, then end of stream. Must:
    the connection is closed promptly; the half-sent file is not visible."""
    with session_at(rx, phase) as c:
        try_send(c, raw=b"\xff\xff" + os.urandom(100))
        c.shutdown_write()
        try:
            records = c.read_until_closed(3)
        except TimeoutError:
            pytest.fail("the receiver did not close after the stream ended inside a frame")
    results = dict(struct.unpack(">IB", r[1]) for r in records if r[0] == FILE_RESULT)
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


# ============================================================================================
# 5. A wrong digest

@pytest.mark.parametrize("algorithm", [pc.DIGEST_XXH3, pc.DIGEST_SHA256], ids=["xxh3", "sha256"])
def test_wrong_digest_fails_only_that_file(rx, algorithm):
    """Hostile: FILE_END of one file (a multi-record one) carries a wrong digest. Must:
    FILE_RESULT(1) for it, 0 for the others, DONE_ACK; the bad file is not in the endpoint, the
    good ones are; the transfer's partial data is gone after DONE_ACK."""
    if algorithm == pc.DIGEST_XXH3:
        pytest.importorskip("xxhash")
    good1, bad, good2 = b"first", blob(200_000, 4), b"third"
    items = pc.items_from({"a.txt": good1, "bad.bin": bad, "c.txt": good2})
    token = os.urandom(16)
    c, _ = accepted_session(rx, items, algorithm, token)
    with c:
        wrong = bytearray(pc.digest(algorithm, bad))
        wrong[0] ^= 1
        records = [pc.data(0, 0, good1), pc.file_end(0, pc.digest(algorithm, good1))]
        records += [pc.data(1, off, bad[off:off + 60_000]) for off in range(0, len(bad), 60_000)]
        records += [pc.file_end(1, bytes(wrong)), pc.data(2, 0, good2), pc.file_end(2, pc.digest(algorithm, good2)),
                    pc.done()]
        c.send_records(records)
        got = [pc.describe(r) for r in c.read_until_closed(10)]
    assert got == ["FILE_RESULT(entry 0, code 0)", "FILE_RESULT(entry 1, code 1)", "FILE_RESULT(entry 2, code 0)",
                   "DONE_ACK"], got
    assert_endpoint_holds(rx, may={"a.txt": good1, "c.txt": good2}, must={"a.txt", "c.txt"})
    assert partial_data_gone(rx, token), "the partial data of a finished transfer is still there"
    assert_outside_untouched(rx)
    assert_unharmed(rx)


# ============================================================================================
# 6. A stream cut in the middle of a file

@pytest.mark.parametrize("how", ["fin", "reset"])
def test_truncated_stream_leaves_only_partial_data(rx, how):
    """Hostile: the connection ends (FIN, or a TCP reset) in the middle of a file's DATA. Must: no
    file under its final name; data kept only in `.s2s-partial/<transfer>/` (0700, the owner's);
    a retry with the same token completes the file correctly."""
    content = blob(1_000_000, 5)
    sent = 300_000
    items = pc.items_from({"dir/big.bin": content})
    token = os.urandom(16)
    c, _ = accepted_session(rx, items, token=token)
    c.send_records([pc.data(1, off, content[off:off + 50_000]) for off in range(0, sent, 50_000)])
    wait_received(rx, sent)
    c.close(reset=(how == "reset"))
    wait_transfers_ended(rx)
    assert_endpoint_holds(rx, may={"dir": "dir"})
    area = rx.inbox / ".s2s-partial"
    if area.exists():
        held = sum(p.lstat().st_size for p in area.rglob("*") if p.is_file() and not p.is_symlink())
        assert held <= len(content), f"{held} bytes of partial data for a {len(content)}-byte file"
        assert {p.name for p in area.iterdir()} <= {pc.partial_area_name(token)}
    assert_outside_untouched(rx)

    # The retry resumes (or starts over) and delivers exactly the file.
    deadline = time.monotonic() + 5
    while True:
        with rx.connect() as c:
            result = c.send_files(items, token=token)
        if result.refuse != pc.BUSY or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert result.ok, result
    assert 0 <= result.resume.get(1, 0) <= sent, f"resumed beyond what was sent: {result.resume}"
    assert_endpoint_holds(rx, may={"dir": "dir", "dir/big.bin": content}, must={"dir/big.bin"})
    assert partial_data_gone(rx, token), "the partial data of a finished transfer is still there"
    assert_unharmed(rx)


def test_token_of_another_endpoint_does_not_resume(rx, shared, scratch, user_a):
    """Hostile: a transfer to endpoint A (user b's) is cut mid-file; a sender that knows its token
    offers the same file with that token to endpoint B (user a's) on the same daemon. Must: B
    resumes nothing (no resume pair: A's partial data never fills B's file) and gets exactly the
    bytes sent to it; A's partial data stays in A's partial area."""
    content = blob(1_000_000, 6)
    items = pc.items_from({"big.bin": content})
    token = os.urandom(16)
    c, _ = accepted_session(rx, items, token=token)
    c.send_records([pc.data(0, off, content[off:off + 50_000]) for off in range(0, 300_000, 50_000)])
    wait_received(rx, 300_000)
    c.close()
    wait_transfers_ended(rx)
    other = make_dir(scratch / "other", owner=user_a)
    rx.others.append(other)
    r = shared.ctl("endpoint", "new", str(other), user=user_a, cwd=scratch)
    assert r.rc == 0, r
    with PeerClient.connect(HOST, rx.port, r.out.strip().split("@")[0]) as c2:
        result = c2.send_files(items, token=token)
    assert result.ok, result
    assert result.resume == {}, f"endpoint B resumed from endpoint A's data: {result.resume}"
    assert visible(other) == {"big.bin": content}
    assert_nothing_visible(rx)
    assert_outside_untouched(rx)
    assert_unharmed(rx)


def test_sender_cancel_mid_file_discards_partial_data(rx):
    """Hostile-ish: CANCEL(1) in the middle of a file. Must: the confirmed file stays, the half
    file is not visible, and the transfer's partial data is deleted."""
    token = os.urandom(16)
    c, _ = accepted_session(rx, token=token)
    with c:
        c.send_records([*OK_FIRST, pc.data(2, 0, F[:50]), pc.cancel(pc.CANCEL_USER)])
        c.shutdown_write()
        results = assert_no_reaction(c)
    assert partial_data_gone(rx, token), "the partial data of a cancelled transfer is still there"
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


# The files of the receiver's batch (docs/protocol.md, FILE_RESULT).
BATCH_FILES = 1024


def test_sender_cancel_after_a_batch_was_published_keeps_and_counts_it(rx):
    """CANCEL after a full batch of files was verified and renamed into place, before its results
    were sent (they wait for the next batch's sync, docs/protocol.md, FILE_RESULT). Must: those
    files stay and the endpoint counts every file it shows; the rest of the partial data goes."""
    token = os.urandom(16)
    items = [Item(f"f{i:04}".encode(), blob(10, i)) for i in range(BATCH_FILES + 4)]
    c, _ = accepted_session(rx, items, token=token)
    with c:
        c.send_records([record for i, item in enumerate(items)
                        for record in (pc.data(i, 0, item.content), pc.file_end(i, sha256(item.content)))]
                       + [pc.cancel(pc.CANCEL_USER)])
        c.shutdown_write()
        results = assert_no_reaction(c)
    assert partial_data_gone(rx, token), "the partial data of a cancelled transfer is still there"
    shown = visible(rx.inbox)
    assert len(shown) >= BATCH_FILES, f"only {len(shown)} of the first batch's {BATCH_FILES} files stayed"
    assert set(shown) <= {item.path.decode() for item in items}
    assert all(shown[item.path.decode()] == item.content for item in items if item.path.decode() in shown)
    assert confirmed(results, items) <= set(shown)
    counted = rx.ctl("endpoint", "show", "--json", rx.endpoint_id).json()["filesReceived"]
    assert counted == len(shown), f"the endpoint shows {len(shown)} files and counts {counted}"
    assert_unharmed(rx)


def test_results_of_a_settled_batch_come_while_the_sender_only_keeps_alive(rx):
    """A full batch (1,024 files) is settled and its results wait for the next batch's sync
    (docs/protocol.md, FILE_RESULT), but not beyond about a second while records keep arriving,
    KEEPALIVEs included. Must: the batch's every result arrives, in order, while the sender sends
    nothing but KEEPALIVE; the rest and DONE_ACK after DONE; every file delivered."""
    items = [Item(f"k{i:04}".encode(), blob(8, i)) for i in range(BATCH_FILES + 6)]
    batch = BATCH_FILES
    c, _ = accepted_session(rx, items)
    with c:
        c.send_records([record for i, item in enumerate(items[:batch])
                        for record in (pc.data(i, 0, item.content), pc.file_end(i, sha256(item.content)))])
        results = {}
        deadline = time.monotonic() + 10
        while len(results) < batch:
            assert time.monotonic() < deadline, f"{len(results)} of {batch} results while the sender kept alive"
            try:
                kind, fields = c.recv_record(timeout=0.3)
            except TimeoutError:
                c.send_record(pc.keepalive())
                continue
            assert kind == FILE_RESULT, pc.describe((kind, fields))
            entry, code = struct.unpack(">IB", fields)
            results[entry] = code
        assert list(results) == list(range(batch)) and set(results.values()) == {pc.RESULT_OK}
        c.send_records([record for i, item in enumerate(items[batch:], start=batch)
                        for record in (pc.data(i, 0, item.content), pc.file_end(i, sha256(item.content)))]
                       + [pc.done()])
        while (record := c.recv_record(timeout=10))[0] != pc.DONE_ACK:
            assert record[0] == FILE_RESULT, pc.describe(record)
            entry, code = struct.unpack(">IB", record[1])
            results[entry] = code
    assert list(results) == list(range(len(items))) and set(results.values()) == {pc.RESULT_OK}
    assert visible(rx.inbox) == {item.path.decode(): item.content for item in items}
    assert_unharmed(rx)


# ============================================================================================
# 7. Garbage instead of the preamble or the handshake: closed without a word

def _message_1(key: bytes, payload: bytes | None = None, prologue: bytes = pc.PROLOGUE,
               protocol_name: bytes = pc.PROTOCOL_NAME) -> bytes:
    message = pc.NKInitiator(key, prologue, protocol_name).write_message_1(pc.hello() if payload is None else payload)
    return struct.pack(">H", len(message)) + message


def _flipped(frame: bytes) -> bytes:
    b = bytearray(frame)
    b[-1] ^= 0x80
    return bytes(b)


OTHER_KEY = pc.X25519PrivateKey.generate().public_key().public_bytes_raw()
BAD_OPENINGS = {
    "wrong-magic": lambda k: pc.preamble(k, magic=b"s2s/2") + _message_1(k),
    "http-request": lambda k: b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hostile\r\n\r\n",
    "tls-client-hello": lambda k: bytes.fromhex("160301020001000200030300") + os.urandom(200),
    "random-bytes": lambda k: os.urandom(37 + 58),
    "tag-for-another-endpoint": lambda k: pc.preamble(OTHER_KEY) + _message_1(OTHER_KEY),
    "tag-over-another-nonce": lambda k: pc.MAGIC + os.urandom(16) + pc.preamble(k)[21:] + _message_1(k),
    "message-1-garbage": lambda k: pc.preamble(k) + b"\x00\x38" + os.urandom(56),
    "message-1-for-another-key": lambda k: pc.preamble(k) + _message_1(OTHER_KEY),
    "message-1-wrong-prologue": lambda k: pc.preamble(k) + _message_1(k, prologue=b"s2s/2"),
    # The preamble announces one cipher, the handshake uses the other: the magic is the prologue
    # and the cipher is in the protocol name, so neither downgrade nor mix-up gets through.
    "aesgcm-magic-chachapoly-handshake": lambda k: pc.preamble(k, magic=pc.AESGCM_MAGIC) + _message_1(k),
    "aesgcm-magic-chachapoly-prologue": lambda k: pc.preamble(k, magic=pc.AESGCM_MAGIC) + _message_1(
        k, protocol_name=pc.AESGCM_PROTOCOL_NAME),
    "chachapoly-magic-aesgcm-handshake": lambda k: pc.preamble(k) + _message_1(
        k, prologue=pc.AESGCM_MAGIC, protocol_name=pc.AESGCM_PROTOCOL_NAME),
    "message-1-bit-flipped": lambda k: pc.preamble(k) + _flipped(_message_1(k)),
    "message-1-too-short": lambda k: pc.preamble(k) + b"\x00\x28" + os.urandom(40),
    "message-1-zero-length": lambda k: pc.preamble(k) + b"\x00\x00",
    "hello-max-record-8191": lambda k: pc.preamble(k) + _message_1(k, pc.hello(max_record=8191)),
    "hello-max-record-0": lambda k: pc.preamble(k) + _message_1(k, pc.hello(max_record=0)),
    "hello-7-bytes": lambda k: pc.preamble(k) + _message_1(k, pc.hello()[:7]),
    "hello-9-bytes": lambda k: pc.preamble(k) + _message_1(k, pc.hello() + b"\x00"),
    "hello-1-byte": lambda k: pc.preamble(k) + _message_1(k, b"\x00"),
    "hello-empty": lambda k: pc.preamble(k) + _message_1(k, b""),
}


@pytest.mark.parametrize("opening", BAD_OPENINGS.values(), ids=BAD_OPENINGS.keys())
def test_bad_preamble_or_handshake_closes_without_a_word(rx, opening):
    """Hostile: something else than a valid preamble and handshake message 1 (wrong magic, a tag
    for no endpoint, other protocols, undecryptable or malformed message 1, a bad HELLO). Must:
    closed at once (well before the 10 s handshake timeout) and not a byte sent back."""
    with rx.open() as c:
        try_send(c, raw=opening(rx.key))
        assert_closed_silently(c, timeout=3)
    assert_safe(rx)


@pytest.mark.parametrize("payload", [pc.hello(version=2), pc.hello(version=2) + b"more", pc.hello(version=0),
                                     b"\xff\xff"], ids=["v2", "v2-12-bytes", "v0", "v65535-2-bytes"])
def test_unsupported_version_is_refused_after_the_handshake(rx, payload):
    """Not quite hostile: a HELLO of another version. Must: the handshake completes with the
    receiver's version-1 HELLO, then REFUSE(7) and close."""
    with rx.open() as c:
        c.send_preamble(rx.key)
        peer = c.handshake(payload=payload)
        assert peer.version == 1
        assert_refused(c, pc.VERSION)
    assert_safe(rx)


# ============================================================================================
# 8. Slow peers: the handshake timeout, the idle timeout, the offer timeout

def test_handshake_timeout_and_a_flood_of_silent_connections(own_rx):
    """Hostile: connections that stall in the handshake: silent, the preamble only, half of
    message 1, one byte per second; then 100 more silent ones (more than the handshake slots).
    Must: every one closed without a word within the 10 s handshake timeout (+ margin), the
    daemon alive throughout, and a correct transfer afterwards."""
    rx = own_rx
    start = time.monotonic()
    key = rx.key
    opening = pc.preamble(key) + _message_1(key)
    stalled = {"silent": b"", "preamble-only": opening[:37], "half-message-1": opening[:37 + 29]}
    conns = {}
    for name, raw in stalled.items():
        conns[name] = c = rx.open()
        try_send(c, raw=raw)
    conns["byte-per-second"] = trickler = rx.open()
    flood = []
    for _ in range(100):
        try:
            flood.append(rx.open())
        except OSError:
            break
    closed_at: dict = {}
    errors: list = []

    def watch(name, c):
        try:
            got = c.read_raw_until_closed(20)
            closed_at[name] = (time.monotonic() - start, got)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((name, repr(e)))

    threads = [threading.Thread(target=watch, args=(n, c)) for n, c in conns.items()]
    threads += [threading.Thread(target=watch, args=(f"flood-{i}", c)) for i, c in enumerate(flood)]
    for t in threads:
        t.start()
    for i in range(14):
        if "byte-per-second" in closed_at:
            break
        try_send(trickler, raw=opening[i:i + 1])
        time.sleep(1)
    for t in threads:
        t.join(25)
    for c in [*conns.values(), *flood]:
        c.close()
    assert not errors, errors
    for name, (when, got) in closed_at.items():
        assert got == b"", f"{name}: the receiver sent {got[:40].hex()}"
        assert when < 10 + 4, f"{name}: closed only after {when:.1f} s"
    assert set(conns) <= set(closed_at)
    assert rx.daemon.alive()
    assert_safe(rx)


def timeouts_receiver(request, daemon_factory, ctl, scratch, user_b, settings: str) -> tuple[Receiver, float]:
    """A receiver with shortened peer timeouts (param "configured"; skipped by a daemon that lacks
    the settings) or with the defaults (param "default", marked slow). Returns it and the timeout
    under test in seconds."""
    key, short, default = settings
    if request.param == "configured":
        rx = make_receiver(daemon_factory, ctl, scratch, user_b, config=f"[Daemon]\n{key}={short}s\n",
                           optional_settings=True)
        return rx, short
    return make_receiver(daemon_factory, ctl, scratch, user_b), default


TIMEOUT_VARIANTS = ["configured", pytest.param("default", marks=pytest.mark.slow)]


@pytest.fixture(params=TIMEOUT_VARIANTS)
def idle_rx(request, daemon_factory, ctl, scratch, user_b):
    return timeouts_receiver(request, daemon_factory, ctl, scratch, user_b, ("PeerIdleTimeout", 3, 60))


@pytest.fixture(params=TIMEOUT_VARIANTS)
def offer_rx(request, daemon_factory, ctl, scratch, user_b):
    return timeouts_receiver(request, daemon_factory, ctl, scratch, user_b, ("PeerOfferTimeout", 3, 120))


def trickle(c: PeerClient, raw: bytes, interval: float, until: float) -> list:
    """Sends RAW one byte per INTERVAL (never a complete frame) until the receiver closes or
    UNTIL seconds passed; returns the records received."""
    records: list = []
    deadline = time.monotonic() + until
    i = 0
    while time.monotonic() < deadline:
        if i < len(raw) - 1:
            try_send(c, raw=raw[i:i + 1])
        i += 1
        try:
            while True:
                records.append(c.recv_record(timeout=interval))
        except TimeoutError:
            continue
        except pc.PeerClosed:
            return records
    pytest.fail(f"not closed within {until} s of trickling; received {[pc.describe(r) for r in records]}")


@pytest.mark.parametrize("phase", ["handshake", "transfer"])
def test_one_byte_at_a_time_hits_the_idle_timeout(idle_rx, phase):
    """Hostile: after the handshake (or mid-file), a frame trickles in one byte at a time and is
    never completed ("one byte a minute"; here one byte per idle/10). Partial frames do not reset
    the idle timer. Must: CANCEL(3) and close about one idle timeout after the last complete
    frame; no visible half file."""
    rx, idle = idle_rx
    c = session_at(rx, phase)
    with c:
        frame = c.seal(pc.offer_begin(os.urandom(16), 1, 0) if phase == "handshake" else pc.data(2, 50, F[50:]))
        start = time.monotonic()
        records = trickle(c, frame, idle / 10, until=idle * 2 + 5)
        elapsed = time.monotonic() - start
    names = [pc.describe(r) for r in records]
    assert names and names[-1] == "CANCEL(3)", f"expected CANCEL(3), got {names}"
    assert elapsed >= idle * 0.8, f"closed after {elapsed:.1f} s, before the idle timeout of {idle} s"
    results = dict(struct.unpack(">IB", r[1]) for r in records if r[0] == FILE_RESULT)
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


def test_stalled_offer_hits_the_offer_timeout(offer_rx):
    """Hostile: an offer announcing 3 entries (within the limit) sends one, then only KEEPALIVEs
    (so the idle timer never fires). Must: CANCEL(3) about one offer timeout after the handshake."""
    rx, limit = offer_rx
    with rx.connect() as c:
        start = time.monotonic()
        c.send_records([pc.offer_begin(os.urandom(16), 3, 0), pc.entry(b"a")])
        records: list = []
        while time.monotonic() - start < limit * 2 + 5:
            try_send(c, [pc.keepalive()])
            try:
                records.append(c.recv_record(timeout=min(2.0, limit / 3)))
            except TimeoutError:
                continue
            except pc.PeerClosed:
                break
        elapsed = time.monotonic() - start
    names = [pc.describe(r) for r in records]
    assert names == ["CANCEL(3)"], f"expected CANCEL(3) and a close, got {names} after {elapsed:.1f} s"
    assert limit * 0.8 <= elapsed <= limit + 5, f"closed after {elapsed:.1f} s, offer timeout {limit} s"
    assert_safe(rx)


# ============================================================================================
# 9. Records out of order or out of bounds

def _t() -> bytes:
    return os.urandom(16)


BEFORE_ACCEPT = {
    "entry-before-offer-begin": lambda: [pc.entry(b"f")],
    "data-before-offer": lambda: [pc.data(0, 0, b"x")],
    "file-end-before-offer": lambda: [pc.file_end(0, sha256(b""))],
    "done-before-offer": lambda: [pc.done()],
    "offer-end-before-offer": lambda: [pc.offer_end()],
    "data-during-offer": lambda: [pc.offer_begin(_t(), 2, 1), pc.entry(b"f", size=1), pc.data(0, 0, b"x")],
    "data-after-offer-begin": lambda: [pc.offer_begin(_t(), 1, 1), pc.data(0, 0, b"x")],
    "file-end-during-offer": lambda: [pc.offer_begin(_t(), 2, 0), pc.entry(b"f"), pc.file_end(0, sha256(b""))],
    "second-offer-begin": lambda: [pc.offer_begin(_t(), 2, 0), pc.entry(b"f"), pc.offer_begin(_t(), 1, 0)],
    "more-entries-than-announced": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a"), pc.entry(b"b")],
    "offer-end-too-early": lambda: [pc.offer_begin(_t(), 2, 0), pc.entry(b"a"), pc.offer_end()],
    "zero-entries": lambda: [pc.offer_begin(_t(), 0, 0), pc.offer_end()],
    "total-bytes-mismatch": lambda: [pc.offer_begin(_t(), 1, 10), pc.entry(b"a", size=5), pc.offer_end()],
    "size-above-2^63-1": lambda: [pc.offer_begin(_t(), 1, 2**63), pc.entry(b"a", size=2**63), pc.offer_end()],
    "sizes-overflow-u64": lambda: [pc.offer_begin(_t(), 2, 2**63 - 1), pc.entry(b"a", size=2**63 - 1),
                                   pc.entry(b"b", size=2**63 - 1), pc.offer_end()],
    "digest-algorithm-0": lambda: [pc.offer_begin(_t(), 1, 0, digest_algorithm=0), pc.entry(b"a"), pc.offer_end()],
    "digest-algorithm-3": lambda: [pc.offer_begin(_t(), 1, 0, digest_algorithm=3), pc.entry(b"a"), pc.offer_end()],
    "entry-kind-0": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a", kind=0), pc.offer_end()],
    "entry-kind-symlink-3": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a", kind=3), pc.offer_end()],
    "mode-setuid": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a", mode=0o4755), pc.offer_end()],
    "mode-sticky-dir": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a", kind=pc.KIND_DIR, mode=0o1777),
                                pc.offer_end()],
    "mtime-ns-1e9": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a", mtime_ns=10**9), pc.offer_end()],
    "directory-with-size": lambda: [pc.offer_begin(_t(), 1, 5), pc.entry(b"a", kind=pc.KIND_DIR, size=5),
                                    pc.offer_end()],
    "path-length-field-too-long": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"abc", path_length=10)],
    "path-length-field-too-short": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"abcdef", path_length=3)],
    "empty-path": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b""), pc.offer_end()],
    "duplicate-path": lambda: [pc.offer_begin(_t(), 2, 2), pc.entry(b"x", size=1), pc.entry(b"x", size=1),
                               pc.offer_end()],
    "missing-parent": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a/b"), pc.offer_end()],
    "file-as-parent": lambda: [pc.offer_begin(_t(), 2, 0), pc.entry(b"a"), pc.entry(b"a/b"), pc.offer_end()],
    "child-before-parent": lambda: [pc.offer_begin(_t(), 2, 0), pc.entry(b"a/b"),
                                    pc.entry(b"a", kind=pc.KIND_DIR), pc.offer_end()],
    "truncated-offer-begin": lambda: [pc.offer_begin(_t(), 1, 0)[:20]],
    "trailing-byte-offer-end": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"a"), pc.offer_end() + b"\x00"],
    "trailing-byte-keepalive": lambda: [pc.keepalive() + b"\x00"],
    "unknown-type-00": lambda: [b"\x00"],
    "unknown-type-ff": lambda: [b"\xff" + os.urandom(20)],
    "receiver-record-accept": lambda: [bytes([pc.ACCEPT, 0, 0, 0, 0])],
    "receiver-record-refuse": lambda: [bytes([pc.REFUSE, 1])],
    "receiver-record-done-ack": lambda: [pc.offer_begin(_t(), 1, 0), bytes([pc.DONE_ACK])],
}


@pytest.mark.parametrize("records", BEFORE_ACCEPT.values(), ids=BEFORE_ACCEPT.keys())
def test_protocol_violation_before_accept_is_refused(rx, records):
    """Hostile: a record the state machine or the record layout does not allow before ACCEPT
    (DATA during the offer, a second OFFER_BEGIN, bad counts, sizes, modes, kinds, layouts,
    receiver records). Must: REFUSE(8) and close; nothing created."""
    with rx.connect() as c:
        try_send(c, records())
        assert_refused(c, pc.MALFORMED)
    assert_safe(rx)


AFTER_ACCEPT = {
    "second-offer-begin": lambda: [pc.offer_begin(_t(), 1, 0), pc.entry(b"x"), pc.offer_end()],
    "entry-after-accept": lambda: [pc.entry(b"x")],
    "offer-end-after-accept": lambda: [pc.offer_end()],
    "data-at-wrong-offset": lambda: [pc.data(2, 1, F[1:51])],
    "data-with-a-gap": lambda: [pc.data(2, 0, F[:50]), pc.data(2, 60, F[60:])],
    "data-overlapping": lambda: [pc.data(2, 0, F[:50]), pc.data(2, 40, F[40:])],
    "data-beyond-size": lambda: [pc.data(2, 0, F + b"!")],
    "data-past-the-end": lambda: [pc.data(2, 0, F), pc.data(2, 100, b"!")],
    "data-offset-2^63": lambda: [pc.data(2, 2**63, b"!")],
    "data-empty": lambda: [pc.data(2, 0, b"")],
    "data-for-a-directory": lambda: [pc.data(1, 0, b"!")],
    "data-skipping-a-file": lambda: [pc.data(3, 0, STD_ITEMS[3].content)],
    "data-for-a-finished-file": lambda: [pc.data(0, 0, b"fine")],
    "data-entry-out-of-range": lambda: [pc.data(4, 0, b"!")],
    "data-entry-2^32-1": lambda: [pc.data(2**32 - 1, 0, b"!")],
    "file-end-not-current": lambda: [pc.data(2, 0, F[:50]), pc.file_end(3, sha256(STD_ITEMS[3].content))],
    "file-end-before-all-data": lambda: [pc.data(2, 0, F[:50]), pc.file_end(2, sha256(F))],
    "file-end-for-a-directory": lambda: [pc.file_end(1, sha256(b""))],
    "file-end-twice": lambda: [pc.data(2, 0, F), pc.file_end(2, sha256(F)), pc.file_end(2, sha256(F))],
    "file-end-digest-too-short": lambda: [pc.data(2, 0, F), pc.file_end(2, sha256(F)[:16])],
    "file-end-digest-too-long": lambda: [pc.data(2, 0, F), pc.file_end(2, sha256(F) + b"\x00")],
    "file-abort-not-current": lambda: [pc.data(2, 0, F[:50]), pc.file_abort(3)],
    "done-with-a-file-half-sent": lambda: [pc.data(2, 0, F[:50]), pc.done()],
    "done-with-files-left": lambda: [pc.done()],
    "receiver-record-file-result": lambda: [bytes([pc.FILE_RESULT, 0, 0, 0, 2, 0])],
    "receiver-record-accept-more": lambda: [bytes([pc.ACCEPT_MORE]) + struct.pack(">IQ", 2, 0)],
    "unknown-type-00": lambda: [b"\x00"],
}


@pytest.mark.parametrize("records", AFTER_ACCEPT.values(), ids=AFTER_ACCEPT.keys())
def test_protocol_violation_after_accept_is_cancelled(rx, records):
    """Hostile: after ACCEPT and one correct file, a record out of order or out of bounds (DATA at
    a wrong offset or beyond the size, FILE_END for a file that is not current, a second offer,
    ...). Must: CANCEL(2) and close; the confirmed file stays; no half file is visible."""
    c, _ = accepted_session(rx)
    with c:
        try_send(c, [*OK_FIRST, *records()])
        results = assert_cancelled(c)
    assert results.get(0) in (None, pc.RESULT_OK), results
    assert_safe(rx, may=STD_MAY, must=confirmed(results, STD_ITEMS))


# ============================================================================================
# Striped sessions (docs/protocol.md, "Striped sessions"), by a sender written from the spec

def striped_session(rx: Receiver, items, token: bytes | None = None) -> tuple[PeerClient, int, bytes]:
    """A session whose HELLO sets the stripes flag, offered ITEMS and accepted: the connection,
    and STRIPES' extra count and secret."""
    c = striped_connection(rx)
    c.offer(items, token or os.urandom(16))
    result = SessionResult()
    assert c.read_answer(result), f"a correct offer was not accepted: {result}"
    kind, payload = c.recv_record()
    assert kind == pc.STRIPES and len(payload) == 17, pc.describe((kind, payload))
    return c, payload[0], payload[1:]


def striped_connection(rx: Receiver) -> PeerClient:
    c = rx.open()
    c.send_preamble(rx.key)
    c.handshake(payload=pc.hello(flags=pc.FLAG_STRIPES))
    return c


def joined(rx: Receiver, secret: bytes) -> PeerClient:
    s = striped_connection(rx)
    s.send_record(pc.join(secret))
    assert s.expect(pc.JOINED) == b""
    return s


def results_until_done_ack(c: PeerClient) -> dict:
    results = {}
    while True:
        kind, payload = c.recv_record()
        if kind == pc.DONE_ACK:
            return results
        assert kind == FILE_RESULT, pc.describe((kind, payload))
        index, code = struct.unpack(">IB", payload)
        results[index] = code


def test_a_striped_session_is_merged_back_in_order(rx):
    """Three connections carry one transfer's records in SEQ, each connection's share sent whole
    before the next connection's (so the receiver must hold them back and merge): the files
    arrive whole, and the FILE_RESULTs and DONE_ACK come on the first connection."""
    items = [Item(b"a", blob(300_000, 3)), Item(b"d"), Item(b"d/b", blob(5000, 4)), Item(b"e", b"")]
    c, extra, secret = striped_session(rx, items)
    assert extra >= 2
    with c, joined(rx, secret) as s1, joined(rx, secret) as s2:
        a = items[0].content
        records = [pc.data(0, o, a[o:o + 40_000]) for o in range(0, len(a), 40_000)]
        records += [pc.file_end(0, sha256(a)), pc.data(2, 0, items[2].content), pc.file_end(2, sha256(items[2].content)),
                    pc.file_end(3, sha256(b"")), pc.done()]
        numbered = [pc.seq(i, r) for i, r in enumerate(records)]
        for conn, share in ((s2, 2), (s1, 1), (c, 0)):
            conn.send_records([r for i, r in enumerate(numbered) if i % 3 == share])
        assert results_until_done_ack(c) == {0: pc.RESULT_OK, 2: pc.RESULT_OK, 3: pc.RESULT_OK}
    assert_safe(rx, must={"a", "d", "d/b", "e"},
                may={"a": items[0].content, "d": "dir", "d/b": items[2].content, "e": b""})


def test_a_join_with_an_unknown_secret_is_closed_without_a_word(rx):
    """JOIN with a secret no session gave (or after its session ended): closed, nothing sent; the
    session it did not join is not disturbed."""
    items = [Item(b"f", b"fine")]
    c, _, secret = striped_session(rx, items)
    with c:
        stranger = striped_connection(rx)
        stranger.send_record(pc.join(os.urandom(16)))
        assert stranger.read_until_closed() == []
        c.send_records([pc.seq(0, pc.data(0, 0, b"fine")), pc.seq(1, pc.file_end(0, sha256(b"fine"))), pc.seq(2, pc.done())])
        assert results_until_done_ack(c) == {0: pc.RESULT_OK}
    late = striped_connection(rx)
    late.send_record(pc.join(secret))
    assert late.read_until_closed() == [], "a finished session's secret joins nothing"
    assert_safe(rx, must={"f"}, may={"f": b"fine"})


def test_joins_beyond_stripes_extra_are_refused(rx):
    """STRIPES says how many further connections may join; one more is closed without JOINED."""
    c, extra, secret = striped_session(rx, [Item(b"f", b"x")])
    stripes = [joined(rx, secret) for _ in range(extra)]
    try:
        one_more = striped_connection(rx)
        one_more.send_record(pc.join(secret))
        assert one_more.read_until_closed() == []
    finally:
        for s in stripes:
            s.close()
        c.close()
    assert_unharmed(rx)


STRIPED_VIOLATIONS = {
    # A number twice, on two connections.
    "seq-twice": lambda c, s: (c.send_record(pc.seq(0, pc.data(0, 0, F[:10]))),
                               s.send_record(pc.seq(0, pc.data(0, 0, F[:10])))),
    # A bare record after SEQ.
    "bare-after-seq": lambda c, s: c.send_records([pc.seq(0, pc.data(0, 0, F[:10])), pc.data(0, 10, F[10:20])]),
    # SEQ around a record that is never sequenced, and SEQ in SEQ.
    "seq-around-offer-end": lambda c, s: c.send_record(pc.seq(0, pc.offer_end())),
    "seq-in-seq": lambda c, s: c.send_record(pc.seq(0, pc.seq(0, pc.done()))),
    # A further connection that sends anything but SEQ, once the session is sequenced (until
    # then its records are not read: a session that stays bare never looks at them).
    "stripe-sends-cancel": lambda c, s: (c.send_record(pc.seq(0, pc.data(0, 0, F[:10]))), s.send_record(pc.cancel())),
    # A second JOIN on a joined connection.
    "stripe-joins-again": lambda c, s: (c.send_record(pc.seq(0, pc.data(0, 0, F[:10]))),
                                        s.send_record(pc.join(os.urandom(16)))),
}


@pytest.mark.parametrize("attack", STRIPED_VIOLATIONS.values(), ids=STRIPED_VIOLATIONS.keys())
def test_striped_protocol_violations_are_cancelled(rx, attack):
    """Hostile, in a striped session: a repeated number, bare and SEQ mixed, SEQ around what it
    may not carry, a further connection that breaks its rules. Must: CANCEL(2) on the first
    connection, every connection closed, nothing half-written visible."""
    items = [Item(b"f", F)]
    c, _, secret = striped_session(rx, items)
    with c, joined(rx, secret) as s:
        try:
            attack(c, s)
        except OSError:
            pass
        assert_cancelled(c)
        s.read_until_closed()
    assert_safe(rx, may={})


def test_a_gap_that_no_open_connection_can_fill_ends_the_session_at_once(rx):
    """The first connection sends SEQ 1 and waits; the further connection, which would carry SEQ
    0, ends cleanly without it (as a sender's connections do when its session failed on another):
    no connection left can carry SEQ 0, so the receiver ends the session at once, long before the
    60 s idle timeout, and says why."""
    c, _, secret = striped_session(rx, [Item(b"f", F)])
    with c:
        s = joined(rx, secret)
        c.send_record(pc.seq(1, pc.data(0, 10, F[10:20])))
        s.shutdown_write()
        assert c.read_until_closed(timeout=10) == []
        s.close()
    wait_for(lambda: "cannot come" in rx.daemon.log(), what="the stuck session in the log")
    assert_safe(rx, may={})


def test_a_gap_no_connection_fills_ends_the_session(idle_rx):
    """The first connection sends SEQ 2, a further one SEQ 1, and SEQ 0 never comes, while every
    connection keeps sending keepalives (as a sender's do; a quiet one would end at its own idle
    timeout), a second further one among them that could still carry SEQ 0: the receiver ends the
    session after its idle timeout, keeps nothing visible, and says why in its log."""
    rx, timeout = idle_rx
    c, _, secret = striped_session(rx, [Item(b"f", F)])
    with c, joined(rx, secret) as s, joined(rx, secret) as idle:
        s.send_record(pc.seq(1, pc.data(0, 0, F[:10])))
        c.send_record(pc.seq(2, pc.data(0, 10, F[10:20])))
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < timeout + 10:
            try:
                idle.send_record(pc.keepalive())
                s.send_record(pc.keepalive())
                c.send_record(pc.keepalive())
                c.recv_record(timeout=1)
            except TimeoutError:
                continue
            except (pc.PeerClosed, OSError):
                closed = True
                break
        assert closed, "the session still runs"
        assert time.monotonic() - started >= timeout - 0.5
    wait_for(lambda: "did not come within" in rx.daemon.log(), what="the gap in the log")
    assert_safe(rx, may={})
