"""stagedoor-bridge sessions that end: what the bridge frees, and that nobody else notices.

Two panels on two ports. panel-1 (port matrix-1) is the one each test opens and ends:
- (a) an offer whose panel never sends a STUN check: the session is retired at
  bridge.sessions.establishment_timeout_ms, its socket closed, and a new session works;
- (b) a panel process killed mid-call (no DELETE, no DTLS close): consent (RFC 7675) expires at
  bridge.sessions.consent_timeout_ms, the session and its socket go, the port goes quiet;
- (c) DELETE frees the session and its socket at once; a second DELETE is 404;
- (d) a second POST with the same token replaces the first session: the old Location is 404,
  its socket closed, and the port carries the new panel's tone;
- (e) a reload that changes, adds and removes ports keeps the sessions it did not touch;
- (f) meanwhile panel-2 (port matrix-2, the "bystander") keeps hearing its port's tone and the
  port keeps getting the panel's, with no gap.

The sessions are read from the bridge's control socket (`status`, JSON-RPC over run/bridge.sock);
sockets from /proc/net/udp. Ports 35100-35149, apart from the other interop suites.

    STAGEDOOR_BIN_DIR=.build/debug .build/interop-venv/bin/python -m pytest -q Tests/Interop -k lifecycle
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from bridge_support import (
    SAMPLE_RATE,
    BridgeHarness,
    Bystander,
    Panel,
    PanelSpec,
    PortSpec,
    dominant_frequency,
    largest_gap,
    port_audio,
    udp_port_bound,
    wait_until_async,
    whip,
)

WHIP_PORT = 35100
MEDIA = (35120, 35149)
ESTABLISHMENT_MS = 2_000
CONSENT_MS = 10_000
PANEL = PanelSpec("panel-1", "lifecycle-panel-one-0123456789", "matrix-1")
BYSTANDER = PanelSpec("panel-2", "lifecycle-panel-two-0123456789", "matrix-2")
# A port and panel that only the reload test uses (it removes them).
REMOVED = PanelSpec("panel-3", "lifecycle-panel-three-0123456789", "matrix-3")


@pytest.fixture
def bridge():
    with tempfile.TemporaryDirectory(prefix="sd-life-") as directory:
        harness = BridgeHarness(
            directory=Path(directory),
            whip_port=WHIP_PORT,
            media=MEDIA,
            ports=[
                PortSpec("matrix-1", receive_port=35101),
                # The bystander's port: 4 ms packets keep this Python side light on a 2-core box.
                PortSpec("matrix-2", receive_port=35102, packet_time_ms=4),
                PortSpec("matrix-3", receive_port=35103, packet_time_ms=20),
            ],
            panels=[PANEL, BYSTANDER, REMOVED],
            sessions={"establishment_timeout_ms": ESTABLISHMENT_MS, "consent_timeout_ms": CONSENT_MS},
        )
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()


def run(scenario, timeout: float = 60):
    asyncio.run(asyncio.wait_for(scenario, timeout))


def session_ids(bridge: BridgeHarness) -> list[str]:
    return [s["id"] for s in bridge.sessions_of(PANEL.id)]


async def assert_tone_at_port(bridge: BridgeHarness, frequency: float, seconds: float = 1.0) -> None:
    """panel-1's port destination carries `frequency`, at a level that is not silence."""
    port = bridge.port(PANEL.port)
    listener = port.listener
    start = time.monotonic()
    # The port's stream starts once the bridge holds a jitter-buffer's worth of panel audio.
    flowing = await wait_until_async(lambda: len(listener.since(start)) > 100, 10)
    assert flowing is not None, "no RTP at the port"
    await asyncio.sleep(seconds)
    audio = port_audio(listener.since(time.monotonic() - seconds), port)
    assert len(audio) > 0.5 * seconds * SAMPLE_RATE, len(audio)
    found = dominant_frequency(audio, SAMPLE_RATE)
    rms = float(np.sqrt(np.mean(audio**2)))
    assert abs(found - frequency) < 20 and rms > 0.05, f"port: {found:.0f} Hz at rms {rms:.3f}"


def assert_port_quiet(bridge: BridgeHarness) -> None:
    """No RTP reaches panel-1's port destination any more (after what was in flight)."""
    listener = bridge.port(PANEL.port).listener
    time.sleep(0.3)
    start = time.monotonic()
    time.sleep(0.7)
    late = listener.since(start)
    assert late == [], f"{len(late)} packets at the port after the session ended"


