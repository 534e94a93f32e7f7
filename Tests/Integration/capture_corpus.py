# Captures the fuzzing harness's seed corpus (Tests/S2SFuzzTests/Corpus) from real sessions with a
# real s2sd: `make fuzz-corpus` (root; rewrites the corpus files). Not collected by `make test`
# (its name does not start with test_). What it records:
#   - records/*.session: the plaintext records of peer sessions between peerclient.py (the
#     sender) and s2sd (the receiver), in the order the sender saw them, each tagged S or R;
#   - streams/*.stream: the raw TCP bytes the sender wrote in those sessions (preamble, handshake
#     message 1, encrypted frames): what the receiver's NoiseFrameDecoder reads;
#   - bus/*.msgs: every message on the daemon's private bus while s2sctl made, listed, showed and
#     deleted endpoints and sent a file through the daemon to itself (dbus-monitor --binary).
# File format: items of a tag byte, a 4-byte big-endian length and the bytes.

from __future__ import annotations

import os
import struct
import subprocess
import time
from pathlib import Path

import peerclient as pc
from conftest import S2SCTL, TEST_POLICY, Bus, base_env, free_port, run
from peerclient import PeerClient

OUT = Path(os.environ.get("CORPUS_DIR") or Path(__file__).resolve().parents[1] / "S2SFuzzTests" / "Corpus")
HOST = "127.0.0.1"
# The suite's policy, and root may become a monitor (dbus-monitor).
CAPTURE_POLICY = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
{test_policy}
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
</busconfig>
"""


def item(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack(">I", len(data)) + data


class CapturingClient(PeerClient):
    """PeerClient that keeps every record it seals or opens, and every byte it writes."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.log: list[tuple[bytes, bytes]] = []
        self.raw = bytearray()

    def send_raw(self, raw: bytes):
        self.raw += raw
        super().send_raw(raw)

    def send_record(self, record: bytes):
        self.send_raw(self.seal(record))

    def seal(self, record: bytes) -> bytes:
        self.log.append((b"S", bytes(record)))
        return super().seal(record)

    def recv_record(self, timeout=None, keepalives=False):
        while True:
            kind, payload = super().recv_record(timeout, keepalives=True)
            self.log.append((b"R", bytes([kind]) + payload))
            if kind != pc.KEEPALIVE or keepalives:
                return kind, payload

    @classmethod
    def start(cls, port: int, endpoint_id: str) -> "CapturingClient":
        c = cls.open(HOST, port, 10)
        key = pc.endpoint_key(endpoint_id)
        c.send_preamble(key)
        c.handshake(key)
        return c


def save(kind: str, name: str, data: bytes):
    folder = OUT / kind
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    print(f"{folder / name}: {len(data)} bytes")


def save_session(name: str, c: CapturingClient):
    save("records", f"{name}.session", b"".join(item(tag, r) for tag, r in c.log))
    save("streams", f"{name}.stream", item(b"C", bytes(c.raw)))


def split_messages(raw: bytes) -> list[bytes]:
    """dbus-monitor --binary's output, one marshalled message each."""
    out, offset = [], 0
    while offset + 16 <= len(raw):
        order = "<" if raw[offset:offset + 1] == b"l" else ">"
        body, _, fields = struct.unpack(order + "III", raw[offset + 4:offset + 16])
        size = 16 + ((fields + 7) & ~7) + body
        out.append(raw[offset:offset + size])
        offset += size
    return out


