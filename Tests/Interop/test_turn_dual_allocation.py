"""stagedoor-turn's dual allocations (RFC 8656 §7.2 step 9, ADDITIONAL-ADDRESS-FAMILY §18.11)
on real sockets: one Allocate over IPv4 gets an IPv4 and an IPv6 relayed address, and each peer
is reached from the relayed address of its own family.

The test runs in a network namespace of its own (`unshare --net`, as root), so its addresses
and ports touch nothing else: loopback up, with fd00:5d::1 (the server's IPv6 relay address)
and fd00:5d::2 (the IPv6 peer) on it; the IPv4 peer is 127.0.0.2. The operator allow list
opens exactly those two peers (loopback and unique-local are denied by default). stagedoor-turn
is started alone, from $STAGEDOOR_BIN_DIR. The client is hand-built STUN over UDP with long-term
credentials (RFC 8489 §9.2), so every attribute on the wire is the test's own:

- Allocate with ADDITIONAL-ADDRESS-FAMILY IPv6: two XOR-RELAYED-ADDRESS, IPv4 first;
- one CreatePermission for both peers, a channel to each, and bytes through each channel echoed
  back byte for byte, the peers seeing them come from the relayed address of their family;
- a Send indication to another IPv6 peer port, answered by a Data indication;
- on an IPv4-only allocation, an IPv6 peer is 443, and so is a Refresh for IPv6;
- Refresh with LIFETIME 0 closes both relay sockets (the status counts them).

    STAGEDOOR_BIN_DIR=.build/debug .build/interop-venv/bin/python -m pytest -q Tests/Interop -k dual
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import yaml
from stack_support import control_request, inside_network_namespace

INSIDE = "STAGEDOOR_DUAL_ALLOCATION_NAMESPACE"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("STAGEDOOR_BIN_DIR", str(PACKAGE_ROOT / ".build" / "debug")))
TURN_BINARY = BIN_DIR / "stagedoor-turn"
TEMPLATE = PACKAGE_ROOT / "Config" / "stagedoor.yaml"

# Ports no other test uses (and the namespace is this test's alone anyway).
TURN_PORT = 34970
PEER_PORT = 34975
RELAY_MIN, RELAY_MAX = 36100, 36199
SERVER_V4 = "127.0.0.1"
RELAY_V6 = "fd00:5d::1"
PEER_V4 = "127.0.0.2"
PEER_V6 = "fd00:5d::2"
USER, PASSWORD = "alice", "dual-stack-42"

# STUN (RFC 8489) and TURN (RFC 8656) numbers.
MAGIC = 0x2112A442
ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 0x003, 0x004, 0x006, 0x007, 0x008, 0x009
REQUEST, INDICATION, SUCCESS, ERROR = 0x0000, 0x0010, 0x0100, 0x0110
CHANNEL_NUMBER, LIFETIME, XOR_PEER_ADDRESS, DATA_ATTRIBUTE = 0x000C, 0x000D, 0x0012, 0x0013
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
XOR_RELAYED_ADDRESS, REQUESTED_ADDRESS_FAMILY, REQUESTED_TRANSPORT = 0x0016, 0x0017, 0x0019
ADDITIONAL_ADDRESS_FAMILY, ADDRESS_ERROR_CODE = 0x8000, 0x8001
IPV4, IPV6 = 0x01, 0x02


# --------------------------------------------------------------------------------------------
# STUN messages, by hand


def message_type(method: int, kind: int) -> int:
    """The 14-bit method and 2-bit class interleaved (RFC 8489 §5)."""
    return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | kind


def attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(address: tuple[str, int], transaction: bytes) -> bytes:
    host, port = address
    packed = ipaddress.ip_address(host).packed
    family = IPV4 if len(packed) == 4 else IPV6
    mask = struct.pack("!I", MAGIC) + transaction
    xored = bytes(a ^ b for a, b in zip(packed, mask))
    return struct.pack("!BBH", 0, family, port ^ (MAGIC >> 16)) + xored


def parse_xor_address(value: bytes, transaction: bytes) -> tuple[str, int]:
    family, port = value[1], struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
    length = 4 if family == IPV4 else 16
    mask = struct.pack("!I", MAGIC) + transaction
    raw = bytes(a ^ b for a, b in zip(value[4 : 4 + length], mask))
    return str(ipaddress.ip_address(raw)), port


def family_value(family: int) -> bytes:
    """REQUESTED-/ADDITIONAL-ADDRESS-FAMILY: the family, then 3 bytes RFFU (RFC 8656 §18.6)."""
    return bytes([family, 0, 0, 0])


def encode(kind: int, transaction: bytes, attributes: list[bytes], key: bytes | None = None) -> bytes:
    body = b"".join(attributes)
    if key is not None:
        # MESSAGE-INTEGRITY covers the header with the length it will have (RFC 8489 §14.5).
        header = struct.pack("!HHI", kind, len(body) + 24, MAGIC) + transaction
        body += attribute(MESSAGE_INTEGRITY, hmac.new(key, header + body, hashlib.sha1).digest())
    return struct.pack("!HHI", kind, len(body), MAGIC) + transaction + body


def decode(data: bytes) -> tuple[int, bytes, list[tuple[int, bytes]]] | None:
    """(type, transaction ID, attributes in order), or None for what is not STUN."""
    if len(data) < 20 or data[0] & 0xC0 or struct.unpack("!I", data[4:8])[0] != MAGIC:
        return None
    kind, length = struct.unpack("!HH", data[:4])
    attributes, offset = [], 20
    while offset + 4 <= 20 + length:
        attribute_type, attribute_length = struct.unpack("!HH", data[offset : offset + 4])
        attributes.append((attribute_type, data[offset + 4 : offset + 4 + attribute_length]))
        offset += 4 + attribute_length + (-attribute_length % 4)
    return kind, data[8:20], attributes


def error_code(attributes: list[tuple[int, bytes]], kind: int = ERROR_CODE) -> int | None:
    """The code of ERROR-CODE, or of ADDRESS-ERROR-CODE: both carry the class in the low bits of
    their third byte and the number in the fourth (RFC 8489 §14.8, RFC 8656 §18.12)."""
    for attribute_type, value in attributes:
        if attribute_type == kind:
            return (value[2] & 0x07) * 100 + value[3]
    return None


class Client:
    """One TURN client 5-tuple, with long-term credentials once the server has challenged it."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((SERVER_V4, 0))
        self.socket.settimeout(0.5)
        self.server = (SERVER_V4, TURN_PORT)
        self.realm: bytes | None = None
        self.nonce: bytes | None = None
        self.key: bytes | None = None
        self.pending: list[bytes] = []  # datagrams read while waiting for something else

    def close(self) -> None:
        self.socket.close()

    def request(self, method: int, attributes: list[bytes]) -> tuple[int, bytes, list[tuple[int, bytes]]]:
        """A request, authenticated once the realm and nonce are known; a 401 or 438 teaches
        them and the request is sent again (RFC 8489 §9.2.5). Retransmitted over UDP."""
        for _ in range(3):
            transaction = os.urandom(12)
            signed = attributes
            if self.realm is not None:
                signed = attributes + [
                    attribute(USERNAME, USER.encode()),
                    attribute(REALM, self.realm),
                    attribute(NONCE, self.nonce),
                ]
            data = encode(message_type(method, REQUEST), transaction, signed, self.key)
            answer = self.exchange(data, transaction)
            kind, _, answer_attributes = answer
            code = error_code(answer_attributes) if kind == message_type(method, ERROR) else None
            if code in (401, 438) and (self.realm is None or code == 438):
                values = dict(answer_attributes)
                self.realm, self.nonce = values[REALM], values[NONCE]
                self.key = hashlib.md5(f"{USER}:{self.realm.decode()}:{PASSWORD}".encode()).digest()
                continue
            return answer
        raise AssertionError(f"no answer but challenges to method {method:#x}")

    def exchange(self, data: bytes, transaction: bytes) -> tuple[int, bytes, list[tuple[int, bytes]]]:
        for _ in range(4):
            self.socket.sendto(data, self.server)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                try:
                    datagram, _ = self.socket.recvfrom(65536)
                except socket.timeout:
                    continue
                decoded = decode(datagram)
                if decoded and decoded[1] == transaction:
                    return decoded
                self.pending.append(datagram)
        raise AssertionError("stagedoor-turn did not answer")

    def send(self, data: bytes) -> None:
        self.socket.sendto(data, self.server)

    def receive(self, accept, timeout: float = 2.0):
        """The first datagram `accept` maps to something other than None, within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                found = accept(self.pending.pop(0))
                if found is not None:
                    return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self.pending.append(self.socket.recvfrom(65536)[0])
            except socket.timeout:
                pass


class EchoPeer:
    """A UDP peer that sends every datagram back, and remembers where they came from."""

    def __init__(self, family: int, address: tuple[str, int]):
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.socket.bind(address)
        self.socket.settimeout(0.2)
        self.sources: set[tuple[str, int]] = set()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                data, source = self.socket.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.sources.add((source[0], source[1]))
            self.socket.sendto(data, source)

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.socket.close()


# --------------------------------------------------------------------------------------------
# The server


def write_config(directory: Path) -> Path:
    config = yaml.safe_load(TEMPLATE.read_text())
    config["runtime_dir"] = str(directory / "run")
    turn = config["turn"]
    turn["listeners"] = [{"transport": "udp", "address": SERVER_V4, "port": TURN_PORT}]
    turn["relay"] = {"address": SERVER_V4, "ipv6_address": RELAY_V6, "port_min": RELAY_MIN, "port_max": RELAY_MAX}
    turn["auth"]["users"] = [{"name": USER, "password": PASSWORD}]
    turn["peers"]["allow"] = [f"{PEER_V4}/32", f"{PEER_V6}/128"]
    path = directory / "stagedoor.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def turn_status(runtime: Path) -> dict:
    """`status` on turn.sock: the details object."""
    return control_request(runtime / "turn.sock")["details"]


def wait_for_status(runtime: Path, check, timeout: float = 5.0) -> dict:
    """The status once `check` holds for it (the data path and the status are on other threads)."""
    deadline = time.monotonic() + timeout
    while True:
        details = turn_status(runtime)
        if check(details) or time.monotonic() > deadline:
            return details
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# The test


def run(*command: str) -> None:
    subprocess.run(command, check=True)


def test_dual_allocation_relays_to_an_ipv6_and_an_ipv4_peer():
    assert TURN_BINARY.is_file() and os.access(TURN_BINARY, os.X_OK), (
        f"{TURN_BINARY} is missing: build it first (swift build --product stagedoor-turn), "
        "or set STAGEDOOR_BIN_DIR"
    )
    if not inside_network_namespace(__file__, INSIDE):
        return

    # In the namespace: loopback up with the two IPv6 addresses (no duplicate detection to wait for).
    run("ip", "link", "set", "lo", "up")
    run("ip", "-6", "addr", "add", f"{RELAY_V6}/128", "dev", "lo", "nodad")
    run("ip", "-6", "addr", "add", f"{PEER_V6}/128", "dev", "lo", "nodad")

    directory = Path(tempfile.mkdtemp(prefix="sd-dual-", dir="/tmp"))
    runtime = directory / "run"
    config = write_config(directory)
    log_path = directory / "turn.log"
    peers = [
        EchoPeer(socket.AF_INET6, (PEER_V6, PEER_PORT)),
        EchoPeer(socket.AF_INET6, (PEER_V6, PEER_PORT + 1)),
        EchoPeer(socket.AF_INET, (PEER_V4, PEER_PORT)),
    ]
    clients: list[Client] = []
    with open(log_path, "wb") as log:
        # --supervisor-pid: should this process be killed (the outer timeout), the server stops too.
        server = subprocess.Popen(
            [
                str(TURN_BINARY), "--config", str(config), "--runtime-dir", str(runtime),
                "--supervisor-pid", str(os.getpid()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not (runtime / "turn.sock").exists():
            assert server.poll() is None, f"stagedoor-turn exited: {log_path.read_text(errors='replace')}"
            assert time.monotonic() < deadline, "stagedoor-turn did not start"
            time.sleep(0.1)
        exercise(runtime, peers, clients)
    except BaseException:
        print(f"--- stagedoor-turn log ---\n{log_path.read_text(errors='replace')[-6000:]}")
        raise
    finally:
        for client in clients:
            client.close()
        for peer in peers:
            peer.stop()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        shutil.rmtree(directory, ignore_errors=True)


def exercise(runtime: Path, peers: list[EchoPeer], clients: list[Client]) -> None:
    peer_v6, peer_v6_other, peer_v4 = peers
    client = Client()
    clients.append(client)

    # Dual Allocate over IPv4: two XOR-RELAYED-ADDRESS, IPv4 first, no ADDRESS-ERROR-CODE.
    udp = attribute(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))
    kind, transaction, attributes = client.request(
        ALLOCATE, [udp, attribute(ADDITIONAL_ADDRESS_FAMILY, family_value(IPV6))]
    )
    assert kind == message_type(ALLOCATE, SUCCESS), f"Allocate failed: {error_code(attributes)}"
    relayed = [parse_xor_address(value, transaction) for type_, value in attributes if type_ == XOR_RELAYED_ADDRESS]
    assert len(relayed) == 2, f"expected two relayed addresses, got {relayed}"
    relay_v4, relay_v6 = relayed
    assert relay_v4[0] == SERVER_V4 and RELAY_MIN <= relay_v4[1] <= RELAY_MAX, relay_v4
    assert relay_v6[0] == RELAY_V6 and RELAY_MIN <= relay_v6[1] <= RELAY_MAX, relay_v6
    assert error_code(attributes, ADDRESS_ERROR_CODE) is None
    details = turn_status(runtime)
    assert (details["allocations"], details["dual_allocations"], details["relay_sockets"]) == (1, 1, 2), details

    # One CreatePermission for both families, then a channel to each peer.
    def with_peer(address: tuple[str, int]):
        return lambda transaction: attribute(XOR_PEER_ADDRESS, xor_address(address, transaction))

    kind, _, attributes = signed_request(
        client, CREATE_PERMISSION, [with_peer((PEER_V6, PEER_PORT)), with_peer((PEER_V4, PEER_PORT))]
    )
    assert kind == message_type(CREATE_PERMISSION, SUCCESS), f"CreatePermission: {error_code(attributes)}"
    channels = {0x4000: (PEER_V6, PEER_PORT), 0x4001: (PEER_V4, PEER_PORT)}
    for number, peer in channels.items():
        number_attribute = attribute(CHANNEL_NUMBER, struct.pack("!HH", number, 0))
        kind, _, attributes = signed_request(client, CHANNEL_BIND, [lambda _: number_attribute, with_peer(peer)])
        assert kind == message_type(CHANNEL_BIND, SUCCESS), f"ChannelBind {number:#x}: {error_code(attributes)}"

    # Bytes through each channel come back byte for byte.
    generator = random.Random(8656)
    for number in channels:
        for index in range(25):
            payload = bytes(generator.getrandbits(8) for _ in range(generator.randint(1, 1200)))
            echoed = None
            for _ in range(3):  # UDP: a lost datagram is sent again
                client.send(struct.pack("!HH", number, len(payload)) + payload)
                echoed = client.receive(lambda data: channel_payload(data, number, payload))
                if echoed is not None:
                    break
            assert echoed == payload, f"channel {number:#x}, message {index}: not echoed byte for byte"

    # Each peer saw the traffic come from the relayed address of its own family.
    assert peer_v6.sources == {relay_v6}, f"IPv6 peer saw {peer_v6.sources}, relayed {relay_v6}"
    assert peer_v4.sources == {relay_v4}, f"IPv4 peer saw {peer_v4.sources}, relayed {relay_v4}"

    # A Send indication to another port of the IPv6 peer (no channel there): a Data indication
    # back, from that peer.
    payload = b"send and data over IPv6 " + os.urandom(37)
    transaction = os.urandom(12)
    client.send(
        encode(
            message_type(SEND, INDICATION),
            transaction,
            [
                attribute(XOR_PEER_ADDRESS, xor_address((PEER_V6, PEER_PORT + 1), transaction)),
                attribute(DATA_ATTRIBUTE, payload),
            ],
        )
    )
    data_indication = client.receive(lambda data: data_indication_of(data))
    assert data_indication is not None, "no Data indication from the IPv6 peer"
    assert data_indication == ((PEER_V6, PEER_PORT + 1), payload)
    assert peer_v6_other.sources == {relay_v6}

    # An allocation of IPv4 only: an IPv6 peer is a 443, and so is a Refresh for IPv6.
    single = Client()
    clients.append(single)
    kind, _, attributes = single.request(ALLOCATE, [udp])
    assert kind == message_type(ALLOCATE, SUCCESS), f"Allocate: {error_code(attributes)}"
    kind, _, attributes = signed_request(single, CREATE_PERMISSION, [with_peer((PEER_V6, PEER_PORT))])
    assert (kind, error_code(attributes)) == (message_type(CREATE_PERMISSION, ERROR), 443)
    number_attribute = attribute(CHANNEL_NUMBER, struct.pack("!HH", 0x4000, 0))
    kind, _, attributes = signed_request(
        single, CHANNEL_BIND, [lambda _: number_attribute, with_peer((PEER_V6, PEER_PORT))]
    )
    assert (kind, error_code(attributes)) == (message_type(CHANNEL_BIND, ERROR), 443)
    kind, _, attributes = single.request(REFRESH, [attribute(REQUESTED_ADDRESS_FAMILY, family_value(IPV6))])
    assert (kind, error_code(attributes)) == (message_type(REFRESH, ERROR), 443)
    kind, _, _ = single.request(REFRESH, [attribute(LIFETIME, struct.pack("!I", 0))])
    assert kind == message_type(REFRESH, SUCCESS)

    # LIFETIME 0 releases the dual allocation: both relay sockets close.
    kind, _, attributes = client.request(REFRESH, [attribute(LIFETIME, struct.pack("!I", 0))])
    assert kind == message_type(REFRESH, SUCCESS), f"Refresh: {error_code(attributes)}"
    details = wait_for_status(runtime, lambda d: d["relay_sockets"] == 0)
    assert (details["allocations"], details["dual_allocations"], details["relay_sockets"]) == (0, 0, 0), details
    assert details["counters"]["allocations_created"] == 2, details
    assert details["counters"]["packets_to_peers"] >= 51, details


def signed_request(client: Client, method: int, builders) -> tuple[int, bytes, list[tuple[int, bytes]]]:
    """A request whose attributes depend on its transaction ID (XOR-PEER-ADDRESS of IPv6 is
    masked with it): each builder makes one attribute from the ID the request is sent with."""
    for _ in range(3):
        transaction = os.urandom(12)
        attributes = [build(transaction) for build in builders] + [
            attribute(USERNAME, USER.encode()),
            attribute(REALM, client.realm),
            attribute(NONCE, client.nonce),
        ]
        data = encode(message_type(method, REQUEST), transaction, attributes, client.key)
        answer = client.exchange(data, transaction)
        if answer[0] == message_type(method, ERROR) and error_code(answer[2]) == 438:
            client.nonce = dict(answer[2])[NONCE]
            continue
        return answer
    raise AssertionError("stale nonce three times")


def channel_payload(data: bytes, number: int, expected: bytes) -> bytes | None:
    """The payload of ChannelData on `number` that carries `expected` (older echoes, of
    retransmissions, are skipped)."""
    if len(data) < 4 or not 0x40 <= data[0] <= 0x7F:
        return None
    channel, length = struct.unpack("!HH", data[:4])
    payload = data[4 : 4 + length]
    if channel != number or payload != expected:
        return None
    return payload


def data_indication_of(data: bytes):
    decoded = decode(data)
    if decoded is None or decoded[0] != message_type(DATA, INDICATION):
        return None
    _, transaction, attributes = decoded
    values = dict(attributes)
    return parse_xor_address(values[XOR_PEER_ADDRESS], transaction), values[DATA_ATTRIBUTE]
