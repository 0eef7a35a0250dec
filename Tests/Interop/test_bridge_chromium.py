"""stagedoor-bridge against the real browser: headless Chromium (Debian's `chromium`) as a WHIP panel.

A page served from this test's own HTTP server (another origin than the bridge's WHIP endpoint,
listed in bridge.whip.allowed_origins) does getUserMedia → RTCPeerConnection → fetch POST to
WHIP with its bearer token, which the browser preflights (CORS). Chromium's fake capture device
plays a 1 kHz WAV this test writes; the port's RTP destination must get it as L24 at 1 kHz and
about the level sent. The port plays 440 Hz back, which the page's inbound-rtp stats must show;
then the page DELETEs its session (a preflighted cross-origin DELETE).

Chromium that cannot start fails the test (never skips). Ports 35150-35199.

    STAGEDOOR_BIN_DIR=.build/debug .build/interop-venv/bin/python -m pytest -q Tests/Interop -k chromium
"""

from __future__ import annotations

import http.server
import json
import math
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from bridge_support import (
    HOST,
    SAMPLE_RATE,
    BridgeHarness,
    PanelSpec,
    PortPlayer,
    PortSpec,
    dominant_frequency,
    port_audio,
    wait_until,
    whip,
)

WHIP_PORT = 35150
RECEIVE_PORT = 35151
MEDIA = (35160, 35189)
PANEL = PanelSpec("browser-panel", "chromium-panel-token-0123456789", "matrix-1")
TONE = 1000.0
AMPLITUDE = 0.5
PORT_TONE = 440.0

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>stagedoor WHIP panel</title>
<audio id="heard" autoplay></audio>
<script>
const WHIP = %(whip)s, TOKEN = %(token)s;
async function report(message) {
  const response = await fetch("/report", {method: "POST", body: JSON.stringify(message)});
  return response.text();
}
async function stats(pc) {
  const found = {connection: pc.connectionState, ice: pc.iceConnectionState};
  (await pc.getStats()).forEach(s => {
    if (s.type === "outbound-rtp" && s.kind === "audio") found.packetsSent = s.packetsSent;
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      found.packetsReceived = s.packetsReceived;
      found.audioLevel = s.audioLevel;
      found.totalAudioEnergy = s.totalAudioEnergy;
    }
  });
  return found;
}
(async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia(
      {audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
    const pc = new RTCPeerConnection();
    pc.addTransceiver(stream.getAudioTracks()[0], {direction: "sendrecv"});
    pc.ontrack = event => { document.getElementById("heard").srcObject = new MediaStream([event.track]); };
    await pc.setLocalDescription(await pc.createOffer());
    // WHIP without trickle (the bridge is ICE-lite): send the offer once gathering is done.
    await new Promise(resolve => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
      setTimeout(resolve, 3000);
    });
    const posted = await fetch(WHIP, {
      method: "POST",
      headers: {"Content-Type": "application/sdp", "Authorization": "Bearer " + TOKEN},
      body: pc.localDescription.sdp,
    });
    const answer = await posted.text();
    const location = posted.headers.get("Location");
    await report({phase: "posted", status: posted.status, location, answer});
    if (posted.status !== 201) return;
    await pc.setRemoteDescription({type: "answer", sdp: answer});
    for (;;) {
      await new Promise(resolve => setTimeout(resolve, 250));
      const command = await report({phase: "stats", location, ...(await stats(pc))});
      if (command === "delete") {
        const deleted = await fetch(new URL(location, WHIP), {
          method: "DELETE", headers: {"Authorization": "Bearer " + TOKEN}});
        await report({phase: "deleted", status: deleted.status});
        pc.close();
        return;
      }
    }
  } catch (error) {
    await report({phase: "error", error: String(error)});
  }
})();
</script>
"""


class PageServer:
    """The page's origin: serves the page, takes its reports, answers each with a command."""

    def __init__(self, page: str):
        self.reports: queue.Queue[dict] = queue.Queue()
        self.command = ""
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.reports.put(message)
                body = owner.command.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.origin = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next_report(self, phase: str | None, timeout: float, condition=lambda report: True) -> dict | None:
        """The next report of `phase` that satisfies `condition`; an error report is raised."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                report = self.reports.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            assert report.get("phase") != "error", f"the page failed: {report}"
            if phase is None or (report.get("phase") == phase and condition(report)):
                return report
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_tone(path: Path, seconds: float = 10) -> None:
    """48 kHz mono 16-bit PCM WAV of a sine; Chromium's fake capture device loops it."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    samples = (AMPLITUDE * 32767 * np.sin(2 * math.pi * TONE * t)).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(samples.tobytes())


