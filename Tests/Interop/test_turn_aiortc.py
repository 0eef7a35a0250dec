"""stagedoor-turn against a real WebRTC stack: aiortc (PyPI).

Two aiortc peers, each restricted to relay candidates from stagedoor-turn, send a 1 kHz tone
(Opus over DTLS-SRTP) and a data channel message to each other through the server: relay to
relay inside the server, which the README allows for the server's own live relayed addresses.

Run from the checkout, after the Swift package is built:

    scripts/install-deps test   (a venv in .build/interop-venv)
    .build/interop-venv/bin/python -m pytest -q Tests/Interop

The binaries are taken from $STAGEDOOR_BIN_DIR, by default <checkout>/.build/debug (that is,
/work/main/.build/debug). Nothing here skips: a missing aiortc or binary fails the run.
"""

from __future__ import annotations

import asyncio
import base64
import fractions
import hashlib
import hmac
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

# Deliberately unguarded imports: without aiortc (or PyAV) the run must fail, not skip.
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aioice import stun, turn  # aiortc's ICE/TURN client
from stack_support import control_request

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("STAGEDOOR_BIN_DIR", str(PACKAGE_ROOT / ".build" / "debug")))
STAGEDOOR = BIN_DIR / "stagedoor"
TEMPLATE = PACKAGE_ROOT / "Config" / "stagedoor.yaml"

HOST = "127.0.0.1"
TURN_PORT = 34880
RELAY_MIN, RELAY_MAX = 35200, 35299
SECRET = "aiortc-interop-secret-0123456789abcdef"
TURN_URL = f"turn:{HOST}:{TURN_PORT}?transport=udp"

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
TONE_HZ = 1000.0

log = logging.getLogger("stagedoor.interop")


# --------------------------------------------------------------------------------------------
# The stack


