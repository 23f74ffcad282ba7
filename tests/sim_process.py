"""``accord sim serve`` as a real subprocess on an ephemeral loopback port."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

START_TIMEOUT_S = 30.0


def start_sim(*args: str, stderr: int = subprocess.DEVNULL) -> tuple[subprocess.Popen[str], int]:
    """Start ``accord sim serve --port 0 ARGS``; the process and the port from its first
    line. The caller stops it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.cli.main", "sim", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
    assert ready, "accord sim serve printed no URL"
    url = proc.stdout.readline().strip()
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.path.endswith("/realtime"), url
    assert parts.port is not None, url
    return proc, parts.port


@contextmanager
def sim_serve(*args: str) -> Iterator[int]:
    """Start ``accord sim serve --port 0 ARGS``; yield the port from its first line."""
    proc, port = start_sim(*args)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
