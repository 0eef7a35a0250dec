"""The latency stagedoor-bridge adds, both ways, measured with clicks on loopback.

An aiortc panel and a matrix port (L24, 1 ms packets) exchange silence with a click every
500 ms in each direction. This process timestamps every datagram on both sides (the panel's
UDP socket through aioice, the port's sockets directly), so both ends of each measurement are
read from one clock:

- panel → port: from the SRTP datagram carrying the Opus frame that starts with a click, to the
  port datagram where the click comes out. Two parts of that are not the bridge's doing and are
  reported apart: the panel encoder's look-ahead (the click comes out of Opus that much later,
  measured here by an Opus round trip of the same click), and the wait in the bridge's port
  buffer, the elastic store between 20 ms Opus frames and the port's packet clock (its mean
  depth, sampled from `status` (`port_buffer_frames`), less half a frame: the depth a frame
  finds on arrival).
- port → panel: the click is in the last port packet of a 20 ms Opus frame (the bridge starts
  framing at the first port packet after the session is bound), so the 20 ms spent gathering
  the frame is not counted: from that port datagram to the SRTP datagram that carries the frame.

    scripts/bench-bridge-latency [--clicks N]

Loopback only; it starts its own stagedoor-bridge (ports 35190-35199) and stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np
from aioice.ice import StunProtocol
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError

from bridge_support import HOST, BridgeHarness, PanelSpec, PortSpec, decode_pcm, whip

SAMPLE_RATE = 48_000
FRAME = 960  # one 20 ms Opus frame
CLICK_EVERY = 25  # frames: a click every 500 ms
CLICK_LEVEL = 0.8
THRESHOLD = 0.2
PANEL = PanelSpec("bench-panel", "bench-panel-token-0123456789", "matrix-1")

# Every RTP datagram the panel sends and receives: (monotonic time, RTP header).
sent: list[tuple[float, bytes]] = []
received: list[tuple[float, bytes]] = []


def is_rtp(data: bytes) -> bool:
    # RFC 7983: 128-191 is RTP or RTCP; RTCP's payload types 200-204 read as 72-76 without the marker bit.
    return len(data) >= 12 and 128 <= data[0] <= 191 and not 72 <= (data[1] & 0x7F) <= 76


_send_data = StunProtocol.send_data
_datagram_received = StunProtocol.datagram_received


async def send_data(self, data, addr):
    if is_rtp(data):
        sent.append((time.monotonic(), bytes(data[:12])))
    return await _send_data(self, data, addr)


def datagram_received(self, data, addr):
    if isinstance(data, bytes) and is_rtp(data):
        received.append((time.monotonic(), bytes(data[:12])))
    return _datagram_received(self, data, addr)


StunProtocol.send_data = send_data
StunProtocol.datagram_received = datagram_received


def click_frame(index: int) -> np.ndarray:
    samples = np.zeros(FRAME, dtype=np.int16)
    if index > 0 and index % CLICK_EVERY == 0:
        samples[:48] = int(CLICK_LEVEL * 32767)
    return samples


class ClickTrack(MediaStreamTrack):
    """Silence with a 1 ms click at the start of every CLICK_EVERY-th 20 ms frame, in real time."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.index = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        else:
            wait = self.start + self.index * FRAME / SAMPLE_RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = av.AudioFrame.from_ndarray(click_frame(self.index).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.index * FRAME
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self.index += 1
        return frame


def opus_lookahead() -> int:
    """Samples by which a click comes out of aiortc's Opus encoder and a decoder later."""
    encoder, decoder = OpusEncoder(), OpusDecoder()
    decoded = []
    for index in range(CLICK_EVERY + 5):
        frame = av.AudioFrame.from_ndarray(click_frame(index).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * FRAME
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        payloads, timestamp = encoder.encode(frame)
        for payload in payloads:
            for out in decoder.decode(JitterFrame(data=payload, timestamp=timestamp)):
                decoded.append(out.to_ndarray().reshape(-1)[::2] / 32768)
    audio = np.concatenate(decoded)
    return int(np.argmax(np.abs(audio) > THRESHOLD)) - CLICK_EVERY * FRAME


class PortClicker(threading.Thread):
    """The matrix side: L24 1 ms packets of silence into the port, with a click filling the last
    packet of every CLICK_EVERY-th 20 ms frame; records when each click packet left."""

    def __init__(self, port: PortSpec):
        super().__init__(daemon=True)
        self.port = port
        self.running = True
        self.clicks: list[float] = []

    def run(self) -> None:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silence = bytes(48 * 3)
        click = struct.pack(">i", int(CLICK_LEVEL * (1 << 23)) << 8)[:3] * 48
        start = time.monotonic()
        packet = 0
        while self.running:
            due = int((time.monotonic() - start) * 1000)
            while packet <= due:
                is_click = packet % (20 * CLICK_EVERY) == 20 * CLICK_EVERY - 1 and packet > 20 * CLICK_EVERY * 4
                header = struct.pack("!BBHII", 0x80, self.port.payload_type, packet & 0xFFFF, packet * 48, 0x4B4B)
                sender.sendto(header + (click if is_click else silence), (HOST, self.port.receive_port))
                if is_click:
                    self.clicks.append(time.monotonic())
                packet += 1
            time.sleep(0.0005)
        sender.close()


def onsets(packets: list[tuple[float, bytes]]) -> list[float]:
    """Arrival times of the port packets where a click starts (after at least 100 ms of quiet)."""
    found, quiet_since = [], None
    for arrival, packet in packets:
        loud = np.max(np.abs(decode_pcm(packet[12:], "L24"))) > THRESHOLD
        if loud and quiet_since is not None and arrival - quiet_since > 0.1:
            found.append(arrival)
        if loud:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = arrival
    return found


def summary(name: str, values_ms: list[float]) -> str:
    if not values_ms:
        return f"{name}: no measurement"
    values = np.array(values_ms)
    return (
        f"{name}: median {np.median(values):.2f} ms, p95 {np.percentile(values, 95):.2f} ms, "
        f"min {values.min():.2f}, max {values.max():.2f} (n={len(values)})"
    )


async def bench(bridge: BridgeHarness, clicks: int) -> int:
    port = bridge.port(PANEL.port)
    pc = RTCPeerConnection()
    pc.addTrack(ClickTrack())
    heard: list[np.ndarray] = []

    @pc.on("track")
    def on_track(track):
        async def pull():
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                heard.append(frame.to_ndarray().reshape(-1)[:: len(frame.layout.channels)] / 32768)

        asyncio.ensure_future(pull())

    await pc.setLocalDescription(await pc.createOffer())
    status, headers, answer = await asyncio.to_thread(whip, "POST", bridge.whip_url, pc.localDescription.sdp, PANEL.token)
    assert status == 201, answer
    # The bridge frames port audio from the first port packet after the session is bound.
    clicker = PortClicker(port)
    clicker.start()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    deadline = time.monotonic() + 15
    while pc.connectionState != "connected" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert pc.connectionState == "connected", pc.connectionState

    depths: list[tuple[float, int]] = []
    duration = clicks * CLICK_EVERY * FRAME / SAMPLE_RATE + 2.5
    end = time.monotonic() + duration
    while time.monotonic() < end:
        for session in bridge.sessions_of(PANEL.id):
            depths.append((time.monotonic(), int(session["port_buffer_frames"])))
        await asyncio.sleep(0.05)
    clicker.running = False
    clicker.join()
    await pc.close()

    # Panel → port. aiortc's RTP timestamps count from its first frame (pts 0).
    first = struct.unpack("!I", sent[0][1][4:8])[0]
    click_sent = [
        t
        for t, header in sent
        if (index := ((struct.unpack("!I", header[4:8])[0] - first) & 0xFFFFFFFF) // FRAME) > 0
        and index % CLICK_EVERY == 0
        and (struct.unpack("!I", header[4:8])[0] - first) % FRAME == 0
    ]
    lookahead = opus_lookahead()
    totals, waits, added_here = [], [], []
    for arrival in onsets(port.listener.since(0)):
        before = [t for t in click_sent if t < arrival and arrival - t < 0.2]
        if not before:
            continue
        total = (arrival - before[-1]) * 1000
        # The port buffer's depth around the click (status is read every 50 ms): its mean over
        # the Opus frame's 20 ms sawtooth, less half a frame, is the depth the frame found.
        near = [depth for t, depth in depths if abs(t - before[-1]) < 0.1]
        if not near:
            continue
        wait = max(0.0, float(np.mean(near)) - FRAME / 2) / 48
        totals.append(total)
        waits.append(wait)
        added_here.append(total - lookahead / 48 - wait)
    print(f"panel → port: {len(click_sent)} clicks sent, {len(totals)} heard at the port")
    print("  " + summary("datagram to datagram", totals))
    print(f"  not the bridge's processing: the panel encoder's Opus look-ahead, {lookahead / 48:.2f} ms")
    print("  " + summary("and the wait in the port buffer (from status)", waits))
    print("  " + summary("added by the bridge", added_here))

    # Port → panel: the first SRTP datagram after each click packet carries the frame it completed.
    arrivals = [t for t, _ in received]
    added = []
    for t_in in clicker.clicks:
        later = [t for t in arrivals if t > t_in]
        if later and later[0] - t_in < 0.02:
            added.append((later[0] - t_in) * 1000)
    audio = np.concatenate(heard) if heard else np.zeros(1)
    heard_clicks, last = 0, -SAMPLE_RATE
    for index in np.flatnonzero(np.abs(audio) > THRESHOLD):
        if index - last > SAMPLE_RATE // 10:
            heard_clicks += 1
        last = index
    print(f"port → panel: {len(clicker.clicks)} clicks sent, {heard_clicks} heard by the panel")
    print("  " + summary("added by the bridge (frame gathering excluded)", added))
    return 0 if totals and added else 1


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--clicks", type=int, default=40, help="clicks each way (2 a second)")
    options = arguments.parse_args()
    with tempfile.TemporaryDirectory(prefix="sd-latency-") as directory:
        bridge = BridgeHarness(
            directory=Path(directory),
            whip_port=35190,
            media=(35195, 35199),
            ports=[PortSpec("matrix-1", receive_port=35191)],
            panels=[PANEL],
        )
        bridge.start()
        try:
            return asyncio.run(asyncio.wait_for(bench(bridge, options.clicks), options.clicks + 60))
        finally:
            bridge.stop()


if __name__ == "__main__":
    sys.exit(main())
