"""Helpers the interop tests share that need no media stack: a control-socket call, and
running a test file again inside a network namespace of its own."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def control_request(socket_path: Path | str, method: str = "status") -> dict:
    """One JSON-RPC 2.0 call on a daemon's control socket (one JSON object per line): its result."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(5)
        connection.connect(str(socket_path))
        connection.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data.split(b"\n", 1)[0])
    assert "result" in answer, f"{socket_path} {method} failed: {answer}"
    return answer["result"]


def inside_network_namespace(test_file: str, marker: str, timeout: float = 120) -> bool:
    """True when this process runs inside the test's own network namespace (the environment
    variable `marker` says so): the test goes on. Otherwise runs `test_file` again under
    `unshare --net` with `marker` set, asserts that it passed, and returns False: the test is
    done. Skips, saying why, where namespaces cannot be made (not root, no unshare, or a
    sandbox that refuses them)."""
    if os.environ.get(marker) == "1":
        return True
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a network namespace")
    if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow network namespaces (unshare --net failed)")
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", test_file],
        env={**os.environ, marker: "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    print(result.stdout[-6000:], result.stderr[-2000:])
    assert result.returncode == 0, "the test failed inside its network namespace (output above)"
    return False
