"""What the stagedoor-bridge interop tests share beyond test_bridge_aiortc's signal helpers: a
bridge with any ports, panels and session timeouts; its control socket; WHIP requests; UDP
socket checks; aiortc panels; RTP players and listeners for matrix ports.

Run as a script, it is one aiortc panel in a process of its own (for tests that kill a panel):

    python bridge_support.py --url http://127.0.0.1:35100/whip --token TOKEN --frequency 1000

prints {"location": ...} once connected, then sends its tone until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from stack_support import control_request
from test_bridge_aiortc import (  # the signal helpers, shared rather than copied
    SAMPLE_RATE,
    SineTrack,
    decode_pcm,
    dominant_frequency,
    encode_pcm,
)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("STAGEDOOR_BIN_DIR", str(PACKAGE_ROOT / ".build" / "debug"))).resolve()
BRIDGE = BIN_DIR / "stagedoor-bridge"
TEMPLATE = PACKAGE_ROOT / "Config" / "stagedoor.yaml"
HOST = "127.0.0.1"

__all__ = [
    "BridgeHarness",
    "PortSpec",
    "PanelSpec",
    "Panel",
    "PortPlayer",
    "PortListener",
    "Bystander",
    "whip",
    "udp_port_bound",
    "wait_until",
    "wait_until_async",
    "port_audio",
    "largest_gap",
    "SAMPLE_RATE",
    "SineTrack",
    "decode_pcm",
    "dominant_frequency",
    "encode_pcm",
]


@dataclass
class PortSpec:
    id: str
    receive_port: int
    encoding: str = "L24"
    channels: int = 1
    packet_time_ms: float = 1
    payload_type: int = 98
    # The port's RTP destination: a socket of the test's own, bound when the harness starts,
    # unless the test names a destination (e.g. a multicast group) it listens to itself.
    listener: PortListener | None = None
    send_destination: str | None = None
    send_port: int | None = None
    receive_address: str = HOST
    ttl: int | None = None
    dscp: int | None = None

    @property
    def samples_per_packet(self) -> int:
        return int(round(self.packet_time_ms * SAMPLE_RATE / 1000))

    @property
    def bytes_per_sample(self) -> int:
        return 3 if self.encoding == "L24" else 2


@dataclass
class PanelSpec:
    id: str
    token: str
    port: str


@dataclass
class BridgeHarness:
    """stagedoor-bridge with the given ports and panels, on loopback, in `directory`."""

    directory: Path
    whip_port: int
    media: tuple[int, int]
    ports: list[PortSpec]
    panels: list[PanelSpec]
    sessions: dict[str, int] = field(default_factory=dict)
    allowed_origins: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    @property
    def runtime(self) -> Path:
        return self.directory / "run"

    @property
    def log(self) -> Path:
        return self.directory / "bridge.log"

    @property
    def whip_url(self) -> str:
        return f"http://{HOST}:{self.whip_port}/whip"

    def port(self, port_id: str) -> PortSpec:
        return next(port for port in self.ports if port.id == port_id)

    @property
    def config_path(self) -> Path:
        return self.directory / "stagedoor.yaml"

    def write_config(self) -> None:
        """The configuration file for the harness's ports and panels; a port without a listener
        gets one (its RTP destination)."""
        config = yaml.safe_load(TEMPLATE.read_text())
        config["runtime_dir"] = str(self.runtime)
        # Only the bridge runs, but the file is validated whole: keep the template's TURN relay
        # range (30000-39999) clear of the ports used here.
        config["turn"]["relay"].update({"port_min": 47000, "port_max": 47999})
        bridge = config["bridge"]
        bridge["whip"] = {"transport": "tcp", "address": HOST, "port": self.whip_port}
        if self.allowed_origins:
            bridge["whip"]["allowed_origins"] = self.allowed_origins
        bridge["media"] = {"address": HOST, "port_min": self.media[0], "port_max": self.media[1]}
        bridge.pop("ng", None)
        bridge.pop("sessions", None)  # the defaults, unless the test sets some
        if self.sessions:
            bridge["sessions"] = dict(self.sessions)
        bridge["ports"] = []
        for port in self.ports:
            if port.listener is None and port.send_destination is None:
                port.listener = PortListener()
            send = {
                "destination": port.send_destination or HOST,
                "port": port.send_port or port.listener.port,
            }
            send.update({key: value for key, value in (("ttl", port.ttl), ("dscp", port.dscp)) if value is not None})
            bridge["ports"].append(
                {
                    "id": port.id,
                    "encoding": port.encoding,
                    "channels": port.channels,
                    "packet_time_ms": port.packet_time_ms,
                    "payload_type": port.payload_type,
                    "send": send,
                    "receive": {"address": port.receive_address, "port": port.receive_port},
                }
            )
        bridge["panels"] = [{"id": p.id, "token": p.token, "port": p.port} for p in self.panels]
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def reload(self) -> dict:
        """Writes the configuration for the current ports and panels and has the bridge reload it."""
        self.write_config()
        return self.control("reload")

    def start(self) -> None:
        self.write_config()
        config_path = self.config_path
        self.process = subprocess.Popen(
            [str(BRIDGE), "--config", str(config_path), "--runtime-dir", str(self.runtime)],
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            assert self.process.poll() is None, f"stagedoor-bridge exited:\n{self.log.read_text()}"
            try:
                socket.create_connection((HOST, self.whip_port), timeout=0.5).close()
                if self.status().get("ready"):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the bridge never got ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for port in self.ports:
            if port.listener:
                port.listener.close()

    def control(self, method: str) -> dict:
        """One JSON-RPC 2.0 call on the bridge's control socket: its result."""
        return control_request(self.runtime / "bridge.sock", method)

    def status(self) -> dict:
        return self.control("status")

    def sessions_of(self, panel_id: str) -> list[dict]:
        return [s for s in self.status()["details"]["sessions"] if s["panel"] == panel_id]

    def assert_alive(self) -> None:
        assert self.process and self.process.poll() is None, f"the bridge died:\n{self.log.read_text()}"


