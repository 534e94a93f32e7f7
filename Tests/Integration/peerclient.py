"""A small, independent sender for the s2s peer protocol (docs/protocol.md), for black-box tests.

Written from the specification only: the session preamble, Noise_NK_25519_ChaChaPoly_SHA256
(Noise revision 34) with prologue "s2s/1" and a HELLO payload, 2-byte length framing, and every
sender record. Nothing here validates what the test sends: hostile tests use the same encoders
with bad values, or `send_raw` for bytes that are not even a frame.

    c = PeerClient.connect("127.0.0.1", port, endpoint_id)
    result = c.send_files({"dir": None, "dir/a.txt": b"hello"})
    assert result.ok

Cryptography: X25519 and ChaCha20-Poly1305 from the `cryptography` package; SHA-256 and HMAC from
the standard library. XXH3-128 (digest 1) needs the `xxhash` package; SHA-256 (digest 2) does not.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from s2sit import bech32m_decode

# --------------------------------------------------------------------------------------------
# Constants of the specification

MAGIC = b"s2s/1"
PROLOGUE = b"s2s/1"
PROTOCOL_NAME = b"Noise_NK_25519_ChaChaPoly_SHA256"
# The AES-GCM suite: its preamble magic (also the prologue) and protocol name.
AESGCM_MAGIC = b"s2s/G"
AESGCM_PROTOCOL_NAME = b"Noise_NK_25519_AESGCM_SHA256"
# HELLO flag: this side runs AES-GCM in hardware and takes AES-GCM sessions.
FLAG_AESGCM = 0x0004
FLAG_AESGCM_TRANSPORT = 0x0010
PREAMBLE_LENGTH = 37
TAG_LENGTH = 16
MAX_RECORD = 65519            # the ceiling of a HELLO's max record
MIN_RECORD_LIMIT = 8192
MAX_FRAME = 65535
COMPLETE = 0xFFFF_FFFF_FFFF_FFFF

# Record types
OFFER_BEGIN, ENTRY, OFFER_END, DATA, FILE_END, FILE_ABORT, DONE = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
ACCEPT, ACCEPT_MORE, REFUSE, FILE_RESULT, DONE_ACK = 0x20, 0x21, 0x22, 0x23, 0x24
CANCEL, KEEPALIVE, CANDIDATES = 0x30, 0x31, 0x32
SEQ, JOIN, STRIPES, JOINED = 0x17, 0x18, 0x25, 0x26     # striped sessions
RECORD_NAMES = {
    OFFER_BEGIN: "OFFER_BEGIN", ENTRY: "ENTRY", OFFER_END: "OFFER_END", DATA: "DATA", FILE_END: "FILE_END",
    FILE_ABORT: "FILE_ABORT", DONE: "DONE", ACCEPT: "ACCEPT", ACCEPT_MORE: "ACCEPT_MORE", REFUSE: "REFUSE",
    FILE_RESULT: "FILE_RESULT", DONE_ACK: "DONE_ACK", CANCEL: "CANCEL", KEEPALIVE: "KEEPALIVE",
    SEQ: "SEQ", JOIN: "JOIN", STRIPES: "STRIPES", JOINED: "JOINED", CANDIDATES: "CANDIDATES",
}
# HELLO flags
FLAG_PAUSE, FLAG_STRIPES = 0x0001, 0x0002
FLAG_DIRECT = 0x0008  # relay to direct: asked by the sender, answered by a receiver whose endpoint allows it

KIND_FILE, KIND_DIR = 1, 2
DIGEST_XXH3, DIGEST_SHA256 = 1, 2

# REFUSE codes
REFUSED, QUOTA, NO_SPACE, EXPIRED, TOO_LARGE, BUSY, VERSION, MALFORMED = 1, 2, 3, 4, 5, 6, 7, 8
# CANCEL codes
CANCEL_USER, CANCEL_PROTOCOL, CANCEL_TIMEOUT = 1, 2, 3
# FILE_RESULT codes
RESULT_OK, RESULT_INTEGRITY, RESULT_WRITE, RESULT_QUOTA, RESULT_SPACE, RESULT_CANCELLED = 0, 1, 2, 3, 4, 5


def endpoint_key(endpoint_id: str) -> bytes:
    """The 32-byte X25519 public key an endpoint ID encodes (docs/endpoint-id.md)."""
    hrp, key = bech32m_decode(endpoint_id.strip())
    if hrp != "s2s" or len(key) != 32:
        raise ValueError(f"not an endpoint ID: {endpoint_id!r}")
    return key


def digest(algorithm: int, data: bytes) -> bytes:
    if algorithm == DIGEST_SHA256:
        return hashlib.sha256(data).digest()
    if algorithm == DIGEST_XXH3:
        import xxhash  # optional dependency
        return xxhash.xxh3_128_digest(data)  # canonical form: big-endian high, then low
    raise ValueError(f"unknown digest algorithm {algorithm}")


def partial_area_name(token: bytes) -> str:
    """The name of a transfer's directory under `.s2s-partial/`."""
    return hashlib.sha256(b"s2s/1 partial" + token).digest()[:16].hex()