def test_capture(scratch, daemon_factory, user_a, user_b):
    policy = scratch / "capture-policy.conf"
    policy.write_text(CAPTURE_POLICY.format(test_policy=TEST_POLICY))
    bus = Bus(scratch, policy_include=policy)
    monitor_out = open(scratch / "monitor.bin", "wb")
    monitor = subprocess.Popen(["stdbuf", "-o0", "dbus-monitor", "--address", bus.address, "--binary"], stdout=monitor_out,
                               stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        port = free_port()
        daemon_factory(target_bus=bus, args=["--listen", f"{HOST}:{port}"])
        env = base_env(DBUS_SYSTEM_BUS_ADDRESS=bus.address)

        def ctl(*args, user=None):
            r = run([S2SCTL, *args], user=user, env=env, timeout=60)
            assert r.rc == 0, r
            return r

        inbox = scratch / "in"
        inbox.mkdir()
        os.chown(inbox, user_b.uid, user_b.gid)
        outbox = scratch / "out"
        outbox.mkdir()
        source = outbox / "note.txt"
        source.write_bytes(b"sent through the daemon to itself\n")
        os.chown(outbox, user_a.uid, user_a.gid)
        os.chown(source, user_a.uid, user_a.gid)

        # The bus: the API as s2sctl uses it.
        endpoint = ctl("endpoint", "new", str(inbox), "--quota", "1G", user=user_b).out.strip().splitlines()[0]
        bare = endpoint.split("@")[0]
        spare = ctl("endpoint", "new", str(inbox), "--once", user=user_b).out.strip().splitlines()[0].split("@")[0]
        ctl("endpoint", "list", user=user_b)
        ctl("endpoint", "show", bare, user=user_b)
        ctl("status", user=user_b)
        ctl("send", str(source), f"{bare}@{HOST}:{port}", user=user_a)
        ctl("transfers", "--json", user=user_a)
        ctl("endpoint", "rm", spare, user=user_b)

        # The peer protocol: a tree with both digests, a file given up, a resumed send, a cancel.
        c = CapturingClient.start(port, bare)
        result = c.send_files({"docs": None, "docs/a.txt": b"hello\n", "docs/empty": b"",
                               "docs/sub/b.bin": os.urandom(3000), "caf\u00e9.txt": b"x" * 100},
                              digest_algorithm=pc.DIGEST_XXH3, chunk=1000)
        assert result.ok, result
        save_session("tree-xxh3", c)

        c = CapturingClient.start(port, bare)
        assert c.send_files({"one.bin": os.urandom(70_000)}, digest_algorithm=pc.DIGEST_SHA256).ok
        save_session("large-sha256", c)

        token = os.urandom(16)
        first = CapturingClient.start(port, bare)
        items = pc.items_from({"r": None, "r/x.bin": os.urandom(5000), "r/y.bin": os.urandom(5000)})
        first.offer(items, token, pc.DIGEST_SHA256)
        assert first.read_answer(pc.SessionResult())
        first.send_records([pc.data(1, 0, items[1].content[:2000])])
        first.send_record(pc.data(1, 2000, items[1].content[2000:]))
        first.send_record(pc.file_end(1, pc.digest(pc.DIGEST_SHA256, items[1].content)))
        first.send_record(pc.data(2, 0, items[2].content[:1000]))
        time.sleep(1)
        first.send_record(pc.cancel(pc.CANCEL_USER))
        first.close()
        save_session("cancelled", first)
        time.sleep(1)
        c = CapturingClient.start(port, bare)
        result = c.send_files({"r": None, "r/x.bin": items[1].content, "r/y.bin": items[2].content},
                              token=token, digest_algorithm=pc.DIGEST_SHA256, chunk=1000)
        assert result.ok, result
        print(f"resumed with {result.resume}")
        save_session("resumed", c)

        c = CapturingClient.start(port, bare)
        result = c.send_files({"small.bin": b"z" * 10}, chunk=4)
        assert result.ok, result
        save_session("small-chunks", c)

        c2 = CapturingClient.start(port, bare)
        c2.offer(pc.items_from({"docs/a.txt": b"again\n", "q.bin": b"abc"}), os.urandom(16))
        c2.read_answer(pc.SessionResult())
        c2.send_record(pc.file_abort(1))
        c2.send_records([pc.data(2, 0, b"abc"), pc.file_end(2, pc.digest(pc.DIGEST_SHA256, b"abc")), pc.done()])
        while c2.recv_record()[0] != pc.DONE_ACK:
            pass
        c2.close()
        save_session("file-abort", c2)
    finally:
        time.sleep(0.5)
        monitor.terminate()
        monitor.wait(timeout=10)
        monitor_out.close()
        bus.close()
    messages = split_messages((scratch / "monitor.bin").read_bytes())
    assert len(messages) > 20, len(messages)
    save("bus", "s2sctl-session.msgs", b"".join(item(b"M", m) for m in messages))