def whip(method: str, url: str, body: str | None = None, token: str | None = None, origin: str | None = None):
    """One WHIP request; returns (status, headers, body). `url` may be a Location path."""
    request = urllib.request.Request(url, method=method, data=body.encode() if body is not None else None)
    if body is not None:
        request.add_header("Content-Type", "application/sdp")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if origin is not None:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def udp_port_bound(port: int) -> bool:
    """Whether any UDP socket of this network namespace is bound to `port` (/proc/net/udp{,6})."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local = line.split()[1]
            if int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_until(condition, timeout: float, interval: float = 0.05) -> float | None:
    """Polls `condition` until it holds; the seconds it took, or None after `timeout`."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)


async def wait_until_async(condition, timeout: float, interval: float = 0.05) -> float | None:
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(interval)


class PortListener:
    """The matrix side of a port's send direction: a UDP socket that records every RTP packet
    with its arrival time, on a thread of its own."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((HOST, 0))
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.packets: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                data = self.socket.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.packets.append((time.monotonic(), data))

    def since(self, start: float, end: float | None = None) -> list[tuple[float, bytes]]:
        with self.lock:
            return [(t, p) for t, p in self.packets if t >= start and (end is None or t <= end)]

    def last_arrival(self) -> float | None:
        with self.lock:
            return self.packets[-1][0] if self.packets else None

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.socket.close()


class PortPlayer:
    """The matrix side of a port's receive direction: a sine as RTP at the port's packet time,
    paced in real time on a thread of its own."""

    def __init__(self, port: PortSpec, frequency: float, amplitude: float = 0.5):
        self.port = port
        self.frequency = frequency
        self.amplitude = amplitude
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        spp = self.port.samples_per_packet
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sequence, n = 0, 0
        start = time.monotonic()
        while self.running:
            # Catch up to now in whole packets, then sleep about 5 ms.
            due = int((time.monotonic() - start) * SAMPLE_RATE) // spp * spp
            while n < due + spp:
                t = (n + np.arange(spp)) / SAMPLE_RATE
                tone = self.amplitude * np.sin(2 * math.pi * self.frequency * t)
                samples = np.repeat(tone, self.port.channels)
                header = struct.pack("!BBHII", 0x80, self.port.payload_type, sequence & 0xFFFF, n & 0xFFFFFFFF, 0x2B2B)
                destination = (self.port.receive_address, self.port.receive_port)
                sender.sendto(header + encode_pcm(samples, self.port.encoding), destination)
                sequence += 1
                n += spp
            time.sleep(0.005)
        sender.close()

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=2)


class Panel:
    """An aiortc WHIP panel in this process: sends a sine, records what it hears."""

    def __init__(self, url: str, token: str, frequency: float, amplitude: float = 0.5):
        self.url = url
        self.token = token
        self.pc = RTCPeerConnection()
        self.pc.addTrack(SineTrack(frequency, amplitude))
        self.heard: list[tuple[float, np.ndarray]] = []
        self.location: str | None = None
        self.media_port: int | None = None

        @self.pc.on("track")
        def on_track(track):
            async def pull():
                while True:
                    try:
                        frame = await track.recv()
                    except MediaStreamError:
                        return
                    array = frame.to_ndarray().astype(np.float64).reshape(-1)
                    channels = len(frame.layout.channels)
                    self.heard.append((time.monotonic(), array[::channels] / 32768.0))

            asyncio.ensure_future(pull())

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def post(self) -> tuple[int, str]:
        """POSTs the offer; on 201 remembers the Location and the answer's media port."""
        status, headers, answer = await asyncio.to_thread(whip, "POST", self.url, await self.offer(), self.token)
        if status == 201:
            self.location = headers["Location"]
            for line in answer.splitlines():
                if line.startswith("m=audio "):
                    self.media_port = int(line.split()[1])
        return status, answer

    async def connect(self, timeout: float = 15) -> None:
        status, answer = await self.post()
        assert status == 201, answer
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        deadline = time.monotonic() + timeout
        while self.pc.connectionState != "connected" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert self.pc.connectionState == "connected", f"{self.pc.connectionState} / {self.pc.iceConnectionState}"

    def location_url(self) -> str:
        assert self.location
        return self.url.rsplit("/whip", 1)[0] + self.location

    async def close(self) -> None:
        await self.pc.close()