# --------------------------------------------------------------------------------------------
# Preamble and HELLO

def preamble(key: bytes, nonce: bytes | None = None, magic: bytes = MAGIC) -> bytes:
    """magic ‖ nonce ‖ first 16 bytes of HMAC-SHA256(key, "s2s/1 endpoint" ‖ nonce)."""
    nonce = os.urandom(16) if nonce is None else nonce
    tag = hmac.new(key, b"s2s/1 endpoint" + nonce, hashlib.sha256).digest()[:16]
    return magic + nonce + tag


def hello(version: int = 1, flags: int = 0, max_record: int = MAX_RECORD) -> bytes:
    return struct.pack(">HHI", version, flags, max_record)


@dataclass
class Hello:
    version: int
    flags: int
    max_record: int

    @classmethod
    def decode(cls, payload: bytes) -> "Hello":
        if len(payload) != 8:
            raise ProtocolViolation(f"HELLO of {len(payload)} bytes")
        return cls(*struct.unpack(">HHI", payload))


# --------------------------------------------------------------------------------------------
# Noise (revision 34): CipherState, SymmetricState, the NK pattern as initiator

def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf(chaining_key: bytes, ikm: bytes, outputs: int) -> list[bytes]:
    temp = _hmac(chaining_key, ikm)
    out1 = _hmac(temp, b"\x01")
    if outputs == 2:
        return [out1, _hmac(temp, out1 + b"\x02")]
    out2 = _hmac(temp, out1 + b"\x02")
    return [out1, out2, _hmac(temp, out2 + b"\x03")]


