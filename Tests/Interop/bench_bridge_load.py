"""Whole-process load on stagedoor-bridge: how many WebRTC panels one core carries.

For each N of a list, a fresh release stagedoor-bridge (pinned to CPU 0) gets N matrix ports
and N panels, and this starts, all on CPU 1:

- N light panels, a few dozen per Python process: each is one UDP socket and does what a
  browser does on the wire. WHIP POST (an offer with opus/48000/2, its ICE credentials, the
  SHA-256 fingerprint of its own self-signed ECDSA certificate, a=setup:actpass, rtcp-mux),
  an ICE check to the answer's candidate (USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
  MESSAGE-INTEGRITY with the answer's ice-pwd, FINGERPRINT), consent checks every 4-6 s
  after that (RFC 7675), the DTLS 1.2 client handshake (pyOpenSSL on memory BIOs, use_srtp
  SRTP_AES128_CM_SHA1_80, or AEAD_AES_128_GCM with --srtp gcm; the bridge's certificate
  checked against the answer's fingerprint), SRTP keys from the exporter into libsrtp
  (pylibsrtp), then 20 ms Opus frames (one second of a 1 kHz tone, encoded once with libopus,
  32 kb/s constrained VBR, looped with running sequence numbers and timestamps) at 50 packets a
  second, each panel at a random phase (browsers are independent; panels in step cost the
  bridge ~10 % less at small N, as it then handles several per wake-up), an SRTCP sender
  report every 2 s, and it unprotects and counts the bridge's SRTP (sequence gaps are losses,
  timestamp gaps are audio the bridge skipped) and SRTCP. The bridge does all its per-panel
  work: SRTP both ways, Opus decode, L24 packets, L24 decode, Opus encode.
- the matrix: scripts/bench-bridge-ports.c (built by the wrapper script) sends each port
  L24 (or L16) at its packet time and receives every port's output on one socket of its own,
  so the load is full duplex and no datagram goes to a closed port.

After every panel is connected and WARMUP seconds have passed, it measures over WINDOW
seconds: the bridge's CPU (utime + stime of /proc/PID/stat, all threads), its RSS, the packets
both ways and their loss (the bridge's `status` counters, the panels' and the port side's own
counts, and the kernel's drop counters of every socket involved, /proc/net/udp), and the CPU
of the load generators; also what else ran on each CPU and the hypervisor's steal, the noise
of a shared machine. The steps stop at the first N with loss over LOSS_LIMIT % or the bridge
over CPU_LIMIT of its core. With --check K it then runs K light panels alone and K aiortc
panels (bridge_support.Panel) alone, alternately, and prints the bridge's view of both.

    python bench_bridge_load.py --panels "10 25 50" --ports-helper PATH   (scripts/bench-bridge-load)
    python bench_bridge_load.py --worker ...          (one process of light panels; internal)
    python bench_bridge_load.py --aiortc-worker ...   (real aiortc panels for the check; internal)

Loopback only. Ports used: WHIP 25300, bridge media 24000-24999, port receive 23000-23999.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import http.client
import json
import math
import os
import random
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = PACKAGE_ROOT / "Config" / "stagedoor.yaml"
# Below the kernel's ephemeral range (32768-60999), so no client socket ever takes one of them.
WHIP_PORT = 25300
MEDIA_RANGE = (24000, 24999)
FIRST_PORT = 23000  # port i receives on FIRST_PORT + i (at most 1000 ports)
PAYLOAD_TYPE = 98
FRAME = 960  # one 20 ms Opus frame at 48 kHz
TOKEN_PREFIX = "bench-load-token-0123456789-"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def token_of(index: int) -> str:
    return f"{TOKEN_PREFIX}{index:05d}"


# ---------------------------------------------------------------------------------------------
# The light panel (worker processes)
# ---------------------------------------------------------------------------------------------


def is_rtcp(data: bytes) -> bool:
    # RFC 5761 §4: RTCP packet types 200-204 read as payload types 72-76 without the marker bit.
    return 72 <= (data[1] & 0x7F) <= 76


def dtls_datagrams(data: bytes, limit: int = 1200) -> list[bytes]:
    """DTLS records from OpenSSL's memory BIO, packed whole into datagrams of at most `limit`
    bytes (a memory BIO keeps no datagram boundaries; the bridge reads at most ~2 KB)."""
    records, offset = [], 0
    while offset + 13 <= len(data):
        length = struct.unpack_from("!H", data, offset + 11)[0]
        records.append(data[offset : offset + 13 + length])
        offset += 13 + length
    datagrams, current = [], b""
    for record in records:
        if current and len(current) + len(record) > limit:
            datagrams.append(current)
            current = b""
        current += record
    if current:
        datagrams.append(current)
    return datagrams


def opus_frames(bitrate: int) -> list[bytes]:
    """One second of a 1 kHz tone (a whole number of periods, so it loops cleanly) as 50 Opus
    frames of 20 ms, mono, from libopus through PyAV (the encoder a browser panel has)."""
    import av
    import numpy as np

    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate = bitrate
    codec.format = "s16"
    codec.layout = "mono"
    codec.sample_rate = 48000
    codec.options = {"application": "voip", "vbr": "constrained"}
    t = np.arange(48000 * 3) / 48000
    pcm = (0.3 * 32767 * np.sin(2 * math.pi * 1000 * t)).astype(np.int16)
    packets: list[bytes] = []
    for index in range(150):
        frame = av.AudioFrame.from_ndarray(pcm[index * FRAME : (index + 1) * FRAME].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = index * FRAME
        packets += [bytes(p) for p in codec.encode(frame)]
    # The last second, past the encoder's start-up.
    return packets[-50:]


class Certificate:
    """A self-signed ECDSA P-256 certificate, as browsers make for DTLS-SRTP."""

    def __init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, secrets.token_hex(8))])
        now = datetime.datetime.now(tz=datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        digest = self.cert.fingerprint(hashes.SHA256()).hex().upper()
        self.fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    def context(self, profile: bytes = b"SRTP_AES128_CM_SHA1_80"):
        from OpenSSL import SSL

        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_options(SSL.OP_NO_TICKET)
        # The bridge's certificate is self-signed: it is checked against the answer's fingerprint.
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *args: True)
        ctx.use_certificate(self.cert)
        ctx.use_privatekey(self.key)
        ctx.set_cipher_list(b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA")
        ctx.set_tlsext_use_srtp(profile)
        return ctx


def offer_sdp(ufrag: str, pwd: str, fingerprint: str, port: int, ssrc: int) -> str:
    lines = [
        "v=0",
        f"o=- {random.randint(1, 2**62)} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS *",
        f"m=audio {port} UDP/TLS/RTP/SAVPF 111",
        f"c=IN IP4 {HOST}",
        f"a=ice-ufrag:{ufrag}",
        f"a=ice-pwd:{pwd}",
        f"a=fingerprint:sha-256 {fingerprint}",
        "a=setup:actpass",
        "a=mid:0",
        "a=sendrecv",
        "a=msid:bench bench-audio",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        f"a=ssrc:{ssrc} cname:bench-load",
        f"a=candidate:1 1 udp 2130706431 {HOST} {port} typ host",
        "a=end-of-candidates",
    ]
    return "\r\n".join(lines) + "\r\n"


def whip_post(url: str, token: str, sdp: str) -> tuple[int, str, str]:
    """POST the offer; (status, Location, body)."""
    rest = url.split("://", 1)[1]
    hostport, path = rest.split("/", 1)
    host, port = hostport.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        connection.request(
            "POST", "/" + path, body=sdp.encode(),
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
        )
        response = connection.getresponse()
        return response.status, response.getheader("Location") or "", response.read().decode()
    finally:
        connection.close()


class LightPanel(asyncio.DatagramProtocol):
    """One WebRTC panel on one UDP socket (see the module's docstring)."""

    def __init__(self, worker: "LightWorker", token: str):
        self.worker = worker
        self.token = token
        self.transport: asyncio.DatagramTransport | None = None
        self.local_ufrag = secrets.token_hex(4)
        self.local_pwd = secrets.token_hex(12)
        self.ssrc = random.randint(1, 2**32 - 1)
        self.remote: tuple[str, int] | None = None
        self.remote_ufrag = ""
        self.remote_pwd = b""
        self.remote_fingerprint = ""
        self.payload_type = 111
        self.location = ""
        self.pending: dict[bytes, float] = {}  # STUN transaction → sent at
        self.ice_done = asyncio.get_running_loop().create_future()
        self.dtls_done = asyncio.get_running_loop().create_future()
        self.ssl = None
        self.tx = None
        self.rx = None
        self.sequence = random.randint(0, 0xFFFF)
        self.timestamp = random.randint(0, 2**32 - 1)
        self.frame_index = random.randint(0, 49)
        self.next_due = 0.0
        self.running = False
        self.handles: list[asyncio.TimerHandle] = []
        # Counters.
        self.sent = 0
        self.sent_octets = 0
        self.skipped = 0
        self.received = 0
        self.rtcp_received = 0
        self.rtcp_sent = 0
        self.unprotect_errors = 0
        self.consent_sent = 0
        self.consent_answered = 0
        self.stun_requests_answered = 0
        self.rx_base: int | None = None
        self.rx_max = 0  # extended
        self.rx_last_ts = 0
        self.rx_ts_span = 0  # extended: the bridge's timestamps jump over audio it skipped
        self.remote_ssrc = 0

    # Transport.
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, addr):
        if not data:
            return
        first = data[0]
        if 128 <= first <= 191 and len(data) >= 12:
            if self.rx is None:
                return
            try:
                if is_rtcp(data):
                    self.rx.unprotect_rtcp(data)
                    self.rtcp_received += 1
                    return
                packet = self.rx.unprotect(data)
            except Exception:
                self.unprotect_errors += 1
                return
            self.received += 1
            sequence, timestamp = struct.unpack_from("!HI", packet, 2)
            if self.rx_base is None:
                self.rx_base = self.rx_max = sequence
                self.rx_last_ts = timestamp
                self.remote_ssrc = struct.unpack_from("!I", packet, 8)[0]
            else:
                delta = (sequence - self.rx_max) & 0xFFFF
                if 0 < delta < 0x8000:
                    self.rx_max += delta
                step = (timestamp - self.rx_last_ts) & 0xFFFFFFFF
                if 0 < step < 0x80000000:
                    self.rx_ts_span += step
                    self.rx_last_ts = timestamp
        elif 20 <= first <= 63:
            if self.ssl is not None:
                self.ssl.bio_write(data)
                self.dtls_step()
        elif first < 2:
            self.stun_received(data, addr)

    def error_received(self, exc):
        pass

    # ICE.
    def send_check(self, nominate: bool) -> None:
        from aioice import stun

        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{self.remote_ufrag}:{self.local_ufrag}"
        request.attributes["PRIORITY"] = 1853824767  # prflx, RFC 8445 §5.1.2.1
        request.attributes["ICE-CONTROLLING"] = self.worker.tie_breaker
        if nominate:
            request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity(self.remote_pwd)
        request.add_fingerprint()
        self.pending[request.transaction_id] = time.monotonic()
        self.transport.sendto(bytes(request), self.remote)

    def stun_received(self, data: bytes, addr) -> None:
        from aioice import stun

        try:
            message = stun.parse_message(data)
        except Exception:
            return
        if message.message_class == stun.Class.REQUEST:
            # A lite agent sends no checks; answer any that come anyway, as a full agent must.
            response = stun.Message(
                message_method=stun.Method.BINDING, message_class=stun.Class.RESPONSE,
                transaction_id=message.transaction_id,
            )
            response.attributes["XOR-MAPPED-ADDRESS"] = addr
            response.add_message_integrity(self.local_pwd.encode())
            response.add_fingerprint()
            self.transport.sendto(bytes(response), addr)
            self.stun_requests_answered += 1
            return
        if self.pending.pop(message.transaction_id, None) is None:
            return
        if message.message_class == stun.Class.RESPONSE and message.check_message_integrity(self.remote_pwd):
            if not self.ice_done.done():
                self.ice_done.set_result(True)
            else:
                self.consent_answered += 1
        elif not self.ice_done.done():
            self.ice_done.set_exception(RuntimeError(f"ICE check refused: {message.attributes.get('ERROR-CODE')}"))

    def consent(self) -> None:
        """RFC 7675 §5.1: a check on the selected pair every 4-6 s."""
        if not self.running:
            return
        self.send_check(nominate=False)
        self.consent_sent += 1
        self.pending = {t: s for t, s in self.pending.items() if time.monotonic() - s < 30}
        self.handles.append(asyncio.get_running_loop().call_later(random.uniform(4, 6), self.consent))

    # DTLS.
    def dtls_flush(self) -> None:
        from OpenSSL import SSL

        data = b""
        while True:
            try:
                chunk = self.ssl.bio_read(65536)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            data += chunk
        for datagram in dtls_datagrams(data):
            self.transport.sendto(datagram, self.remote)

    def dtls_step(self) -> None:
        from OpenSSL import SSL

        if self.dtls_done.done():
            # Alerts (close_notify) after the handshake.
            try:
                self.ssl.recv(1500)
            except SSL.Error:
                pass
            self.dtls_flush()
            return
        try:
            self.ssl.do_handshake()
        except SSL.WantReadError:
            self.dtls_flush()
            return
        except SSL.Error as error:
            self.dtls_flush()
            self.dtls_done.set_exception(RuntimeError(f"DTLS: {error}"))
            return
        self.dtls_flush()
        self.dtls_done.set_result(True)

    async def connect(self, url: str) -> None:
        from OpenSSL import SSL
        import pylibsrtp

        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(HOST, 0))
        port = self.transport.get_extra_info("sockname")[1]
        sdp = offer_sdp(self.local_ufrag, self.local_pwd, self.worker.certificate.fingerprint, port, self.ssrc)
        status, location, answer = await asyncio.to_thread(whip_post, url, self.token, sdp)
        if status != 201:
            raise RuntimeError(f"WHIP POST {status}: {answer.strip()[:200]}")
        self.location = location
        setup = "passive"
        for line in answer.splitlines():
            line = line.strip()
            if line.startswith("a=ice-ufrag:"):
                self.remote_ufrag = line.split(":", 1)[1]
            elif line.startswith("a=ice-pwd:"):
                self.remote_pwd = line.split(":", 1)[1].encode()
            elif line.startswith("a=fingerprint:"):
                algorithm, value = line.split(":", 1)[1].split(" ", 1)
                if algorithm.lower() == "sha-256":
                    self.remote_fingerprint = value.upper()
            elif line.startswith("a=setup:"):
                setup = line.split(":", 1)[1]
            elif line.startswith("a=candidate:"):
                fields = line.split()
                if fields[2].lower() == "udp" and self.remote is None:
                    self.remote = (fields[4], int(fields[5]))
            elif line.startswith("a=rtpmap:") and "opus/48000" in line.lower():
                self.payload_type = int(line.split(":", 1)[1].split()[0])
        if not (self.remote and self.remote_ufrag and self.remote_pwd and self.remote_fingerprint):
            raise RuntimeError(f"incomplete answer:\n{answer}")

        # ICE: nominate the only pair; retransmit as RFC 8445 paces checks, for at most 10 s.
        deadline = time.monotonic() + 10
        while not self.ice_done.done():
            if time.monotonic() > deadline:
                raise RuntimeError("ICE: no response to the checks")
            self.send_check(nominate=True)
            try:
                await asyncio.wait_for(asyncio.shield(self.ice_done), 0.2)
            except asyncio.TimeoutError:
                pass
        self.ice_done.result()

        # DTLS: the answer's a=setup says who opens (actpass offered: the bridge picks).
        self.ssl = SSL.Connection(self.worker.ssl_context, None)
        if setup == "active":
            self.ssl.set_accept_state()
        else:
            self.ssl.set_connect_state()
            self.dtls_step()
        deadline = time.monotonic() + 10
        while not self.dtls_done.done():
            if time.monotonic() > deadline:
                raise RuntimeError("DTLS: handshake timed out")
            try:
                await asyncio.wait_for(asyncio.shield(self.dtls_done), 0.1)
            except asyncio.TimeoutError:
                # Retransmits a flight once its timer ran out.
                try:
                    remaining = self.ssl.DTLSv1_get_timeout()
                    if remaining is not None and remaining <= 0.001:
                        self.ssl.DTLSv1_handle_timeout()
                        self.dtls_flush()
                except Exception:
                    pass
        self.dtls_done.result()
        from cryptography.hazmat.primitives import hashes

        peer = self.ssl.get_peer_certificate(as_cryptography=True)
        digest = peer.fingerprint(hashes.SHA256()).hex().upper()
        if ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)) != self.remote_fingerprint:
            raise RuntimeError("DTLS: the bridge's certificate does not match the answer's fingerprint")
        profile = self.ssl.get_selected_srtp_profile()
        if profile != self.worker.srtp_profile:
            raise RuntimeError(f"DTLS: SRTP profile {profile!r}")
        # RFC 5764 §4.2: client key, server key, client salt, server salt.
        gcm = profile == b"SRTP_AEAD_AES_128_GCM"
        key_length, salt_length = 16, 12 if gcm else 14
        material = self.ssl.export_keying_material(b"EXTRACTOR-dtls_srtp", 2 * (key_length + salt_length))
        client_key, server_key = material[0:key_length], material[key_length : 2 * key_length]
        salts = material[2 * key_length :]
        client_salt, server_salt = salts[:salt_length], salts[salt_length:]
        client, server = client_key + client_salt, server_key + server_salt
        local, remote = (client, server) if setup != "active" else (server, client)
        profile_id = (
            pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM if gcm else pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
        )
        self.tx = pylibsrtp.Session(
            policy=pylibsrtp.Policy(key=local, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile_id)
        )
        self.rx = pylibsrtp.Session(
            policy=pylibsrtp.Policy(key=remote, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile_id)
        )

    # Media.
    def start(self, phase: float) -> None:
        loop = asyncio.get_running_loop()
        self.running = True
        self.next_due = loop.time() + phase
        self.handles.append(loop.call_at(self.next_due, self.send_due))
        self.handles.append(loop.call_later(random.uniform(4, 6), self.consent))
        self.handles.append(loop.call_later(phase + random.uniform(0, 2), self.send_rtcp))

    def send_due(self) -> None:
        if not self.running:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        behind = 0
        frames = self.worker.frames
        while self.next_due <= now + 0.001:
            if behind < 5:
                header = struct.pack(
                    "!BBHII", 0x80, self.payload_type, self.sequence, self.timestamp, self.ssrc
                )
                payload = frames[self.frame_index]
                self.transport.sendto(self.tx.protect(header + payload), self.remote)
                self.sent += 1
                self.sent_octets += len(payload)
                self.sequence = (self.sequence + 1) & 0xFFFF
            else:
                # This process fell behind: the frame is dropped before it is sent, as a
                # browser drops audio it could not capture in time (the timestamp moves on).
                self.skipped += 1
            behind += 1
            self.timestamp = (self.timestamp + FRAME) & 0xFFFFFFFF
            self.frame_index = (self.frame_index + 1) % len(frames)
            self.next_due += 0.02
        self.handles = [h for h in self.handles[-4:] if not h.cancelled()]
        self.handles.append(loop.call_at(self.next_due, self.send_due))

    def send_rtcp(self) -> None:
        """An SR with a reception report on the bridge's stream, every 2 s (as browsers do)."""
        if not self.running:
            return
        now = time.time()
        ntp = int((now + 2208988800) * (1 << 32))
        blocks = b""
        count = 0
        if self.rx_base is not None:
            expected = self.rx_max - self.rx_base + 1
            lost = max(0, expected - self.received) & 0xFFFFFF
            blocks = struct.pack("!IIIIII", self.remote_ssrc, lost, self.rx_max & 0xFFFFFFFF, 0, 0, 0)
            count = 1
        length = (28 + len(blocks)) // 4 - 1
        packet = struct.pack(
            "!BBHIIIIII", 0x80 | count, 200, length, self.ssrc, ntp >> 32, ntp & 0xFFFFFFFF,
            self.timestamp, self.sent & 0xFFFFFFFF, self.sent_octets & 0xFFFFFFFF,
        ) + blocks
        cname = b"bench-load"
        sdes_items = bytes([1, len(cname)]) + cname + b"\x00"
        sdes_items += b"\x00" * ((4 - (4 + len(sdes_items)) % 4) % 4)
        sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(sdes_items)) // 4, self.ssrc) + sdes_items
        try:
            self.transport.sendto(self.tx.protect_rtcp(packet + sdes), self.remote)
            self.rtcp_sent += 1
        except Exception:
            pass
        self.handles.append(asyncio.get_running_loop().call_later(2.0, self.send_rtcp))

    def stop(self) -> None:
        self.running = False
        for handle in self.handles:
            handle.cancel()
        if self.transport:
            self.transport.close()

    def counters(self) -> dict:
        expected = (self.rx_max - self.rx_base + 1) if self.rx_base is not None else 0
        return {
            "sent": self.sent, "skipped": self.skipped, "received": self.received,
            "rx_expected": expected, "rx_ts_expected": self.rx_ts_span // FRAME + 1 if self.rx_base is not None else 0,
            "rtcp_sent": self.rtcp_sent, "rtcp_received": self.rtcp_received,
            "unprotect_errors": self.unprotect_errors, "consent_sent": self.consent_sent,
            "consent_answered": self.consent_answered, "stun_requests_answered": self.stun_requests_answered,
        }