def port_audio(packets: list[tuple[float, bytes]], port: PortSpec) -> np.ndarray:
    """The first channel of the PCM in `packets`."""
    if not packets:
        return np.zeros(0)
    samples = np.concatenate([decode_pcm(p[12:], port.encoding) for _, p in packets])
    return samples[:: port.channels]


def largest_gap(times: list[float], start: float, end: float) -> float:
    points = [start] + sorted(t for t in times if start <= t <= end) + [end]
    return max(b - a for a, b in zip(points, points[1:]))


class Bystander:
    """A second panel on a second port, live during a whole test: the port plays it a tone and
    it sends one to the port. `check` asserts both kept flowing, whatever happened to the other
    panel meanwhile."""

    PORT_TONE = 440.0
    PANEL_TONE = 700.0
    # A stall longer than this is a broken bystander, not a loaded machine.
    MAXIMUM_GAP = 1.0

    def __init__(self, bridge: BridgeHarness, panel: PanelSpec):
        self.bridge = bridge
        self.port = bridge.port(panel.port)
        self.panel = Panel(bridge.whip_url, panel.token, self.PANEL_TONE)
        self.player: PortPlayer | None = None
        self.start = 0.0

    async def __aenter__(self) -> Bystander:
        self.player = PortPlayer(self.port, self.PORT_TONE)
        await self.panel.connect()
        # Both directions must be flowing before the test proper starts.
        listener = self.port.listener
        assert listener
        flowing = await wait_until_async(
            lambda: len(self.panel.heard) > 25 and len(listener.since(time.monotonic() - 0.5)) > 50, 10
        )
        assert flowing is not None, "the bystander's audio never started"
        self.start = time.monotonic()
        return self

    async def __aexit__(self, *_) -> None:
        if self.player:
            self.player.stop()
        await self.panel.close()

    def check(self) -> None:
        """Audio reached the bystander panel and its port all along, at the right frequencies."""
        end = time.monotonic()
        span = end - self.start
        heard = [(t, s) for t, s in self.panel.heard if t >= self.start]
        assert heard, "the bystander panel heard nothing"
        gap = largest_gap([t for t, _ in heard], self.start, end)
        assert gap < self.MAXIMUM_GAP, f"the bystander panel heard nothing for {gap:.2f} s of {span:.1f} s"
        samples = np.concatenate([s for _, s in heard])
        assert len(samples) > 0.8 * span * SAMPLE_RATE, f"{len(samples)} samples heard in {span:.1f} s"
        for chunk in np.array_split(samples, max(1, int(span))):
            frequency = dominant_frequency(chunk, SAMPLE_RATE)
            rms = float(np.sqrt(np.mean(chunk**2)))
            assert abs(frequency - self.PORT_TONE) < 20 and rms > 0.1, f"panel heard {frequency:.0f} Hz at {rms:.3f}"

        listener = self.port.listener
        assert listener
        packets = listener.since(self.start, end)
        gap = largest_gap([t for t, _ in packets], self.start, end)
        assert gap < self.MAXIMUM_GAP, f"the bystander's port got nothing for {gap:.2f} s of {span:.1f} s"
        audio = port_audio(packets, self.port)
        for chunk in np.array_split(audio, max(1, int(span))):
            frequency = dominant_frequency(chunk, SAMPLE_RATE)
            assert abs(frequency - self.PANEL_TONE) < 20, f"port got {frequency:.0f} Hz"
        print(f"bystander: {span:.1f} s, panel {len(samples) / SAMPLE_RATE:.1f} s of audio, port {len(packets)} packets")


async def _panel_process(url: str, token: str, frequency: float) -> None:
    panel = Panel(url, token, frequency)
    await panel.connect()
    print(json.dumps({"location": panel.location, "media_port": panel.media_port}), flush=True)
    while True:
        await asyncio.sleep(3600)


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--url", required=True)
    arguments.add_argument("--token", required=True)
    arguments.add_argument("--frequency", type=float, default=1000)
    options = arguments.parse_args()
    sys.exit(asyncio.run(_panel_process(options.url, options.token, options.frequency)))
