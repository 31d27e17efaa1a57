"""The browser face: ``mlops-workbench --web`` served by textual-serve, loaded in headless Chromium.

Chromium renders the terminal on a canvas, so the test reads what the browser received over
the app's websocket (Chrome DevTools Protocol, Network.webSocketFrameReceived) and checks
that the dashboard arrived there, then checks the page built its terminal. Debian's
chromium package is installed by ``.ci/run``; CI sets MLOPS_WORKBENCH_REQUIRE_BROWSER=1 so
a missing browser fails there instead of skipping.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,800"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read().decode("utf-8", "replace")
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout:.0f} s: {last}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _listening_addresses(port: int) -> set[str]:
    """The local addresses listening on ``port``, read from /proc/net/tcp (IPv4) and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A = LISTEN
                continue
            if len(address) == 8:
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
            else:
                found.add("ipv6:" + address)
    return found


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("MLOPS_WORKBENCH_REQUIRE_BROWSER"):
        pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")


async def _load_and_read(debug_port: int, url: str, wanted: list[str], timeout: float) -> dict:
    import aiohttp

    targets = json.loads(_wait_http(f"http://127.0.0.1:{debug_port}/json/list"))
    page = next(t for t in targets if t.get("type") == "page")
    received = bytearray()
    async with aiohttp.ClientSession() as session, session.ws_connect(page["webSocketDebuggerUrl"],
                                                                      max_msg_size=0) as ws:
        ids = iter(range(1, 10_000))
        pending: dict[int, asyncio.Future] = {}

        async def call(method: str, **params) -> dict:
            n = next(ids)
            pending[n] = asyncio.get_running_loop().create_future()
            await ws.send_json({"id": n, "method": method, "params": params})
            return await asyncio.wait_for(pending[n], 30)

        async def pump() -> None:
            async for msg in ws:
                data = json.loads(msg.data)
                if "id" in data and data["id"] in pending:
                    pending.pop(data["id"]).set_result(data.get("result", {}))
                elif data.get("method") == "Network.webSocketFrameReceived":
                    frame = data["params"]["response"]
                    payload = frame["payloadData"]
                    received.extend(base64.b64decode(payload) if frame.get("opcode") == 2
                                    else payload.encode("utf-8", "replace"))

        reader = asyncio.create_task(pump())
        await call("Network.enable")
        await call("Page.enable")
        await call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = received.decode("utf-8", "replace")
            if all(w in text for w in wanted):
                break
            await asyncio.sleep(0.25)
        check = await call("Runtime.evaluate", expression=(
            "JSON.stringify({terminal: !!document.querySelector('.textual-terminal .xterm-screen'),"
            " title: document.title})"), returnByValue=True)
        shot = await call("Page.captureScreenshot", format="png")
        reader.cancel()
    return {"text": received.decode("utf-8", "replace"), "page": json.loads(check["result"]["value"]),
            "png": base64.b64decode(shot["data"])}


def test_web_face_serves_the_dashboard_to_headless_chromium(make_sample, tmp_path: Path) -> None:
    chromium = _chromium()
    path = make_sample("diagnosis")
    port, debug_port = _free_port(), _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "screens", "--web", "--port", str(port), str(path)],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                              stdin=subprocess.DEVNULL)
    browser = None
    try:
        page = _wait_http(f"http://127.0.0.1:{port}/")
        assert "data-session-websocket-url" in page and f"127.0.0.1:{port}" in page
        assert _listening_addresses(port) == {"127.0.0.1"}  # loopback only
        browser = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                                    f"--remote-debugging-port={debug_port}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True, stdin=subprocess.DEVNULL)
        seen = asyncio.run(_load_and_read(debug_port, f"http://127.0.0.1:{port}/",
                                          ["Dashboard", "Current phase", "Next step"], timeout=90))
        (tmp_path / "browser.png").write_bytes(seen["png"])
        assert "Current phase" in seen["text"] and "Next step" in seen["text"], seen["text"][-2000:]
        assert seen["page"]["terminal"] is True
        assert seen["png"].startswith(b"\x89PNG") and len(seen["png"]) > 10_000
    finally:
        if browser is not None:
            _stop(browser)
        _stop(server)
        log.close()