def stdin_commands(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    """The coordinator's commands to a worker, a line each on its standard input; "q" when it
    closes (the coordinator is gone)."""
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "q")

    threading.Thread(target=read_stdin, daemon=True).start()
    return commands


class LightWorker:
    """One process of light panels on one asyncio loop; commands on stdin, JSON on stdout."""

    def __init__(self, url: str, tokens: list[str], bitrate: int, concurrency: int, phase_spread: float = 0.02,
                 srtp: str = "cm"):
        self.url = url
        self.phase_spread = phase_spread
        self.tokens = tokens
        self.concurrency = concurrency
        self.certificate = Certificate()
        self.srtp_profile = b"SRTP_AEAD_AES_128_GCM" if srtp == "gcm" else b"SRTP_AES128_CM_SHA1_80"
        self.ssl_context = self.certificate.context(self.srtp_profile)
        self.frames = opus_frames(bitrate)
        self.tie_breaker = random.randint(0, 2**63)
        self.panels: list[LightPanel] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        commands = stdin_commands(loop)
        semaphore = asyncio.Semaphore(self.concurrency)
        failures: list[str] = []

        async def connect(token: str):
            async with semaphore:
                panel = LightPanel(self, token)
                try:
                    await panel.connect(self.url)
                except Exception as error:  # reported, the orchestrator stops the step
                    failures.append(f"{token[-5:]}: {error}")
                    panel.stop()
                    return
                self.panels.append(panel)
                # Browsers are independent: their 20 ms frames land at any phase.
                panel.start(random.uniform(0, self.phase_spread))

        started = time.monotonic()
        await asyncio.gather(*(connect(token) for token in self.tokens))
        emit({"ready": True, "connected": len(self.panels), "failures": failures[:5],
              "seconds": round(time.monotonic() - started, 2)})
        while True:
            command = await commands.get()
            if command == "s":
                emit(self.counters())
            elif command == "q":
                break
        for panel in self.panels:
            panel.stop()

    def counters(self) -> dict:
        total: dict[str, int] = {}
        for panel in self.panels:
            for key, value in panel.counters().items():
                total[key] = total.get(key, 0) + value
        total["panels"] = len(self.panels)
        total["udp_ports"] = [p.transport.get_extra_info("sockname")[1] for p in self.panels if p.transport]
        return total


