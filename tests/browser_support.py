"""A headless Chromium driven over its DevTools protocol, for the timeline page's tests.

Chromium is started as the Debian package installs it (``/usr/bin/chromium``), with a
fresh profile, no network services and ``--remote-debugging-port=0``; the port it took
is read from the profile's ``DevToolsActivePort`` file and the page's target is driven
over a WebSocket (the ``websockets`` package accord already depends on). Every console
error and uncaught exception is collected, so a test can assert there were none.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = os.environ.get("ACCORD_CHROMIUM", "/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)
START_TIMEOUT = 30.0


def chromium() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium")


class Page:
    """One browser tab: navigate, evaluate, screenshot; console errors collected."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.errors: list[str] = []
        self.events: list[dict[str, Any]] = []
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        call = next(self._ids)
        self._ws.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == call:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        self.events.append(message)
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(str(params.get("exceptionDetails", {})))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text")))

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path, *, width: int = 1400, height: int = 900) -> None:
        """Load a local file and wait until its script says it is ready."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.evaluate("document.body && document.body.dataset.ready") == "true":
                return
            time.sleep(0.05)
        raise TimeoutError(f"{path} never became ready; console: {self.errors}")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextlib.contextmanager
def browser(profile: Path) -> Iterator[Page]:
    """A headless Chromium with a fresh profile under ``profile``; yields its first tab."""
    exe = chromium()
    assert exe is not None, "Chromium is not installed"
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _port(profile, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.loads(answer.read())
        target = next(t for t in targets if t.get("type") == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
            yield Page(ws)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited at start (status {process.returncode})")
        if marker.is_file():
            lines = marker.read_text(encoding="utf-8").split()
            if lines:
                return int(lines[0])
        time.sleep(0.05)
    raise TimeoutError("Chromium did not open its DevTools port")


#: Collects every row the virtualised list can show by scrolling it top to bottom
#: (each scroll dispatched, so the list renders synchronously), keyed by row index.
COLLECT_ROWS = """
(() => {
  const list = document.getElementById("list");
  const seen = new Map();
  let maxNodes = 0;
  for (let top = 0; ; top += Math.max(1, list.clientHeight - 24)) {
    list.scrollTop = top;
    list.dispatchEvent(new Event("scroll"));
    maxNodes = Math.max(maxNodes, document.getElementsByTagName("*").length);
    for (const el of list.querySelectorAll("[data-row]")) {
      seen.set(el.dataset.row, {
        kind: el.dataset.kind, opId: el.dataset.opId ?? null,
        eventType: el.dataset.eventType ?? null, ackOf: el.dataset.ackOf ?? null,
        status: el.dataset.status ?? null, count: Number(el.dataset.count),
        text: el.textContent,
      });
    }
    if (top >= list.scrollHeight) break;
  }
  return {rows: [...seen.values()], maxNodes};
})()
"""
