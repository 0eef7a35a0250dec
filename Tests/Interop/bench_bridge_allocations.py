"""Allocations of the whole stagedoor-bridge process per packet, with live panels and ports.

The bridge runs with an LD_PRELOAD allocation counter (scripts/malloc-count.c: every malloc,
calloc, realloc and aligned allocation of the process, on every thread). PANELS aiortc panels
each send a tone to their own L24 1 ms port, and a player plays a tone into each port, so every
panel's session carries SRTP both ways (50 packets/s each way) and every port RTP both ways
(1000 packets/s each way). After a warm-up, the counter is read twice, WINDOW seconds apart,
with nothing else asked of the bridge in between (no WHIP, no `status`): allocations per second
and per packet in that window, and by the shared object that called the allocator (Swift's
runtime for the bridge's own code, NSS's libraries under libsrtp2 as Debian builds it).

    scripts/bench-bridge-allocations        (release build; PANELS=2 WINDOW=10)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path

from bridge_support import BridgeHarness, Panel, PanelSpec, PortPlayer, PortSpec, wait_until_async


def read_count(bridge: BridgeHarness, path: Path) -> tuple[int, dict[str, int]]:
    """The process's allocations so far, in all and by the shared object that called malloc."""
    path.unlink(missing_ok=True)
    assert bridge.process
    bridge.process.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = path.read_bytes().decode(errors="replace") if path.exists() else ""
        if text.endswith("\n"):
            lines = text.splitlines()
            callers = {}
            for line in lines[1:]:
                number, _, name = line.partition(" ")
                if number.isdigit():
                    key = Path(name).name or "(main program)"
                    callers[key] = callers.get(key, 0) + int(number)
            return int(lines[0]), callers
        time.sleep(0.01)
    raise AssertionError("the allocation counter did not answer: is LD_PRELOAD set?")


def totals(bridge: BridgeHarness) -> tuple[int, int]:
    """SRTP packets both ways, summed over sessions."""
    sessions = bridge.status()["details"]["sessions"]
    return sum(int(s["packets_received"]) + int(s["packets_sent"]) for s in sessions), len(sessions)


async def scenario(bridge: BridgeHarness, counter: Path, window: float) -> None:
    players = [PortPlayer(port, 440) for port in bridge.ports]
    panels = [Panel(bridge.whip_url, panel.token, 1000) for panel in bridge.panels]
    try:
        for panel in panels:
            await panel.connect()
        listeners = [port.listener for port in bridge.ports]
        flowing = await wait_until_async(
            lambda: all(len(l.packets) > 2000 for l in listeners) and all(len(p.heard) > 50 for p in panels), 20
        )
        assert flowing is not None, "audio never flowed both ways"
        await asyncio.sleep(2)
        srtp_before, sessions = totals(bridge)
        port_out_before = sum(len(l.packets) for l in listeners)
        start = time.monotonic()
        before = read_count(bridge, counter)
        await asyncio.sleep(window)
        after = read_count(bridge, counter)
        elapsed = time.monotonic() - start
        srtp_after, _ = totals(bridge)
        port_out = sum(len(l.packets) for l in listeners) - port_out_before
    finally:
        for player in players:
            player.stop()
        for panel in panels:
            await panel.close()
    allocations = after[0] - before[0]
    by_caller = {name: count - before[1].get(name, 0) for name, count in after[1].items()}
    srtp = srtp_after - srtp_before
    # The players send one packet per port per millisecond; count them from the clock.
    port_in = int(round(elapsed * 1000)) * len(bridge.ports)
    port_packets = port_in + port_out
    print(f"{sessions} sessions, {elapsed:.1f} s window")
    print(f"  SRTP packets (both ways): {srtp} ({srtp / elapsed:.0f}/s)")
    print(f"  port RTP packets (both ways): {port_packets} ({port_packets / elapsed:.0f}/s)")
    print(f"  allocations: {allocations} ({allocations / elapsed:.0f}/s)")
    print(f"  per packet of either kind: {allocations / max(1, srtp + port_packets):.3f}")
    print(f"  per SRTP packet, if the port packets allocate nothing: {allocations / max(1, srtp):.2f}")
    print("  by the shared object that called the allocator:")
    for name, count in sorted(by_caller.items(), key=lambda item: -item[1]):
        if count:
            print(f"    {count:8d}  {count / max(1, srtp):6.2f} per SRTP packet  {name}")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--panels", type=int, default=2)
    arguments.add_argument("--window", type=float, default=10)
    arguments.add_argument("--preload", required=True, help="the built malloc-count.so")
    options = arguments.parse_args()
    with tempfile.TemporaryDirectory(prefix="sd-alloc-") as directory:
        counter = Path(directory) / "malloc-count"
        os.environ["LD_PRELOAD"] = options.preload
        os.environ["MALLOC_COUNT_FILE"] = str(counter)
        ports = [PortSpec(f"matrix-{i}", receive_port=35181 + i) for i in range(options.panels)]
        panels = [PanelSpec(f"panel-{i}", f"allocation-panel-{i}-0123456789", f"matrix-{i}") for i in range(options.panels)]
        bridge = BridgeHarness(
            directory=Path(directory), whip_port=35180, media=(35185, 35189), ports=ports, panels=panels
        )
        bridge.start()
        # Only the bridge carries the counter: this process and aiortc do not.
        del os.environ["LD_PRELOAD"]
        try:
            asyncio.run(asyncio.wait_for(scenario(bridge, counter, options.window), 120))
        finally:
            bridge.stop()


if __name__ == "__main__":
    main()
