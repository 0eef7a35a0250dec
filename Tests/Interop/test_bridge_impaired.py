"""stagedoor-bridge under a bad network: 2 % loss and 30 ms of jitter between the panel and the
bridge, injected by a relay in the test, and not one gap longer than a packet at the port.

An aiortc panel sends a 1 kHz tone. The test rewrites the WHIP answer's candidate so that the
panel's datagrams go through `ImpairingRelay`, which forwards STUN and DTLS as they come but
drops 2 % of the panel's RTP (seeded, so a run is repeatable) and delays each other RTP packet by
a uniform 0-30 ms, which also reorders them. The bridge sees the relay as the panel (the ICE-
selected address). At the port's destination (L24, 1 ms packets) the test checks, over 20 s:
- the RTP sequence numbers run without a hole and the timestamps by one packet each (the port's
  clock never stops; a jump is allowed only where the bridge counted its own thread's stall);
- no two packets in a row are silent (peak under -50 dBFS), and every 100 ms holds the 1 kHz
  tone at about the level sent (loss concealed, reordering undone by the jitter buffer);
- the bridge counted the concealment it did (`status`), so the loss was really there.

Ports 35150-35159, apart from the other interop suites.

    STAGEDOOR_BIN_DIR=.build/debug .build/interop-venv/bin/python -m pytest -q Tests/Interop -k impaired
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from aiortc import RTCSessionDescription

from bridge_support import (
    HOST,
    SAMPLE_RATE,
    BridgeHarness,
    Panel,
    PanelSpec,
    PortSpec,
    dominant_frequency,
    port_audio,
    wait_until_async,
)

WHIP_PORT = 35150
MEDIA = (35152, 35159)
PANEL = PanelSpec("panel-impaired", "impaired-panel-token-0123456789", "matrix-impaired")
LOSS = 0.02
JITTER_SECONDS = 0.030
SECONDS = 20
AMPLITUDE = 0.5
# A packet whose peak is below -50 dBFS carries no audio: a gap.
SILENT_PEAK = 0.003


class ImpairingRelay(asyncio.DatagramProtocol):
    """A UDP relay between one panel and the bridge's media socket: the panel's RTP is dropped
    with probability `loss` and otherwise delayed by a uniform [0, jitter] seconds; everything
    else (STUN, DTLS, RTCP, and all the bridge sends back) passes at once."""

    def __init__(self, bridge_address: tuple[str, int], loss: float, jitter: float, seed: int = 5):
        self.bridge_address = bridge_address
        self.loss = loss
        self.jitter = jitter
        self.random = random.Random(seed)
        self.panel_address: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.rtp = 0
        self.dropped = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, address: tuple[str, int]) -> None:
        assert self.transport
        if address == self.bridge_address:
            if self.panel_address:
                self.transport.sendto(data, self.panel_address)
            return
        self.panel_address = address
        # RFC 7983 §7: 128-191 is RTP or RTCP; RTCP packet types are 200-206 (RFC 5761 §4).
        if 128 <= data[0] <= 191 and len(data) > 1 and not 200 <= data[1] <= 206:
            self.rtp += 1
            if self.random.random() < self.loss:
                self.dropped += 1
                return
            delay = self.random.uniform(0, self.jitter)
            asyncio.get_running_loop().call_later(delay, self.transport.sendto, data, self.bridge_address)
            return
        self.transport.sendto(data, self.bridge_address)


def test_two_percent_loss_and_30_ms_jitter_leave_no_gap_at_the_port():
    async def scenario(bridge: BridgeHarness):
        port = bridge.port(PANEL.port)
        listener = port.listener
        assert listener
        panel = Panel(bridge.whip_url, PANEL.token, 1000, amplitude=AMPLITUDE)
        status, answer = await panel.post()
        assert status == 201, answer
        media_port = panel.media_port
        assert media_port
        loop = asyncio.get_running_loop()
        transport, relay = await loop.create_datagram_endpoint(
            lambda: ImpairingRelay((HOST, media_port), LOSS, JITTER_SECONDS), local_addr=(HOST, 0)
        )
        relay_port = transport.get_extra_info("sockname")[1]
        # The panel reaches the bridge through the relay: the answer's port and candidate point at it.
        rewritten = re.sub(rf"\b{media_port}\b", str(relay_port), answer)
        assert rewritten != answer
        await panel.pc.setRemoteDescription(RTCSessionDescription(sdp=rewritten, type="answer"))
        connected = await wait_until_async(lambda: panel.pc.connectionState == "connected", 15)
        assert connected is not None, panel.pc.connectionState
        try:
            flowing = await wait_until_async(lambda: len(listener.packets) > 200, 10)
            assert flowing is not None, "no RTP at the port"
            # Let the jitter buffer settle on the jitter it sees, then measure.
            await asyncio.sleep(3)
            start = time.monotonic()
            await asyncio.sleep(SECONDS)
            end = time.monotonic()
            packets = listener.since(start, end)
            status = bridge.sessions_of(PANEL.id)
        finally:
            await panel.close()
            transport.close()

        assert relay.rtp > 40 * SECONDS, relay.rtp
        print(f"relay: {relay.rtp} panel RTP packets, {relay.dropped} dropped ({relay.dropped / relay.rtp:.1%})")
        assert relay.dropped > 0.01 * relay.rtp

        # The port's stream: one packet every millisecond, no hole in sequence or timestamp.
        sequences = [int.from_bytes(p[2:4], "big") for _, p in packets]
        timestamps = [int.from_bytes(p[4:8], "big") for _, p in packets]
        holes = [(a, b) for a, b in zip(sequences, sequences[1:]) if (b - a) % 65536 != 1]
        assert holes == [], f"sequence holes at the port: {holes[:10]}"
        # The timestamps step by one packet. A jump means the bridge's own thread was not run for
        # more than 20 ms (a loaded machine, not the network): it then skips the time it missed
        # rather than burst it late, and counts it. Every jump must be one it counted.
        steps = [(b - a) % 2**32 for a, b in zip(timestamps, timestamps[1:])]
        jumps = [step for step in steps if step != port.samples_per_packet]
        skipped = sum(step - port.samples_per_packet for step in jumps)
        print(f"port: timestamp jumps {jumps} ({skipped} frames the bridge skipped after stalls of its thread)")
        assert all(step % port.samples_per_packet == 0 and step > 0 for step in jumps), jumps
        assert len(packets) > 0.95 * SECONDS * 1000, len(packets)

        # The audio: no silent packets (a gap: zeros or next to nothing) two in a row, and the
        # tone everywhere at about its level. Concealment may dip (codec PLC fades a lost frame's
        # energy, CELT more than SILK) but must not fall silent.
        audio = port_audio(packets, port)
        peaks = np.abs(audio[: len(audio) // port.samples_per_packet * port.samples_per_packet])
        peaks = peaks.reshape(-1, port.samples_per_packet).max(axis=1)
        silent = peaks < SILENT_PEAK
        longest, run = 0, 0
        for quiet in silent:
            run = run + 1 if quiet else 0
            longest = max(longest, run)
        median = float(np.median(peaks))
        dips = int(np.sum(peaks < 0.1 * median))
        print(
            f"port: {len(packets)} packets; per-packet peak median {median:.3f}, lowest {peaks.min():.4f}; "
            f"{dips} packets more than 20 dB down; longest run of silent packets {longest}"
        )
        assert longest <= 1, f"{longest} silent packets in a row at the port"
        chunk = SAMPLE_RATE // 10
        levels = []
        for index in range(len(audio) // chunk):
            part = audio[index * chunk : (index + 1) * chunk]
            frequency = dominant_frequency(part, SAMPLE_RATE)
            level = float(np.sqrt(np.mean(part**2)))
            levels.append(level)
            assert abs(frequency - 1000) < 20, f"{frequency:.0f} Hz in 100 ms chunk {index}"
        # aiortc upmixes the mono track to stereo Opus at 1/sqrt(2) per channel and the port
        # is mono ((L+R)/2): the port carries the sine's RMS times 0.707 (test_bridge_aiortc.py).
        expected = AMPLITUDE / np.sqrt(2) / np.sqrt(2)
        print(f"levels per 100 ms: min {min(levels):.3f} median {np.median(levels):.3f} (sent {expected:.3f})")
        assert min(levels) > 0.6 * expected and max(levels) < 1.3 * expected

        # The bridge saw the loss and concealed it (Opus FEC or PLC), and held a jitter buffer for it.
        assert len(status) == 1, status
        session = status[0]
        print({k: v for k, v in session.items() if k.startswith("to_port") or k in ("lost", "concealed")})
        assert int(session["to_port_concealed"]) + int(session["to_port_fec_recovered"]) > 0, session
        assert skipped <= int(session["to_port_skipped_frames"]), (skipped, session["to_port_skipped_frames"])
        bridge.assert_alive()

    with tempfile.TemporaryDirectory(prefix="sd-impaired-") as directory:
        bridge = BridgeHarness(
            directory=Path(directory),
            whip_port=WHIP_PORT,
            media=MEDIA,
            ports=[PortSpec(PANEL.port, receive_port=35151)],
            panels=[PANEL],
        )
        bridge.start()
        try:
            asyncio.run(asyncio.wait_for(scenario(bridge), 90))
        finally:
            bridge.stop()