def test_ice_that_never_completes_is_retired(bridge: BridgeHarness):
    async def scenario():
        async with Bystander(bridge, BYSTANDER) as bystander:
            # A real offer, but the panel never learns the answer: no STUN check ever comes.
            silent = Panel(bridge.whip_url, PANEL.token, 1000)
            status, answer = await silent.post()
            assert status == 201, answer
            posted = time.monotonic()
            await silent.close()
            sessions = bridge.sessions_of(PANEL.id)
            assert len(sessions) == 1, sessions
            assert sessions[0]["state"] == "connecting", sessions
            assert sessions[0]["media_port"] == silent.media_port
            assert udp_port_bound(silent.media_port)

            took = await wait_until_async(lambda: not bridge.sessions_of(PANEL.id), ESTABLISHMENT_MS / 1000 + 3)
            assert took is not None, f"still there: {bridge.sessions_of(PANEL.id)}"
            lifetime = time.monotonic() - posted
            print(f"retired {lifetime:.2f} s after the answer (establishment timeout {ESTABLISHMENT_MS} ms)")
            assert lifetime > ESTABLISHMENT_MS / 1000 - 0.3, lifetime
            assert await wait_until_async(lambda: not udp_port_bound(silent.media_port), 2) is not None
            status, _, _ = await asyncio.to_thread(whip, "DELETE", silent.location_url(), None, PANEL.token)
            assert status == 404

            # The panel's next session works.
            panel = Panel(bridge.whip_url, PANEL.token, 1000)
            await panel.connect()
            await assert_tone_at_port(bridge, 1000)
            await panel.close()
            bystander.check()
        bridge.assert_alive()
        assert "ICE and DTLS did not complete" in bridge.log.read_text()

    run(scenario())


def test_vanished_panel_expires_on_consent(bridge: BridgeHarness):
    async def scenario():
        async with Bystander(bridge, BYSTANDER) as bystander:
            # A panel in a process of its own, killed without a word.
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("bridge_support.py")),
                    "--url",
                    bridge.whip_url,
                    "--token",
                    PANEL.token,
                    "--frequency",
                    "1000",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
                assert line, process.stderr.read()
                panel = json.loads(line)
                await assert_tone_at_port(bridge, 1000)
                sessions = bridge.sessions_of(PANEL.id)
                assert [s["state"] for s in sessions] == ["connected"], sessions
                assert sessions[0]["media_port"] == panel["media_port"]
                assert udp_port_bound(panel["media_port"])
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait()
            killed = time.monotonic()

            took = await wait_until_async(lambda: not bridge.sessions_of(PANEL.id), CONSENT_MS / 1000 + 3)
            assert took is not None, f"still there: {bridge.sessions_of(PANEL.id)}"
            # aiortc checks consent every 4-6 s: the last check was at most that long before the kill.
            print(f"retired {took:.2f} s after the kill (consent timeout {CONSENT_MS} ms)")
            assert took > CONSENT_MS / 1000 - 6.5, took
            assert await wait_until_async(lambda: not udp_port_bound(panel["media_port"]), 2) is not None
            await asyncio.to_thread(assert_port_quiet, bridge)
            status, _, _ = await asyncio.to_thread(
                whip, "DELETE", bridge.whip_url.rsplit("/whip", 1)[0] + panel["location"], None, PANEL.token
            )
            assert status == 404
            assert time.monotonic() - killed < CONSENT_MS / 1000 + 5
            bystander.check()
        bridge.assert_alive()
        assert "no ICE consent from the panel" in bridge.log.read_text()

    run(scenario())


def test_delete_frees_everything(bridge: BridgeHarness):
    async def scenario():
        async with Bystander(bridge, BYSTANDER) as bystander:
            panel = Panel(bridge.whip_url, PANEL.token, 1000)
            await panel.connect()
            await assert_tone_at_port(bridge, 1000)
            assert session_ids(bridge) == [panel.location.rsplit("/", 1)[1]]
            assert udp_port_bound(panel.media_port)

            status, _, _ = await asyncio.to_thread(whip, "DELETE", panel.location_url(), None, PANEL.token)
            assert status == 200
            assert bridge.sessions_of(PANEL.id) == []
            assert await wait_until_async(lambda: not udp_port_bound(panel.media_port), 1) is not None
            await asyncio.to_thread(assert_port_quiet, bridge)
            status, _, _ = await asyncio.to_thread(whip, "DELETE", panel.location_url(), None, PANEL.token)
            assert status == 404
            # The bridge said goodbye (DTLS close_notify): the panel sees its connection close.
            closed = await wait_until_async(lambda: panel.pc.connectionState in ("closed", "failed"), 5)
            print(f"panel connection {panel.pc.connectionState} after DELETE")
            assert closed is not None
            await panel.close()
            bystander.check()
        bridge.assert_alive()

    run(scenario())


