"""``accord sim serve`` as a real subprocess on an ephemeral loopback port."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

START_TIMEOUT_S = 30.0


@contextmanager
def sim_serve(*args: str) -> Iterator[int]:
    """Start ``accord sim serve --port 0 ARGS``; yield the port from its first line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.cli.main", "sim", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        assert ready, "accord sim serve printed no URL"
        url = proc.stdout.readline().strip()
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.path.endswith("/realtime"), url
        assert parts.port is not None, url
        yield parts.port
    finally:
        proc.terminate()
        proc.wait(10)