class Stack:
    def __init__(self, directory: Path):
        self.directory = directory
        self.runtime_dir = directory / "run"
        self.config = directory / "stagedoor.yaml"
        self.realm: str | None = None

    @property
    def turn_socket(self) -> Path:
        return self.runtime_dir / "turn.sock"

    @property
    def log_file(self) -> Path:
        return self.runtime_dir / "supervisor.log"

    def write_config(self) -> None:
        config = yaml.safe_load(TEMPLATE.read_text())
        config["runtime_dir"] = str(self.runtime_dir)

        turn = config["turn"]
        turn["listeners"] = [
            {"transport": "udp", "address": HOST, "port": TURN_PORT},
            {"transport": "tcp", "address": HOST, "port": TURN_PORT},
        ]
        turn["relay"] = {"address": HOST, "port_min": RELAY_MIN, "port_max": RELAY_MAX}
        turn["auth"]["secrets"] = [SECRET]
        self.realm = turn.get("realm")

        bridge = config["bridge"]
        bridge["whip"]["port"] = 34889
        bridge["media"]["port_min"] = 40100
        bridge["media"]["port_max"] = 40199
        bridge["ng"]["port"] = 34822

        for listener in config["sip"]["listeners"]:
            listener["port"] = {"udp": 34860, "tcp": 34860, "ws": 34888}[listener["transport"]]

        self.config.write_text(yaml.safe_dump(config, sort_keys=False))

    def cli(self, *arguments: str, timeout: float = 45) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(STAGEDOOR), *arguments, "--config", str(self.config)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def leftover_pids(self) -> list[int]:
        """Processes of this stack: anything whose command line names our configuration."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                arguments = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(self.config).encode() in arguments:
                pids.append(int(entry))
        return pids

    def turn_status(self) -> dict:
        """`status` on turn.sock."""
        return control_request(self.turn_socket)

    def counters(self) -> dict:
        return self.turn_status()["details"]["counters"]

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(no supervisor.log: {error})"


@pytest.fixture
def stack():
    assert STAGEDOOR.is_file() and os.access(STAGEDOOR, os.X_OK), (
        f"{STAGEDOOR} is missing: build the package first (swift build), "
        "or set STAGEDOOR_BIN_DIR"
    )
    for name in ("stagedoor-supervisor", "stagedoor-turn"):
        assert (BIN_DIR / name).is_file(), f"{BIN_DIR / name} is missing"

    # Short path: the control sockets must fit in sun_path.
    directory = Path(tempfile.mkdtemp(prefix="sd-ai-", dir="/tmp"))
    instance = Stack(directory)
    try:
        instance.write_config()
        started = instance.cli("start")
        assert started.returncode == 0, (
            f"stagedoor start failed ({started.returncode}):\n{started.stdout}\n{started.stderr}\n"
            f"{instance.log_tail()}"
        )
        assert instance.turn_socket.exists(), "turn.sock missing after start"
        yield instance
    finally:
        try:
            stopped = instance.cli("stop")
            if stopped.returncode != 0:
                print(f"stagedoor stop: {stopped.returncode} {stopped.stdout} {stopped.stderr}")
        except (subprocess.TimeoutExpired, OSError) as error:
            print(f"stagedoor stop failed: {error!r}")
        finally:
            # Only ever our own stack: processes that name our configuration file.
            for pid in instance.leftover_pids():
                print(f"killing leftover pid {pid}")
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            print(f"--- {instance.log_file} (tail) ---\n{instance.log_tail()}")
            shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# WebRTC helpers


def rest_credentials_for(secret: str, username: str) -> str:
    """TURN REST API (coturn's use-auth-secret): base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def rest_credentials(secret: str, user: str = "panel", ttl: int = 3600) -> tuple[str, str]:
    """A REST API username (expiry:user) and its credential."""
    username = f"{int(time.time()) + ttl}:{user}"
    return username, rest_credentials_for(secret, username)


def peer_connection(username: str, credential: str) -> RTCPeerConnection:
    return RTCPeerConnection(
        RTCConfiguration(
            iceServers=[RTCIceServer(urls=[TURN_URL], username=username, credential=credential)],
            # aiortc (1.16) has the policy, so nothing but the TURN allocation is even
            # gathered; the SDP is filtered too (relay_only), as a second guard.
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )
    )


def relay_only(sdp: str) -> tuple[str, list[tuple[str, int]]]:
    """Keeps only `typ relay` candidates; returns the SDP and the relay addresses in it."""
    lines, relays = [], []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            kind = fields[fields.index("typ") + 1]
            if kind != "relay":
                continue
            relays.append((fields[4], int(fields[5])))
        lines.append(line)
    return "\r\n".join(lines) + "\r\n", relays


def assert_relays_in_range(side: str, relays: list[tuple[str, int]]) -> None:
    assert relays, f"{side}: no relay candidate gathered from stagedoor-turn"
    for address, port in relays:
        assert address == HOST and RELAY_MIN <= port <= RELAY_MAX, (
            f"{side}: relay candidate {address}:{port} is outside {HOST}:{RELAY_MIN}-{RELAY_MAX}"
        )


async def local_relays(pc: RTCPeerConnection, description) -> tuple[RTCSessionDescription, list]:
    """setLocalDescription (which gathers), then the relay-only description to send."""
    await within(pc.setLocalDescription(description), 15, "setLocalDescription (gathering)")
    sdp, relays = relay_only(pc.localDescription.sdp)
    return RTCSessionDescription(sdp=sdp, type=pc.localDescription.type), relays


class SineTrack(MediaStreamTrack):
    """A 1 kHz tone: 48 kHz mono s16, 20 ms frames, paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float = TONE_HZ, amplitude: float = 0.5):
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self.pts = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        else:
            wait = self.start + self.pts / SAMPLE_RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (self.pts + np.arange(FRAME_SAMPLES)) / SAMPLE_RATE
        samples = (self.amplitude * 32767 * np.sin(2 * math.pi * self.frequency * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self.pts += FRAME_SAMPLES
        return frame


def mono_samples(frame: av.AudioFrame) -> np.ndarray:
    """The first channel of a decoded frame as float samples (aiortc decodes Opus to s16)."""
    array = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        first = array[0]
    else:
        first = array.reshape(-1, channels)[:, 0]
    return first.astype(np.float64)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    windowed = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[0] = 0
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


async def close_all(*pcs: RTCPeerConnection) -> None:
    for pc in pcs:
        try:
            await asyncio.wait_for(pc.close(), timeout=10)
        except Exception as error:  # a failed close must not hide the test's own result
            log.warning("close: %r", error)


async def within(awaitable, timeout: float, what: str):
    """wait_for, failing with what was awaited rather than a bare TimeoutError."""
    try:
        return await asyncio.wait_for(awaitable, timeout=timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {timeout} s: {what}") from None


def states(*pcs: RTCPeerConnection) -> str:
    return ", ".join(f"connection {pc.connectionState}/ICE {pc.iceConnectionState}" for pc in pcs)


def run(coroutine, timeout: float):
    """Every test body is bounded as a whole, on top of the timeout on each await inside."""

    async def bounded():
        return await asyncio.wait_for(coroutine, timeout=timeout)

    return asyncio.run(bounded())


# --------------------------------------------------------------------------------------------
# Tests


def test_audio_and_data_channel_through_stagedoor_turn(stack: Stack):
    before = stack.counters()

    async def scenario():
        a = peer_connection(*rest_credentials(SECRET))
        b = peer_connection(*rest_credentials(SECRET))
        # B: receives the tone for ~3 s, echoes data channel messages.
        received: asyncio.Future = asyncio.get_running_loop().create_future()
        tasks = set()  # strong references to the collector task
        try:

            async def collect(track):
                frames, rate = [], None
                loop = asyncio.get_running_loop()
                try:
                    # The track exists from setRemoteDescription on: the first frame waits
                    # for ICE (through the relays) and DTLS, then ~3 s of audio are kept.
                    frame = await within(track.recv(), 15, "the first audio frame on B")
                    deadline = loop.time() + 3.0
                    while True:
                        rate = frame.sample_rate
                        frames.append(mono_samples(frame))
                        if loop.time() >= deadline:
                            break
                        frame = await within(track.recv(), 2, "the next audio frame on B")
                except Exception as error:  # reported through the future, asserted below
                    if not received.done():
                        received.set_exception(error)
                    return
                if not received.done():
                    received.set_result((frames, rate))

            @b.on("track")
            def on_track(track):
                if track.kind == "audio":
                    tasks.add(asyncio.ensure_future(collect(track)))

            @b.on("datachannel")
            def on_datachannel(channel):
                @channel.on("message")
                def on_message(message):
                    channel.send(f"echo:{message}")

            # A: sends the tone and opens the data channel.
            a.addTrack(SineTrack())
            channel = a.createDataChannel("interop")
            echoed: asyncio.Future = asyncio.get_running_loop().create_future()
            probe = f"hello-through-stagedoor-{os.getpid()}-{time.monotonic_ns()}"

            @channel.on("open")
            def on_open():
                channel.send(probe)

            @channel.on("message")
            def on_message(message):
                if not echoed.done():
                    echoed.set_result(message)

            offer, a_relays = await local_relays(a, await asyncio.wait_for(a.createOffer(), 5))
            assert_relays_in_range("A (offer)", a_relays)
            await asyncio.wait_for(b.setRemoteDescription(offer), timeout=10)
            answer, b_relays = await local_relays(b, await asyncio.wait_for(b.createAnswer(), 5))
            assert_relays_in_range("B (answer)", b_relays)
            await asyncio.wait_for(a.setRemoteDescription(answer), timeout=10)

            # Only relay candidates were gathered at all (not just sent).
            for side, pc in (("A", a), ("B", b)):
                for transceiver in pc.getTransceivers():
                    gatherer = transceiver.sender.transport.transport.iceGatherer
                    kinds = {c.type for c in gatherer.getLocalCandidates()}
                    assert kinds == {"relay"}, f"{side}: local candidate types {kinds}"

            message = await within(echoed, 15, f"the data channel echo (A, B: {states(a, b)})")
            assert message == f"echo:{probe}"

            frames, rate = await within(received, 20, f"~3 s of audio on B ({states(a, b)})")
            assert a.connectionState == "connected" and b.connectionState == "connected"
            return frames, rate
        finally:
            for task in tasks:
                task.cancel()
            if received.done() and not received.cancelled():
                received.exception()  # retrieved: reported above if it mattered
            await close_all(a, b)

    frames, rate = run(scenario(), timeout=45)

    assert rate == SAMPLE_RATE, f"decoded at {rate} Hz"
    assert len(frames) >= 100, f"only {len(frames)} audio frames in ~3 s (expected ~150)"
    # Skip the first 0.5 s (decoder start-up, jitter buffer filling).
    samples = np.concatenate(frames)[SAMPLE_RATE // 2 :]
    assert len(samples) >= SAMPLE_RATE, f"only {len(samples)} samples after the first 0.5 s"
    peak = dominant_frequency(samples, SAMPLE_RATE)
    rms = float(np.sqrt(np.mean(samples**2)))
    print(f"received {len(frames)} frames; dominant {peak:.1f} Hz; RMS {rms:.0f}")
    assert abs(peak - TONE_HZ) <= 20, f"dominant frequency {peak:.1f} Hz, expected {TONE_HZ:.0f}"
    # The tone is sent at half full scale (RMS ~11585); silence decodes to ~0.
    assert rms > 3000, f"RMS {rms:.0f}: the received audio is (near) silence"

    after = stack.counters()
    print(f"turn counters after: {after}")
    assert after["packets_to_peers"] > before.get("packets_to_peers", 0)
    assert after["packets_to_peers"] > 0
    assert after["allocations_created"] >= 2
    # Relay to relay on this server is allowed, never denied.
    assert after["denied_peers"] == before.get("denied_peers", 0)


def test_wrong_credential_gathers_no_relay_and_right_one_still_works(stack: Stack):
    # The credentials minted here are the ones the stack's own CLI mints.
    minted = stack.cli("turn-credentials", "--user", "panel", "--ttl", "3600", "--json", timeout=15)
    assert minted.returncode == 0, minted.stderr
    entry = json.loads(minted.stdout)
    assert entry["username"].endswith(":panel")
    assert rest_credentials_for(SECRET, entry["username"]) == entry["credential"]
    assert TURN_URL in entry["uris"]

    before = stack.counters()

    async def gather(username: str, credential: str) -> list[tuple[str, int]]:
        pc = peer_connection(username, credential)
        try:
            pc.createDataChannel("probe")
            _, relays = await local_relays(pc, await asyncio.wait_for(pc.createOffer(), 5))
            return relays
        finally:
            await close_all(pc)

    username, _ = rest_credentials(SECRET)
    wrong = rest_credentials_for("not-the-secret-0123456789abcdef", username)
    bad = run(gather(username, wrong), timeout=20)
    assert bad == [], f"a wrong credential still got relay candidates: {bad}"

    # The same refusal seen by aiortc's TURN client directly: the authenticated retry of
    # the Allocate is answered 401 (aiortc swallows this while gathering).
    async def allocate_directly():
        try:
            transport, _ = await asyncio.wait_for(
                turn.create_turn_endpoint(
                    asyncio.DatagramProtocol, server_addr=(HOST, TURN_PORT),
                    username=username, password=wrong,
                ),
                timeout=10,
            )
        except stun.TransactionFailed as failure:
            realm = failure.response.attributes.get("REALM")
            assert realm == stack.realm, f"401 carries realm {realm!r}, config says {stack.realm!r}"
            return failure.response.error_code
        transport.close()
        return "allocated"

    assert run(allocate_directly(), timeout=15) == 401

    failures = stack.counters()["auth_failures"]
    assert failures >= before.get("auth_failures", 0) + 2, (
        f"auth_failures did not grow by the two refused Allocates "
        f"({before.get('auth_failures')} -> {failures})"
    )

    good = run(gather(*rest_credentials(SECRET)), timeout=20)
    assert_relays_in_range("after a refused client", good)
    assert stack.counters()["allocations_created"] > before.get("allocations_created", 0)