def test_a_second_post_replaces_the_panels_session(bridge: BridgeHarness):
    async def scenario():
        async with Bystander(bridge, BYSTANDER) as bystander:
            first = Panel(bridge.whip_url, PANEL.token, 1000)
            await first.connect()
            await assert_tone_at_port(bridge, 1000)

            second = Panel(bridge.whip_url, PANEL.token, 1500)
            await second.connect()
            assert second.media_port != first.media_port
            assert session_ids(bridge) == [second.location.rsplit("/", 1)[1]]
            assert await wait_until_async(lambda: not udp_port_bound(first.media_port), 1) is not None
            assert udp_port_bound(second.media_port)
            status, _, _ = await asyncio.to_thread(whip, "DELETE", first.location_url(), None, PANEL.token)
            assert status == 404
            # The port now carries the new panel's tone.
            await assert_tone_at_port(bridge, 1500)
            await first.close()
            status, _, _ = await asyncio.to_thread(whip, "DELETE", second.location_url(), None, PANEL.token)
            assert status == 200
            await second.close()
            bystander.check()
        bridge.assert_alive()

    run(scenario())


def test_reload_opens_closes_and_keeps_ports(bridge: BridgeHarness):
    """A reload that changes panel-1's port (1 → 2 ms packets), adds a port and its panel, and
    removes both: panel-1's session ends and its port reopens with the new packet time; the new
    port opens and carries its panel's tone; the removed port's socket closes and its token is
    refused; the bystander's session, untouched, keeps its id and its audio through the reload."""

    async def scenario():
        async with Bystander(bridge, BYSTANDER) as bystander:
            panel = Panel(bridge.whip_url, PANEL.token, 1000)
            await panel.connect()
            await assert_tone_at_port(bridge, 1000)
            kept = [s["id"] for s in bridge.sessions_of(BYSTANDER.id)]
            assert len(kept) == 1, kept
            assert udp_port_bound(35103)

            changed = bridge.port(PANEL.port)
            changed.packet_time_ms = 2
            added = PortSpec("matrix-4", receive_port=35104)
            added_panel = PanelSpec("panel-4", "lifecycle-panel-four-0123456789", "matrix-4")
            removed = bridge.port("matrix-3")
            bridge.ports = [p for p in bridge.ports if p.id != "matrix-3"] + [added]
            bridge.panels = [p for p in bridge.panels if p.port != "matrix-3"] + [added_panel]
            reloaded = time.monotonic()
            result = await asyncio.to_thread(bridge.reload)
            print(f"reload: {result}")

            # The bystander's session is the same one, and its port did not pause.
            assert [s["id"] for s in bridge.sessions_of(BYSTANDER.id)] == kept
            await asyncio.sleep(1)
            listener = bridge.port(BYSTANDER.port).listener
            gap = largest_gap([t for t, _ in listener.since(reloaded - 0.5)], reloaded - 0.5, time.monotonic())
            print(f"bystander's port: largest gap {gap * 1000:.1f} ms across the reload")
            assert gap < 0.1, gap

            # panel-1's port changed: its session ended (the panel hears DTLS close) ...
            assert bridge.sessions_of(PANEL.id) == []
            closed = await wait_until_async(lambda: panel.pc.connectionState in ("closed", "failed"), 5)
            assert closed is not None, panel.pc.connectionState
            await panel.close()
            # ... and the port reopened with 2 ms packets, which the panel's next session gets.
            again = Panel(bridge.whip_url, PANEL.token, 1200)
            await again.connect()
            await assert_tone_at_port(bridge, 1200)
            sizes = {len(p) - 12 for _, p in changed.listener.since(time.monotonic() - 0.5)}
            assert sizes == {96 * 3}, sizes

            # The new port opened, and its panel's tone reaches it.
            assert udp_port_bound(35104)
            fourth = Panel(bridge.whip_url, added_panel.token, 800)
            await fourth.connect()
            start = time.monotonic()
            assert await wait_until_async(lambda: len(added.listener.since(start)) > 300, 10) is not None
            audio = port_audio(added.listener.since(time.monotonic() - 0.3), added)
            assert abs(dominant_frequency(audio, SAMPLE_RATE) - 800) < 20

            # The removed port's socket is closed and its panel's token no longer opens a session.
            assert not udp_port_bound(35103)
            removed.listener.close()
            refused = Panel(bridge.whip_url, REMOVED.token, 500)
            status, _ = await refused.post()
            await refused.close()
            assert status == 401

            for p in (again, fourth):
                await p.close()
            bystander.check()
        bridge.assert_alive()

    run(scenario())