class CipherState:
    """ChaChaPoly (nonce = 4 zero bytes ‖ 64-bit little-endian counter) or, with AES, AESGCM
    (4 zero bytes ‖ 64-bit big-endian counter)."""

    def __init__(self, key: bytes | None = None, aes: bool = False):
        self.key = key
        self.n = 0
        self.aes = aes
        self._aead = (AESGCM(key) if aes else ChaCha20Poly1305(key)) if key else None

    def _nonce(self) -> bytes:
        return b"\x00" * 4 + struct.pack(">Q" if self.aes else "<Q", self.n)

    def encrypt(self, ad: bytes, plaintext: bytes) -> bytes:
        if self._aead is None:
            return plaintext
        out = self._aead.encrypt(self._nonce(), plaintext, ad)
        self.n += 1
        return out

    def decrypt(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self._aead is None:
            return ciphertext
        out = self._aead.decrypt(self._nonce(), ciphertext, ad)  # raises InvalidTag
        self.n += 1
        return out


class SymmetricState:
    def __init__(self, protocol_name: bytes = PROTOCOL_NAME):
        self.h = protocol_name.ljust(32, b"\x00") if len(protocol_name) <= 32 else hashlib.sha256(protocol_name).digest()
        self.ck = self.h
        self.aes = b"_AESGCM_" in protocol_name
        self.cipher = CipherState(aes=self.aes)

    def mix_hash(self, data: bytes):
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key(self, ikm: bytes):
        self.ck, temp_k = hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(temp_k[:32], self.aes)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ct = self.cipher.encrypt(self.h, plaintext)
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        pt = self.cipher.decrypt(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return pt

    def split(self, aes_transport: bool = False) -> tuple[CipherState, CipherState]:
        """Split(); with aes_transport (both HELLOs set 0x0010 after a ChaChaPoly handshake), the
        AES-GCM transport keys: HKDF(ck, "s2s/G", 2) instead of HKDF(ck, zerolen, 2)."""
        if aes_transport and not self.aes:
            k1, k2 = hkdf(self.ck, AESGCM_MAGIC, 2)
            return CipherState(k1[:32], True), CipherState(k2[:32], True)
        k1, k2 = hkdf(self.ck, b"", 2)
        return CipherState(k1[:32], self.aes), CipherState(k2[:32], self.aes)


class NKInitiator:
    """Noise NK, initiator side: <- s ... -> e, es ... <- e, ee."""

    def __init__(self, remote_static: bytes, prologue: bytes = PROLOGUE, protocol_name: bytes = PROTOCOL_NAME):
        self.rs = remote_static
        self.e = X25519PrivateKey.generate()
        self.ss = SymmetricState(protocol_name)
        self.ss.mix_hash(prologue)
        self.ss.mix_hash(remote_static)  # pre-message: responder's static key

    def _dh(self, public: bytes) -> bytes:
        return self.e.exchange(X25519PublicKey.from_public_bytes(public))

    def write_message_1(self, payload: bytes) -> bytes:
        e_pub = self.e.public_key().public_bytes_raw()
        self.ss.mix_hash(e_pub)
        self.ss.mix_key(self._dh(self.rs))
        return e_pub + self.ss.encrypt_and_hash(payload)

    def read_message_2(self, message: bytes) -> bytes:
        if len(message) < 32 + TAG_LENGTH:
            raise ProtocolViolation(f"handshake message 2 of {len(message)} bytes")
        re = message[:32]
        self.ss.mix_hash(re)
        self.ss.mix_key(self._dh(re))
        return self.ss.decrypt_and_hash(message[32:])

    def split(self, aes_transport: bool = False) -> tuple[CipherState, CipherState]:
        """(send, receive) for the initiator."""
        return self.ss.split(aes_transport)


class NKResponder:
    """Noise NK, responder side (a receiver of the test's own): <- s ... -> e, es ... <- e, ee."""

    def __init__(self, static: X25519PrivateKey, prologue: bytes = PROLOGUE, protocol_name: bytes = PROTOCOL_NAME):
        self.s = static
        self.e = X25519PrivateKey.generate()
        self.re = b""
        self.ss = SymmetricState(protocol_name)
        self.ss.mix_hash(prologue)
        self.ss.mix_hash(static.public_key().public_bytes_raw())  # pre-message: our static key

    def read_message_1(self, message: bytes) -> bytes:
        self.re = message[:32]
        self.ss.mix_hash(self.re)
        self.ss.mix_key(self.s.exchange(X25519PublicKey.from_public_bytes(self.re)))
        return self.ss.decrypt_and_hash(message[32:])

    def write_message_2(self, payload: bytes) -> bytes:
        e_pub = self.e.public_key().public_bytes_raw()
        self.ss.mix_hash(e_pub)
        self.ss.mix_key(self.e.exchange(X25519PublicKey.from_public_bytes(self.re)))
        return e_pub + self.ss.encrypt_and_hash(payload)

    def split(self, aes_transport: bool = False) -> tuple[CipherState, CipherState]:
        """(send, receive) for the responder."""
        initiator_send, responder_send = self.ss.split(aes_transport)
        return responder_send, initiator_send


# --------------------------------------------------------------------------------------------
# Record encoders (sender records) and decoders (receiver records)

def offer_begin(token: bytes, count: int, total: int, digest_algorithm: int = DIGEST_SHA256) -> bytes:
    return struct.pack(">B16sBIQ", OFFER_BEGIN, token, digest_algorithm, count, total)


def entry(path: bytes | str, *, kind: int = KIND_FILE, size: int = 0, mode: int | None = None,
          mtime: int = 1_700_000_000, mtime_ns: int = 0, path_length: int | None = None) -> bytes:
    """ENTRY; `path_length` overrides the length field (to lie about it)."""
    raw = path.encode() if isinstance(path, str) else path
    if mode is None:
        mode = 0o755 if kind == KIND_DIR else 0o644
    n = len(raw) if path_length is None else path_length
    return struct.pack(">BBHqIQH", ENTRY, kind, mode, mtime, mtime_ns, size, n) + raw


def offer_end() -> bytes:
    return bytes([OFFER_END])


def data(index: int, offset: int, chunk: bytes) -> bytes:
    return struct.pack(">BIQ", DATA, index, offset) + chunk


def file_end(index: int, file_digest: bytes) -> bytes:
    return struct.pack(">BI", FILE_END, index) + file_digest


def file_abort(index: int) -> bytes:
    return struct.pack(">BI", FILE_ABORT, index)


def done() -> bytes:
    return bytes([DONE])


def cancel(code: int = CANCEL_USER) -> bytes:
    return bytes([CANCEL, code])


def keepalive() -> bytes:
    return bytes([KEEPALIVE])


def seq(number: int, record: bytes) -> bytes:
    """SEQ: RECORD (DATA, FILE_END, FILE_ABORT or DONE) with its place in a striped session."""
    return struct.pack(">BQ", SEQ, number) + record


def join(secret: bytes) -> bytes:
    return bytes([JOIN]) + secret


def decode_pairs(raw: bytes) -> list[tuple[int, int]]:
    if len(raw) % 12:
        raise ProtocolViolation(f"resume pairs of {len(raw)} bytes")
    return [struct.unpack_from(">IQ", raw, i) for i in range(0, len(raw), 12)]


def describe(record: tuple[int, bytes]) -> str:
    kind, payload = record
    name = RECORD_NAMES.get(kind, f"0x{kind:02x}")
    if kind in (REFUSE, CANCEL) and len(payload) == 1:
        return f"{name}({payload[0]})"
    if kind == FILE_RESULT and len(payload) == 5:
        index, code = struct.unpack(">IB", payload)
        return f"{name}(entry {index}, code {code})"
    return f"{name} {payload.hex()}" if payload else name


# --------------------------------------------------------------------------------------------
# Errors

class PeerClosed(Exception):
    """The receiver closed the connection (end of stream, or a reset)."""

    def __init__(self, message: str = "connection closed", received: bytes = b"", reset: bool = False):
        super().__init__(message)
        self.received = received
        self.reset = reset


class ProtocolViolation(Exception):
    """The receiver sent something the specification does not allow (or undecryptable bytes)."""


# --------------------------------------------------------------------------------------------
# Files to offer

@dataclass
class Item:
    """One offered entry: a directory (content None) or a regular file."""
    path: bytes
    content: bytes | None = None
    mode: int | None = None
    mtime: int = 1_700_000_000
    mtime_ns: int = 0

    @property
    def is_dir(self) -> bool:
        return self.content is None

    @property
    def size(self) -> int:
        return 0 if self.content is None else len(self.content)

    def encode(self) -> bytes:
        return entry(self.path, kind=KIND_DIR if self.is_dir else KIND_FILE, size=self.size, mode=self.mode,
                     mtime=self.mtime, mtime_ns=self.mtime_ns)


def items_from(files) -> list[Item]:
    """The Items to offer: a list of Items as it is (hostile offers), or from a dict {path: bytes, or
    None for a directory}, in order, with missing parent directories inserted before their first
    child (so that the offer is correct)."""
    if not isinstance(files, dict):
        return list(files)
    raw = [Item(p.encode() if isinstance(p, str) else p, c) for p, c in files.items()]
    out: list[Item] = []
    seen: set[bytes] = set()
    for it in raw:
        parts = it.path.split(b"/")
        for i in range(1, len(parts)):
            parent = b"/".join(parts[:i])
            if parent not in seen:
                seen.add(parent)
                out.append(Item(parent))
        if it.path not in seen:
            seen.add(it.path)
            out.append(it)
    return out


@dataclass
class SessionResult:
    """What a receiver answered to `send_files`."""
    accepted: bool = False
    refuse: int | None = None
    cancel: int | None = None
    resume: dict = field(default_factory=dict)           # entry -> offset
    results: dict = field(default_factory=dict)          # entry -> FILE_RESULT code
    done_ack: bool = False
    records: list = field(default_factory=list)          # everything received, for messages

    @property
    def ok(self) -> bool:
        return self.done_ack and all(code == RESULT_OK for code in self.results.values())

    def __str__(self):
        return (f"accepted={self.accepted} refuse={self.refuse} cancel={self.cancel} resume={self.resume} "
                f"results={self.results} done_ack={self.done_ack} records={[describe(r) for r in self.records]}")


# --------------------------------------------------------------------------------------------
# The connection

class PeerClient:
    """One TCP connection to a receiver. `connect` runs the preamble and the handshake; the
    lower-level steps (`open`, `send_preamble`, `handshake`) let a test break any of them."""

    def __init__(self, sock: socket.socket, timeout: float = 10):
        self.sock = sock
        self.timeout = timeout
        self._buffer = bytearray()
        self._send: CipherState | None = None
        self._recv: CipherState | None = None
        self.peer_hello: Hello | None = None
        self.key: bytes | None = None
        self._lock = threading.Lock()

    # ---- setting up

    @classmethod
    def open(cls, host: str, port: int, timeout: float = 10) -> "PeerClient":
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, timeout)

    @classmethod
    def connect(cls, host: str, port: int, endpoint_id: str | bytes, *, timeout: float = 10,
                max_record: int = MAX_RECORD) -> "PeerClient":
        """Preamble and handshake; raises PeerClosed if the receiver closes instead of answering."""
        key = endpoint_id if isinstance(endpoint_id, bytes) else endpoint_key(endpoint_id)
        c = cls.open(host, port, timeout)
        try:
            c.send_preamble(key)
            c.handshake(key, payload=hello(max_record=max_record))
        except BaseException:
            c.close()
            raise
        return c

    def send_preamble(self, key: bytes, nonce: bytes | None = None, magic: bytes = MAGIC):
        self.key = key
        self.send_raw(preamble(key, nonce, magic))

    def handshake(self, key: bytes | None = None, *, payload: bytes | None = None,
                  prologue: bytes = PROLOGUE, protocol_name: bytes = PROTOCOL_NAME) -> Hello:
        """Message 1 out, message 2 in, Split. Returns the receiver's HELLO."""
        hs = NKInitiator(key or self.key, prologue, protocol_name)
        ours = hello() if payload is None else payload
        message = hs.write_message_1(ours)
        self.send_raw(struct.pack(">H", len(message)) + message)
        reply = self.recv_frame()
        try:
            self.peer_hello = Hello.decode(hs.read_message_2(reply))
        except InvalidTag:
            raise ProtocolViolation("handshake message 2 does not decrypt") from None
        asked = len(ours) >= 4 and struct.unpack(">H", ours[2:4])[0] & FLAG_AESGCM_TRANSPORT
        self._send, self._recv = hs.split(bool(asked and self.peer_hello.flags & FLAG_AESGCM_TRANSPORT))
        return self.peer_hello

    @property
    def max_data(self) -> int:
        """The largest DATA chunk the receiver accepts."""
        limit = min(self.peer_hello.max_record if self.peer_hello else MAX_RECORD, MAX_RECORD)
        return limit - 13

    # ---- sending

    def send_raw(self, raw: bytes):
        with self._lock:
            self.sock.sendall(raw)

    def seal(self, record: bytes) -> bytes:
        """The frame carrying RECORD (the next message of the send cipher)."""
        message = self._send.encrypt(b"", record)
        return struct.pack(">H", len(message)) + message

    def send_record(self, record: bytes):
        with self._lock:
            self.sock.sendall(self.seal(record))

    def send_records(self, records):
        """Sends many records in few system calls."""
        batch = bytearray()
        for r in records:
            batch += self.seal(r)
            if len(batch) >= 1 << 18:
                self.send_raw(bytes(batch))
                batch.clear()
        if batch:
            self.send_raw(bytes(batch))

    def send_in_background(self, records) -> threading.Thread:
        """Sends RECORDS from a thread, ignoring a connection the receiver closed meanwhile (so the
        caller can read the receiver's answer while a large offer is still going out)."""

        def run():
            try:
                self.send_records(records)
            except OSError:
                pass

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    # ---- receiving

    def _fill(self, n: int, deadline: float) -> None:
        while len(self._buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no data from the receiver (have {len(self._buffer)} of {n} bytes)")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except ConnectionResetError:
                raise PeerClosed("connection reset", bytes(self._buffer), reset=True) from None
            if not chunk:
                raise PeerClosed("end of stream", bytes(self._buffer))
            self._buffer += chunk

    def _take(self, n: int) -> bytes:
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def recv_exact(self, n: int, timeout: float | None = None) -> bytes:
        """N raw bytes (before the handshake: a relay's answer, a preamble)."""
        self._fill(n, time.monotonic() + (self.timeout if timeout is None else timeout))
        return self._take(n)

    def recv_frame(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._fill(2, deadline)
        (length,) = struct.unpack(">H", bytes(self._buffer[:2]))
        self._fill(2 + length, deadline)
        self._take(2)
        return self._take(length)

    def recv_record(self, timeout: float | None = None, keepalives: bool = False) -> tuple[int, bytes]:
        """The next record as (type, fields); KEEPALIVEs are skipped unless asked for. Raises
        PeerClosed at end of stream, TimeoutError, ProtocolViolation if a frame does not decrypt."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
            try:
                record = self._recv.decrypt(b"", frame)
            except InvalidTag:
                raise ProtocolViolation(f"a frame of {len(frame)} bytes does not decrypt") from None
            if not record:
                raise ProtocolViolation("empty record")
            if record[0] == KEEPALIVE and not keepalives:
                continue
            return record[0], record[1:]

    def expect(self, kind: int, timeout: float | None = None) -> bytes:
        record = self.recv_record(timeout)
        if record[0] != kind:
            raise ProtocolViolation(f"expected {RECORD_NAMES[kind]}, got {describe(record)}")
        return record[1]

    def read_until_closed(self, timeout: float = 5) -> list[tuple[int, bytes]]:
        """Every record until the receiver closes (KEEPALIVEs left out). Raises TimeoutError if it
        does not close within TIMEOUT."""
        deadline = time.monotonic() + timeout
        records = []
        while True:
            try:
                records.append(self.recv_record(max(0.0, deadline - time.monotonic())))
            except PeerClosed as e:
                if e.received:
                    raise ProtocolViolation(f"stream ended inside a frame: {e.received.hex()}") from None
                return records

    def read_raw_until_closed(self, timeout: float = 5) -> bytes:
        """Raw bytes until the receiver closes (before or instead of the handshake). Raises
        TimeoutError if it does not close within TIMEOUT."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(len(self._buffer) + 1, deadline)
        except PeerClosed as e:
            self._buffer.clear()
            return e.received

    # ---- ending

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self, reset: bool = False):
        """Closes; with RESET, abortively (SO_LINGER 0: the peer sees a TCP reset)."""
        if reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- a whole, correct session

    def offer(self, items: list[Item], token: bytes, digest_algorithm: int = DIGEST_SHA256):
        total = sum(it.size for it in items)
        self.send_records([offer_begin(token, len(items), total, digest_algorithm),
                           *(it.encode() for it in items), offer_end()])

    def read_answer(self, result: SessionResult, timeout: float | None = None) -> bool:
        """Reads ACCEPT (+ ACCEPT_MOREs) or REFUSE/CANCEL into RESULT; True if accepted."""
        record = self.recv_record(timeout)
        result.records.append(record)
        kind, payload = record
        if kind == REFUSE:
            result.refuse = payload[0]
            return False
        if kind == CANCEL:
            result.cancel = payload[0]
            return False
        if kind != ACCEPT:
            raise ProtocolViolation(f"expected ACCEPT or REFUSE, got {describe(record)}")
        (count,) = struct.unpack(">I", payload[:4])
        pairs = decode_pairs(payload[4:])
        while len(pairs) < count:
            more = self.expect(ACCEPT_MORE, timeout)
            result.records.append((ACCEPT_MORE, more))
            pairs += decode_pairs(more)
        if len(pairs) != count:
            raise ProtocolViolation(f"{len(pairs)} resume pairs, {count} announced")
        result.resume = dict(pairs)
        result.accepted = True
        return True

    def send_files(self, files, *, token: bytes | None = None, digest_algorithm: int = DIGEST_SHA256,
                   chunk: int | None = None, timeout: float | None = None, close: bool = True) -> SessionResult:
        """A correct session: offer FILES (see `items_from`), send every file the receiver still
        needs in chunks, FILE_END with the right digest, DONE; collect the FILE_RESULTs and the
        DONE_ACK. Closes the connection at the end unless CLOSE is false."""
        items = items_from(files)
        token = os.urandom(16) if token is None else token
        result = SessionResult()
        try:
            self.offer(items, token, digest_algorithm)
            if not self.read_answer(result, timeout):
                return result
            chunk = min(chunk or self.max_data, self.max_data)
            expected = 0
            for index, it in enumerate(items):
                if it.is_dir:
                    continue
                start = result.resume.get(index, 0)
                if start == COMPLETE:
                    continue
                expected += 1
                self.send_records([data(index, off, it.content[off:off + chunk])
                                   for off in range(start, it.size, chunk)])
                self.send_record(file_end(index, digest(digest_algorithm, it.content)))
            self.send_record(done())
            while True:
                record = self.recv_record(timeout)
                result.records.append(record)
                kind, payload = record
                if kind == FILE_RESULT:
                    index, code = struct.unpack(">IB", payload)
                    result.results[index] = code
                elif kind == DONE_ACK:
                    result.done_ack = True
                    break
                elif kind == CANCEL:
                    result.cancel = payload[0]
                    break
                else:
                    raise ProtocolViolation(f"unexpected {describe(record)}")
            if result.done_ack and len(result.results) != expected:
                raise ProtocolViolation(f"DONE_ACK after {len(result.results)} results, {expected} expected")
            return result
        finally:
            if close:
                self.close()