def emit(value: dict) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Real aiortc panels (the check run)
# ---------------------------------------------------------------------------------------------


async def aiortc_worker(url: str, tokens: list[str]) -> None:
    """K aiortc panels (bridge_support.Panel: RTCPeerConnection sending a 1 kHz sine)."""
    from aioice.ice import StunProtocol

    from bridge_support import Panel

    # The panels' SRTP, counted on the wire as the light panels count it.
    counts = {"sent": 0, "received": 0}
    send_data, datagram_received = StunProtocol.send_data, StunProtocol.datagram_received

    async def counted_send(self, data, addr):
        if len(data) >= 12 and 128 <= data[0] <= 191 and not is_rtcp(data):
            counts["sent"] += 1
        return await send_data(self, data, addr)

    def counted_receive(self, data, addr):
        if isinstance(data, bytes) and len(data) >= 12 and 128 <= data[0] <= 191 and not is_rtcp(data):
            counts["received"] += 1
        return datagram_received(self, data, addr)

    StunProtocol.send_data = counted_send
    StunProtocol.datagram_received = counted_receive
    loop = asyncio.get_running_loop()
    commands = stdin_commands(loop)
    panels, failures = [], []
    for token in tokens:
        panel = Panel(url, token, 1000)
        try:
            await panel.connect()
            panels.append(panel)
        except Exception as error:
            failures.append(f"{token[-5:]}: {error!r}")
    emit({"ready": True, "connected": len(panels), "failures": failures})
    while True:
        command = await commands.get()
        if command == "s":
            emit({"panels": len(panels), "sent": counts["sent"], "received": counts["received"],
                  "frames_heard": sum(len(p.heard) for p in panels)})
        elif command == "q":
            break
    for panel in panels:
        await panel.close()


