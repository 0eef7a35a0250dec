"""stagedoor-bridge ports on multicast, as AES67 devices use them, and the DSCP and TTL the
configuration gives the port's packets.

The test runs in a network namespace of its own (`unshare --net`, as root): loopback up with
multicast on and 239.0.0.0/8 routed to it, so nothing leaves the machine and no other test sees
the groups (and 192.0.2.10 on loopback for aiortc's host candidate). Two ports:
- `matrix-mc` sends to group 239.10.0.1 with ttl 4 and DSCP 46 (EF), and receives group
  239.10.0.2 (the bridge joins it): an aiortc panel's 1 kHz tone must reach a socket that joined
  239.10.0.1, with TOS byte 0xB8 and TTL 4 on every packet (IP_RECVTOS, IP_RECVTTL), and a
  440 Hz tone played to 239.10.0.2 must reach the panel;
- `matrix-uc` is unicast with DSCP 34 (AF41): its packets carry TOS 0x88.

    STAGEDOOR_BIN_DIR=.build/debug .build/interop-venv/bin/python -m pytest -q Tests/Interop -k multicast
"""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from stack_support import inside_network_namespace
from bridge_support import (
    HOST,
    SAMPLE_RATE,
    BridgeHarness,
    Panel,
    PanelSpec,
    PortPlayer,
    PortSpec,
    dominant_frequency,
    port_audio,
    wait_until_async,
)

INSIDE = "STAGEDOOR_MULTICAST_NAMESPACE"
# <linux/in.h>: Python's socket module has IP_RECVTOS but not these two.
IP_TTL = 2
IP_RECVTTL = 12
SEND_GROUP = "239.10.0.1"
RECEIVE_GROUP = "239.10.0.2"
MC_PANEL = PanelSpec("panel-mc", "multicast-panel-token-0123456789", "matrix-mc")
UC_PANEL = PanelSpec("panel-uc", "unicast-panel-token-0123456789", "matrix-uc")


class MarkedListener:
    """Receives a port's RTP (a multicast group, or unicast on loopback) with each packet's TOS
    byte and TTL from the IP header, as ancillary data."""

    def __init__(self, group: str | None, port: int = 0):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((group or HOST, port))
        if group:
            membership = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("0.0.0.0"))
            self.socket.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        self.socket.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
        self.socket.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.packets: list[tuple[float, bytes]] = []
        self.marks: set[tuple[int, int]] = set()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                data, ancillary, _, _ = self.socket.recvmsg(65536, 256)
            except socket.timeout:
                continue
            except OSError:
                return
            tos = ttl = -1
            for level, kind, value in ancillary:
                if level == socket.IPPROTO_IP and kind == socket.IP_TOS:
                    tos = value[0]
                elif level == socket.IPPROTO_IP and kind == IP_TTL:
                    ttl = int.from_bytes(value[:4], sys.byteorder)
            self.packets.append((time.monotonic(), data))
            self.marks.add((tos, ttl))

    def since(self, start: float) -> list[tuple[float, bytes]]:
        return [(t, p) for t, p in list(self.packets) if t >= start]

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.socket.close()


def in_namespace(*command: str) -> None:
    subprocess.run(command, check=True)


def test_multicast_ports_with_dscp_and_ttl():
    if not inside_network_namespace(__file__, INSIDE):
        return

    # In the namespace: loopback up, multicast on, the groups routed to it; and a second
    # address on it, because aiortc gathers no candidate on 127.0.0.1.
    in_namespace("ip", "link", "set", "lo", "up")
    in_namespace("ip", "addr", "add", "192.0.2.10/32", "dev", "lo")
    in_namespace("ip", "link", "set", "lo", "multicast", "on")
    in_namespace("ip", "route", "add", "239.0.0.0/8", "dev", "lo")

    group_listener = MarkedListener(SEND_GROUP, 35171)
    unicast_listener = MarkedListener(None)
    mc_port = PortSpec(
        MC_PANEL.port,
        receive_port=35172,
        receive_address=RECEIVE_GROUP,
        send_destination=SEND_GROUP,
        send_port=35171,
        ttl=4,
        dscp=46,
    )
    uc_port = PortSpec(
        UC_PANEL.port, receive_port=35173, send_destination=HOST, send_port=unicast_listener.port, dscp=34
    )

    async def scenario(bridge: BridgeHarness):
        player = PortPlayer(mc_port, 440)
        mc = Panel(bridge.whip_url, MC_PANEL.token, 1000)
        uc = Panel(bridge.whip_url, UC_PANEL.token, 700)
        try:
            await mc.connect()
            await uc.connect()
            start = time.monotonic()
            flowing = await wait_until_async(
                lambda: len(group_listener.since(start)) > 500 and len(unicast_listener.since(start)) > 500, 15
            )
            assert flowing is not None, (len(group_listener.packets), len(unicast_listener.packets))
            await asyncio.sleep(1)
            audio = port_audio(group_listener.since(time.monotonic() - 1), mc_port)
            found = dominant_frequency(audio, SAMPLE_RATE)
            print(f"group {SEND_GROUP}: {found:.0f} Hz, marks {group_listener.marks}")
            assert abs(found - 1000) < 20
            assert group_listener.marks == {(46 << 2, 4)}, group_listener.marks
            audio = port_audio(unicast_listener.since(time.monotonic() - 1), uc_port)
            assert abs(dominant_frequency(audio, SAMPLE_RATE) - 700) < 20
            print(f"unicast: marks {unicast_listener.marks}")
            assert {tos for tos, _ in unicast_listener.marks} == {34 << 2}, unicast_listener.marks

            # The group the bridge joined carries the matrix's 440 Hz to the panel.
            heard = await wait_until_async(lambda: len(mc.heard) > 50, 10)
            assert heard is not None, "the panel heard nothing from the group"
            samples = np.concatenate([s for _, s in mc.heard[-25:]])
            found = dominant_frequency(samples, SAMPLE_RATE)
            print(f"panel heard {found:.0f} Hz from group {RECEIVE_GROUP}")
            assert abs(found - 440) < 20 and float(np.sqrt(np.mean(samples**2))) > 0.1
        finally:
            player.stop()
            await mc.close()
            await uc.close()
        bridge.assert_alive()

    with tempfile.TemporaryDirectory(prefix="sd-mc-") as directory:
        bridge = BridgeHarness(
            directory=Path(directory),
            whip_port=35170,
            media=(35175, 35179),
            ports=[mc_port, uc_port],
            panels=[MC_PANEL, UC_PANEL],
        )
        bridge.start()
        try:
            asyncio.run(asyncio.wait_for(scenario(bridge), 60))
        finally:
            bridge.stop()
            group_listener.close()
            unicast_listener.close()