def start_chromium(directory: Path, url: str, tone: Path) -> subprocess.Popen:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed (scripts/install-deps test installs Debian's chromium)")
    return subprocess.Popen(
        [
            executable,
            "--headless=new",
            "--no-sandbox",  # root, in a container
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={directory / 'profile'}",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}",
            # The bridge's candidate is on loopback, which WebRTC leaves out by default.
            "--allow-loopback-in-peer-connection",
            "--autoplay-policy=no-user-gesture-required",
            url,
        ],
        stdin=subprocess.DEVNULL,
        stdout=(directory / "chromium.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: its helpers are stopped with it
    )


def stop_chromium(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_chromium_panel_sends_its_tone_to_the_port():
    with tempfile.TemporaryDirectory(prefix="sd-chromium-") as name:
        directory = Path(name)
        tone = directory / "tone.wav"
        write_tone(tone)
        port = PortSpec("matrix-1", receive_port=RECEIVE_PORT)
        whip_url = f"http://{HOST}:{WHIP_PORT}/whip"
        server = PageServer(PAGE % {"whip": json.dumps(whip_url), "token": json.dumps(PANEL.token)})
        bridge = BridgeHarness(
            directory=directory,
            whip_port=WHIP_PORT,
            media=MEDIA,
            ports=[port],
            panels=[PANEL],
            allowed_origins=[server.origin],
        )
        assert bridge.whip_url == whip_url
        bridge.start()
        player = PortPlayer(port, PORT_TONE)
        chromium = start_chromium(directory, server.origin + "/panel.html", tone)
        started = time.monotonic()
        try:
            # CORS: the page's origin is allowed, any other is refused.
            status, headers, _ = whip("OPTIONS", bridge.whip_url, origin=server.origin)
            assert status == 204 and headers["Access-Control-Allow-Origin"] == server.origin
            assert "authorization" in headers["Access-Control-Allow-Headers"].lower()
            status, headers, _ = whip("OPTIONS", bridge.whip_url, origin="http://evil.example")
            assert status == 403 and "Access-Control-Allow-Origin" not in headers

            posted = server.next_report("posted", 30)
            if posted is None:
                log = (directory / "chromium.log").read_text()[-3000:]
                pytest.fail(f"Chromium never posted an offer (exit {chromium.poll()}):\n{log}")
            assert posted["status"] == 201, posted
            assert posted["location"] and posted["location"].startswith("/whip/sessions/"), posted
            connected = server.next_report("stats", 20, lambda report: report.get("connection") == "connected")
            assert connected, f"Chromium never connected: {bridge.log.read_text()[-2000:]}"
            print(f"chromium connected {time.monotonic() - started:.1f} s after start")

            # Browser → port: 1 kHz as L24, 1 ms packets, at about the level of the WAV.
            listener = port.listener
            assert wait_until(lambda: len(listener.since(time.monotonic() - 0.5)) > 200, 10) is not None
            time.sleep(2)
            packets = listener.since(time.monotonic() - 2)
            assert {len(p) - 12 for _, p in packets} == {48 * 3}
            assert all(p[1] & 0x7F == port.payload_type for _, p in packets)
            audio = port_audio(packets, port)
            frequency = dominant_frequency(audio, SAMPLE_RATE)
            blocks = audio[: len(audio) // 48 * 48].reshape(-1, 48)
            loud = blocks[np.sqrt(np.mean(blocks**2, axis=1)) > 0.02]
            assert len(loud) > len(blocks) // 2, f"mostly silence: {len(loud)} of {len(blocks)} ms"
            rms = float(np.sqrt(np.mean(loud**2)))
            print(f"port: {frequency:.1f} Hz, rms {rms:.3f} ({len(blocks) - len(loud)} of {len(blocks)} ms silent)")
            assert abs(frequency - TONE) < 20, frequency
            # The WAV's 0.5 sine has an RMS of 0.354; Opus at 32 kbit/s keeps it within a few dB.
            assert 0.2 < rms < 0.5, rms

            # Port → browser: the 440 Hz the port plays reaches the page as audio, not silence.
            heard = server.next_report(
                "stats", 10, lambda report: report.get("packetsReceived", 0) > 100 and report.get("audioLevel", 0) > 0.05
            )
            assert heard, "the page heard nothing from the port"
            print(f"page: {heard['packetsReceived']} packets, audio level {heard['audioLevel']:.3f}")
            sessions = bridge.sessions_of(PANEL.id)
            assert [s["state"] for s in sessions] == ["connected"], sessions

            # The page ends its session with a cross-origin DELETE.
            server.command = "delete"
            deleted = server.next_report("deleted", 10)
            assert deleted and deleted["status"] == 200, deleted
            assert bridge.sessions_of(PANEL.id) == []
            bridge.assert_alive()
            assert time.monotonic() - started < 60
        finally:
            stop_chromium(chromium)
            player.stop()
            server.close()
            bridge.stop()