# ---------------------------------------------------------------------------------------------
# The orchestrator
# ---------------------------------------------------------------------------------------------


def proc_cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_busy_ticks() -> dict[str, int]:
    """Busy ticks of each CPU (/proc/stat: all but idle, iowait and steal), to see what else
    ran, and ("steal" + CPU) the time the hypervisor gave that virtual CPU to someone else."""
    busy = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            fields = line.split()
            values = [int(v) for v in fields[1:]]
            busy[fields[0][3:]] = sum(values[:7]) - values[3] - values[4]
            busy["steal" + fields[0][3:]] = values[7]
    return busy


def udp_drops(ports: set[int]) -> int:
    """Datagrams the kernel dropped on the UDP sockets bound to `ports` (/proc/net/udp's last
    column): a receive buffer that overflowed because its reader was too slow."""
    total = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) in ports:
            total += int(fields[-1])
    return total


class Child:
    """A child process spoken to over stdin/stdout, one JSON or key=value line an answer."""

    def __init__(self, argv: list[str], log: Path, cwd: Path | None = None):
        self.log = log.open("w")
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=cwd, bufsize=1,
            preexec_fn=die_with_parent,
        )

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def readline(self, timeout: float) -> str:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            raise RuntimeError(f"{self.process.args[:3]}: no answer (exit {self.process.poll()})")
        return result[0].strip()

    def ask(self, command: str = "s", timeout: float = 10) -> dict:
        self.send(command)
        return json.loads(self.readline(timeout))

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("q")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def die_with_parent() -> None:
    """A child gets SIGTERM when this process dies, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def pinned(cpu: str, argv: list[str], priority: str) -> list[str]:
    """`argv` on `cpu`, SCHED_FIFO ("fifo") or as it is ("normal"). Each wrapper execs the
    next, so the PID is the program's. (nice -20 is no substitute: with autogroups, the
    default, it only weighs against this session's own processes, not a build next door.)"""
    prefix = ["chrt", "-f", "10"] if priority == "fifo" else []
    return prefix + ["taskset", "-c", cpu] + argv


class Step:
    """One N: a bridge, its port helper, its panel processes."""

    def __init__(self, options, n: int, aiortc_panels: int, directory: Path):
        self.options = options
        self.n = n
        self.light = n - aiortc_panels
        self.aiortc_panels = aiortc_panels
        self.directory = directory
        self.children: list[Child] = []
        self.workers: list[Child] = []
        self.aiortc: Child | None = None
        self.bridge: subprocess.Popen | None = None
        self.helper: Child | None = None

    @property
    def runtime(self) -> Path:
        return self.directory / "run"

    def control(self, method: str) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(str(self.runtime / "bridge.sock"))
            client.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode() + b"\n")
            received = b""
            while not received.endswith(b"\n"):
                chunk = client.recv(1 << 20)
                if not chunk:
                    break
                received += chunk
        return json.loads(received)["result"]

    def start(self) -> None:
        import yaml

        options = self.options
        spp = int(round(options.packet_time * 48))
        self.helper = Child(
            pinned(options.load_cpu, [options.ports_helper, str(self.n), str(FIRST_PORT), str(spp), str(PAYLOAD_TYPE),
                                      options.encoding], options.priority),
            self.directory / "ports.log",
        )
        self.children.append(self.helper)
        line = self.helper.readline(10)
        assert line.startswith("rx_port="), line
        self.rx_port = int(line.split("=")[1])

        config = yaml.safe_load(TEMPLATE.read_text())
        config["runtime_dir"] = str(self.runtime)
        config["turn"]["relay"].update({"port_min": 47000, "port_max": 47999})
        bridge = config["bridge"]
        bridge["whip"] = {"transport": "tcp", "address": HOST, "port": WHIP_PORT}
        bridge["media"] = {"address": HOST, "port_min": MEDIA_RANGE[0], "port_max": MEDIA_RANGE[1]}
        bridge.pop("ng", None)
        bridge.pop("sessions", None)
        bridge["ports"] = [
            {
                "id": f"matrix-{i}", "encoding": options.encoding, "channels": 1,
                "packet_time_ms": options.packet_time, "payload_type": PAYLOAD_TYPE,
                "send": {"destination": HOST, "port": self.rx_port},
                "receive": {"address": HOST, "port": FIRST_PORT + i},
            }
            for i in range(self.n)
        ]
        bridge["panels"] = [{"id": f"panel-{i}", "token": token_of(i), "port": f"matrix-{i}"} for i in range(self.n)]
        path = self.directory / "stagedoor.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.bridge_log = (self.directory / "bridge.log").open("w")
        self.bridge = subprocess.Popen(
            pinned(options.bridge_cpu, [options.bridge, "--config", str(path), "--runtime-dir", str(self.runtime)],
                   options.priority),
            stdin=subprocess.DEVNULL, stdout=self.bridge_log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )
        deadline = time.time() + 30
        while True:
            if self.bridge.poll() is not None:
                raise RuntimeError(f"stagedoor-bridge exited:\n{self.log_tail()}")
            try:
                if self.control("status").get("ready"):
                    break
            except (OSError, ValueError, KeyError):
                pass
            if time.time() > deadline:
                raise RuntimeError(f"stagedoor-bridge never got ready:\n{self.log_tail()}")
            time.sleep(0.1)
        # With chrt/taskset in front, the bridge is the exec'd program: the same PID.
        self.bridge_pid = self.bridge.pid
        self.helper.send("g")

        url = f"http://{HOST}:{WHIP_PORT}/whip"
        script = str(Path(__file__).resolve())
        python = sys.executable
        per = options.per_process
        indices = list(range(self.light))
        for w, first in enumerate(range(0, self.light, per)):
            chunk = indices[first : first + per]
            tokens = ",".join(token_of(i) for i in chunk)
            worker = Child(
                pinned(options.load_cpu, [python, script, "--worker", "--url", url, "--tokens", tokens,
                                          "--bitrate", str(options.bitrate), "--phase-spread",
                                          str(options.phase_spread), "--srtp", options.srtp], options.priority),
                self.directory / f"worker-{w}.log", cwd=Path(__file__).parent,
            )
            self.children.append(worker)
            self.workers.append(worker)
        if self.aiortc_panels:
            tokens = ",".join(token_of(i) for i in range(self.light, self.n))
            self.aiortc = Child(
                pinned(options.load_cpu, [python, script, "--aiortc-worker", "--url", url, "--tokens", tokens],
                       options.priority),
                self.directory / "aiortc.log", cwd=Path(__file__).parent,
            )
            self.children.append(self.aiortc)
        connected, failures = 0, []
        for worker in self.workers + ([self.aiortc] if self.aiortc else []):
            ready = json.loads(worker.readline(60 + self.n * 0.5))
            connected += ready["connected"]
            failures += ready["failures"]
        if connected != self.n:
            raise RuntimeError(f"{connected} of {self.n} panels connected: {failures}\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return "\n".join((self.directory / "bridge.log").read_text().splitlines()[-15:])
        except OSError:
            return ""

    def snapshot(self) -> dict:
        """Everything at one instant, the CPU counters read first and last around the rest."""
        bridge_ticks = proc_cpu_ticks(self.bridge_pid)
        busy = cpu_busy_ticks()
        loads = {child.process.pid: proc_cpu_ticks(child.process.pid) for child in self.children}
        at = time.monotonic()
        helper = self.helper.ask()
        workers = [w.ask() for w in self.workers]
        aiortc = self.aiortc.ask() if self.aiortc else None
        sessions = self.control("status")["details"]["sessions"]
        panel_ports = {p for w in workers for p in w.pop("udp_ports")}
        return {
            "at": at, "bridge_ticks": bridge_ticks, "busy": busy, "load_ticks": loads, "rss": proc_rss_kib(self.bridge_pid),
            "helper": helper, "workers": workers, "aiortc": aiortc, "sessions": sessions,
            "bridge_drops": udp_drops({FIRST_PORT + i for i in range(self.n)} | {int(s["media_port"]) for s in sessions}),
            "load_drops": udp_drops(panel_ports | {self.rx_port}),
        }

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.bridge and self.bridge.poll() is None:
            self.bridge.terminate()
            try:
                self.bridge.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.bridge.kill()
                self.bridge.wait()


def session_sum(snapshot: dict, key: str, panels: set[str] | None = None) -> int:
    return sum(int(float(s.get(key, 0) or 0)) for s in snapshot["sessions"] if panels is None or s["panel"] in panels)


def worker_sum(snapshot: dict, key: str) -> int:
    return sum(w.get(key, 0) for w in snapshot["workers"])


def measure(step: Step, window: float) -> dict:
    a = step.snapshot()
    time.sleep(window)
    b = step.snapshot()
    seconds = b["at"] - a["at"]
    n = step.n
    ticks = b["bridge_ticks"] - a["bridge_ticks"]
    cpu = ticks / CLOCK_TICKS / seconds
    load_cpu = sum(b["load_ticks"][pid] - a["load_ticks"].get(pid, 0) for pid in b["load_ticks"]) / CLOCK_TICKS / seconds
    helper_pid = step.helper.process.pid
    # What else ran on the bridge's CPU and on the load's (other builds, tests): noise to report.
    busy = {c: (b["busy"][c] - a["busy"].get(c, 0)) / CLOCK_TICKS / seconds for c in b["busy"]}
    other_bridge_cpu = sum(busy.get(c, 0) for c in step.options.bridge_cpu.split(",")) - cpu
    other_load_cpu = sum(busy.get(c, 0) for c in step.options.load_cpu.split(",")) - load_cpu
    steal_bridge_cpu = sum(busy.get("steal" + c, 0) for c in step.options.bridge_cpu.split(","))
    helper_cpu = (b["load_ticks"][helper_pid] - a["load_ticks"][helper_pid]) / CLOCK_TICKS / seconds

    def d(get):
        return get(b) - get(a)

    # Panel → bridge: the panels' SRTP, the bridge's RFC 3550 loss on it.
    up_sent = d(lambda s: worker_sum(s, "sent") + (s["aiortc"]["sent"] if s["aiortc"] else 0))
    up_received = d(lambda s: session_sum(s, "packets_received"))
    up_lost = d(lambda s: session_sum(s, "lost"))
    # Bridge → matrix: the port packets, sequence gaps and timestamp gaps at our receiver.
    port_out = d(lambda s: s["helper"]["received"])
    port_lost = d(lambda s: s["helper"]["lost"])
    port_missing = d(lambda s: s["helper"]["missing"])
    port_expected = n * seconds * 1000 / step.options.packet_time
    # Matrix → bridge: what the helper sent.
    port_in = d(lambda s: s["helper"]["sent"])
    # Bridge → panels: SRTP sent by the bridge, received by the panels, their sequence gaps.
    down_sent = d(lambda s: session_sum(s, "packets_sent"))
    down_received = d(lambda s: worker_sum(s, "received") + (s["aiortc"]["received"] if s["aiortc"] else 0))
    down_expected = d(lambda s: worker_sum(s, "rx_expected"))
    down_light_received = d(lambda s: worker_sum(s, "received"))
    down_lost = max(0, down_expected - down_light_received)
    # Frames the bridge never sent (its timestamps jump over them; the port is never silent here).
    down_missing = max(0, d(lambda s: worker_sum(s, "rx_ts_expected")) - down_light_received)
    bridge_drops = d(lambda s: s["bridge_drops"])
    load_drops = d(lambda s: s["load_drops"])
    concealed = d(lambda s: session_sum(s, "to_port_concealed"))
    underrun = d(lambda s: session_sum(s, "to_port_underrun_frames") + session_sum(s, "to_panel_underrun_frames"))
    skipped_bridge = d(lambda s: session_sum(s, "to_port_skipped_frames") + session_sum(s, "to_panel_skipped_frames"))
    to_panel_concealed = d(lambda s: session_sum(s, "to_panel_concealed"))
    load_skipped = d(lambda s: s["helper"]["skipped"] + worker_sum(s, "skipped"))
    connected = sum(1 for s in b["sessions"] if s["state"] == "connected")

    up_loss = 100 * max(up_lost / max(1, up_sent), max(0, port_lost, port_missing) / max(1, port_expected))
    down_loss = 100 * max(down_lost, down_missing) / max(1, down_light_received + down_missing)
    drop_loss = 100 * bridge_drops / max(1, port_in + up_sent)
    return {
        "n": n, "seconds": seconds, "cpu": cpu, "rss_mib": b["rss"] / 1024, "connected": connected,
        "up_sent_pps": up_sent / seconds, "up_received_pps": up_received / seconds,
        "port_out_pps": port_out / seconds, "port_expected_pps": port_expected / seconds,
        "port_in_pps": port_in / seconds, "down_sent_pps": down_sent / seconds,
        "down_received_pps": down_received / seconds,
        "up_lost": up_lost, "port_lost": port_lost, "port_missing": port_missing, "down_lost": down_lost,
        "down_missing": down_missing,
        "bridge_drops": bridge_drops, "load_drops": load_drops, "concealed": concealed,
        "to_panel_concealed": to_panel_concealed, "underrun": underrun, "bridge_skipped": skipped_bridge,
        "load_skipped": load_skipped, "up_loss": up_loss, "down_loss": down_loss, "drop_loss": drop_loss,
        "loss": max(up_loss, down_loss, drop_loss), "load_cpu": load_cpu, "helper_cpu": helper_cpu,
        "other_bridge_cpu": other_bridge_cpu, "other_load_cpu": other_load_cpu, "steal": steal_bridge_cpu,
        "consent_answered": d(lambda s: worker_sum(s, "consent_answered")),
        "consent_sent": d(lambda s: worker_sum(s, "consent_sent")),
        "unprotect_errors": d(lambda s: worker_sum(s, "unprotect_errors")),
        "rtcp_received": d(lambda s: worker_sum(s, "rtcp_received")),
        "bridge_rtcp_received": d(lambda s: session_sum(s, "rtcp_received")),
        "sessions": b["sessions"], "before": a["sessions"],
    }


HEADER = (
    f"{'N':>4} {'bridge CPU':>10} {'ms/s/panel':>10} {'RSS MiB':>8} {'panel→ pps':>10} {'→port pps':>10} "
    f"{'port→ pps':>10} {'→panel pps':>10} {'loss up %':>9} {'loss dn %':>9} {'drops':>6} {'conceal':>7} "
    f"{'load CPU':>8} {'(ports)':>7}"
)


def row(r: dict) -> str:
    return (
        f"{r['n']:>4} {r['cpu']:>10.3f} {1000 * r['cpu'] / r['n']:>10.2f} {r['rss_mib']:>8.1f} "
        f"{r['up_received_pps']:>10.0f} {r['port_out_pps']:>10.0f} {r['port_in_pps']:>10.0f} "
        f"{r['down_received_pps']:>10.0f} {r['up_loss']:>9.3f} {r['down_loss']:>9.3f} {r['bridge_drops']:>6} "
        f"{r['concealed'] + r['to_panel_concealed']:>7} {r['load_cpu']:>8.3f} {r['helper_cpu']:>7.3f}"
    )


def run_step(options, n: int, aiortc_panels: int = 0) -> dict:
    with tempfile.TemporaryDirectory(prefix="sd-load-") as directory:
        step = Step(options, n, aiortc_panels, Path(directory))
        try:
            began = time.monotonic()
            step.start()
            setup = time.monotonic() - began
            time.sleep(options.warmup)
            result = measure(step, options.window)
            result["setup_s"] = setup
            # The bridge's own account of every session at the end of the window.
            (Path(directory) / "status.log").write_text(json.dumps(result["sessions"], indent=1))
            if options.perf and not aiortc_panels:
                result["perf"] = perf_profile(step.bridge_pid, options.perf, Path(directory))
            step.bridge.poll()
            if step.bridge.returncode is not None:
                raise RuntimeError(f"the bridge died:\n{step.log_tail()}")
            return result
        finally:
            step.stop()
            if options.keep_logs:
                keep = Path(options.keep_logs) / f"n{n}{'-check' if aiortc_panels else ''}"
                keep.mkdir(parents=True, exist_ok=True)
                for f in Path(directory).glob("*.log"):
                    (keep / f.name).write_bytes(f.read_bytes())


def perf_profile(pid: int, seconds: float, directory: Path) -> str:
    """Where the bridge's CPU goes under this load (perf record after the window, if perf is
    installed): the share of each library, then the hottest symbols (self time)."""
    import re

    data = directory / "perf.data"

    def report(*sort: str) -> list[str]:
        out = subprocess.run(
            ["perf", "report", "-i", str(data), "--no-children", "--stdio", "-g", "none", "--percent-limit", "1",
             "--sort", ",".join(sort)], capture_output=True, text=True, timeout=120,
        ).stdout
        return [re.sub(r"\s+", " ", l).strip() for l in out.splitlines() if l.strip() and not l.startswith("#")]

    try:
        subprocess.run(["perf", "record", "-F", "499", "-p", str(pid), "-o", str(data), "--", "sleep", str(seconds)],
                       check=True, capture_output=True, timeout=seconds + 30)
        return "\n".join(["by library: " + "; ".join(report("dso")[:8])] + report("dso", "symbol")[:15])
    except (OSError, subprocess.SubprocessError) as error:
        return f"perf failed: {error}"


def orchestrate(options) -> int:
    steps = [int(x) for x in options.panels.split()]
    print(f"stagedoor-bridge {options.bridge} on CPU {options.bridge_cpu}, load on CPU {options.load_cpu}"
          f", scheduling {options.priority}; ports {options.encoding} {options.packet_time} ms, "
          f"Opus {options.bitrate // 1000} kb/s 20 ms, SRTP {options.srtp}; warm-up {options.warmup} s, window {options.window} s; "
          f"{options.per_process} light panels per process")
    print(f"loadavg before: {Path('/proc/loadavg').read_text().strip()}")
    print(
        "columns: bridge CPU = utime+stime s/s of the bridge process (1.0 = its core); panel→ = SRTP the bridge\n"
        "received from the panels; →port = port RTP the matrix side received; port→ = port RTP it sent;\n"
        "→panel = SRTP the panels received (packets/s); loss up = panel→port audio lost or skipped (sequence or\n"
        "timestamp gaps, either hop), loss dn = port→panel likewise; drops = datagrams the kernel dropped on the\n"
        "bridge's sockets; conceal = frames the bridge concealed; load CPU = all load processes (ports = the C helper)"
    )
    print(HEADER, flush=True)
    results = []
    stop_reason = "all steps done"
    for n in steps:
        result = run_step(options, n)
        if result["loss"] > options.loss_limit and result["steal"] > options.steal_limit:
            # The hypervisor took the bridge's virtual CPU away long enough to stall its clocks:
            # not the bridge's doing. Once more, and both are shown.
            print(row(result) + f"   <- steal {result['steal']:.3f} s/s during the window; run again", flush=True)
            result = run_step(options, n)
        results.append(result)
        print(row(result), flush=True)
        detail = (
            f"      setup {result['setup_s']:.1f} s; connected {result['connected']}/{n}; "
            f"up lost {result['up_lost']}, port seq lost {result['port_lost']}, port ts missing {result['port_missing']}, "
            f"down lost {result['down_lost']}, down ts missing {result['down_missing']}; bridge socket drops {result['bridge_drops']}, load socket drops "
            f"{result['load_drops']}; underrun frames {result['underrun']}, bridge skipped frames "
            f"{result['bridge_skipped']}, load skipped {result['load_skipped']}; consent {result['consent_answered']}/"
            f"{result['consent_sent']}; SRTCP bridge→panels {result['rtcp_received']}, panels→bridge "
            f"{result['bridge_rtcp_received']}; unprotect errors {result['unprotect_errors']}; other work on the "
            f"bridge's CPU {result['other_bridge_cpu']:.2f} s/s, on the load's {result['other_load_cpu']:.2f} s/s; "
            f"steal on the bridge's CPU {result['steal']:.3f} s/s"
        )
        print(detail, flush=True)
        if result.get("perf"):
            print("      perf (bridge):\n" + "\n".join("        " + l for l in result["perf"].splitlines()))
        if result["connected"] < n:
            stop_reason = f"only {result['connected']} of {n} sessions connected"
            break
        if result["loss"] > options.loss_limit:
            stop_reason = f"loss {result['loss']:.3f} % > {options.loss_limit} % at N={n}"
            if result["load_skipped"] or result["load_drops"] or result["load_cpu"] > 0.9:
                stop_reason += (" - the load generators fell behind (their skipped frames, socket drops or CPU): "
                                "the load, not the bridge, may be the limit")
            elif result["bridge_skipped"]:
                stop_reason += (f" - the bridge skipped audio ({result['bridge_skipped']} frames): its packet clocks "
                                f"ran over 20 ms late, at {result['cpu']:.2f} of its core")
            break
        if result["cpu"] >= options.cpu_limit:
            stop_reason = f"bridge CPU {result['cpu']:.2f} >= {options.cpu_limit} at N={n}"
            break
    print(f"stopped: {stop_reason}")
    clean = [r for r in results if r["loss"] <= options.loss_limit and r["connected"] == r["n"] and r["cpu"] < options.cpu_limit]
    if clean:
        best = max(clean, key=lambda r: r["n"])
        print(
            f"largest clean N: {best['n']} panels at {best['cpu']:.3f} CPU s/s -> panels per core "
            f"{best['n'] / best['cpu']:.0f}; CPU per panel {1000 * best['cpu'] / best['n']:.2f} ms/s"
        )
        print(f"load generators at that N: {best['load_cpu']:.3f} CPU s/s (port helper {best['helper_cpu']:.3f})")
        if len({r["n"] for r in clean}) >= 2:
            # Least squares over the clean steps: CPU = fixed + N x marginal.
            xs, ys = [r["n"] for r in clean], [r["cpu"] for r in clean]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mx) ** 2 for x in xs))
            print(f"fit over the clean steps: bridge CPU = {my - slope * mx:.3f} + N x {1000 * slope:.2f} ms/s")
    else:
        print("no clean step")

    if options.check:
        print()
        print(f"check: {options.check} real aiortc panels against {options.check} light ones, alone on the bridge")
        # Alternated, so that the machine's drift shows as the spread between rounds of one kind.
        for kind, aiortc_count in (("light", 0), ("aiortc", options.check)) * options.check_rounds:
            r = run_step(options, options.check, aiortc_count)
            sessions, before = r["sessions"], {s["panel"]: s for s in r["before"]}

            def rate(key):
                return sum(int(s[key]) - int(before.get(s["panel"], s)[key]) for s in sessions) / r["seconds"] / len(sessions)

            print(
                f"  {kind:>6}: bridge CPU {1000 * r['cpu'] / r['n']:.2f} ms/s per panel; per session: in "
                f"{rate('packets_received'):.1f} pps, out {rate('packets_sent'):.1f} pps, lost {rate('lost') * r['seconds']:.0f}, "
                f"concealed {rate('to_port_concealed') * r['seconds']:.0f}, FEC {rate('to_port_fec_recovered') * r['seconds']:.0f}, "
                f"jitter {sum(int(s['jitter_samples']) for s in sessions) / len(sessions):.0f} samples, "
                f"SRTCP in {rate('rtcp_received') * r['seconds']:.1f}; port out {r['port_out_pps'] / r['n']:.0f} pps; "
                f"states {sorted({s['state'] for s in sessions})}; loss up {r['up_loss']:.3f} % dn {r['down_loss']:.3f} %",
                flush=True,
            )
    return 0


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--worker", action="store_true")
    arguments.add_argument("--aiortc-worker", action="store_true")
    arguments.add_argument("--url")
    arguments.add_argument("--tokens")
    arguments.add_argument("--bitrate", type=int, default=32000, help="Opus bit rate of the light panels")
    arguments.add_argument("--concurrency", type=int, default=8, help="panels connecting at once per process")
    arguments.add_argument("--srtp", default="cm", choices=["cm", "gcm"],
                           help="the light panels' SRTP profile: AES_CM_128_HMAC_SHA1_80 or AEAD_AES_128_GCM")
    arguments.add_argument("--phase-spread", type=float, default=0.02,
                           help="seconds over which the light panels' send phases are spread (0: all in step)")
    arguments.add_argument("--panels", default="10 20 30 40 50 75 100 150 200")
    arguments.add_argument("--bridge", help="the stagedoor-bridge binary")
    arguments.add_argument("--ports-helper", help="the compiled bench-bridge-ports")
    arguments.add_argument("--bridge-cpu", default="0")
    arguments.add_argument("--load-cpu", default="1")
    arguments.add_argument("--priority", default="normal", choices=["fifo", "normal"],
                           help="the bridge's and the load's scheduling: SCHED_FIFO or as is")
    arguments.add_argument("--per-process", type=int, default=40, help="light panels per Python process")
    arguments.add_argument("--packet-time", type=float, default=1.0, help="the ports' packet time, ms")
    arguments.add_argument("--encoding", default="L24", choices=["L24", "L16"])
    arguments.add_argument("--warmup", type=float, default=5)
    arguments.add_argument("--window", type=float, default=10)
    arguments.add_argument("--loss-limit", type=float, default=0.1, help="percent")
    arguments.add_argument("--cpu-limit", type=float, default=0.9, help="of one core")
    arguments.add_argument("--steal-limit", type=float, default=0.01,
                           help="a lossy step is run again once when the hypervisor stole more of the bridge's CPU (s/s)")
    arguments.add_argument("--check", type=int, default=0, help="aiortc panels for the check run (0: none)")
    arguments.add_argument("--check-rounds", type=int, default=2, help="light/aiortc alternations in the check")
    arguments.add_argument("--perf", type=float, default=0, help="seconds of perf record on the bridge per step")
    arguments.add_argument("--keep-logs", help="copy each step's logs into this folder")
    options = arguments.parse_args()
    if options.worker:
        worker = LightWorker(options.url, options.tokens.split(","), options.bitrate, options.concurrency,
                             options.phase_spread, options.srtp)
        asyncio.run(worker.run())
        return 0
    if options.aiortc_worker:
        asyncio.run(aiortc_worker(options.url, options.tokens.split(",")))
        return 0
    assert options.bridge and options.ports_helper, "--bridge and --ports-helper are required"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return orchestrate(options)


if __name__ == "__main__":
    sys.exit(main())
