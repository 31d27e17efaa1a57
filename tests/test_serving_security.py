"""Who may call the prediction service (issue 15 items 1 and 2), against real servers.

The ``deployed`` fixture of test_serving (a production model, one ``mlops-workbench serve``
subprocess on a free loopback port) is reused; this module gets a server of its own. Raw
``http.client`` requests set the headers a browser, a DNS-rebinding page or a remote
client would send. Further servers of the same project start on 127.0.0.2 (token mode
forced with ``--token-file``) and, where this machine allows it, inside a network namespace
on an address that is not loopback at all.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.test_registry import one_line_error
from tests.test_serving import (  # noqa: F401 - a fixture
    deployed,
    free_port,
    request,
    sample_records,
    stop,
)

TOKEN = "s3cret-token-for-the-tests-0123456789"


def raw(host: str, port: int, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None, host_header: str | None = None) -> tuple[int, dict[str, str], Any]:
    """One request with exactly these headers (``host_header`` replaces the Host http.client would send)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=host_header is not None, skip_accept_encoding=True)
        if host_header:
            conn.putheader("Host", host_header)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed: Any = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
    finally:
        conn.close()


def log_lines(meta: dict[str, Any]) -> int:
    return len(Path(meta["log"]).read_text().splitlines()) if meta.get("log") else 0


def start(args: list[str], cwd: Path, host: str = "127.0.0.1", env: dict[str, str] | None = None,
          prefix: list[str] | None = None) -> tuple[subprocess.Popen[str], int]:
    """A serve subprocess on ``host``: waits for /health (which needs no token)."""
    port = free_port()
    proc = subprocess.Popen([*(prefix or []), sys.executable, "-m", "workbench", "serve", *args, "--host", host,
                             "--port", str(port)], cwd=cwd, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if raw(host, port, "GET", "/health")[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise AssertionError("serve did not answer /health within 90 s")


# --- item 1: cross-site requests -------------------------------------------------------------


def test_a_browser_style_cross_site_post_never_reaches_the_log(deployed):  # noqa: F811
    """What a page on another site can send without a preflight: text/plain with its Origin."""
    path, port = deployed["path"], deployed["port"]
    records, _ = sample_records(path, 3)
    body = json.dumps(records).encode()
    assert request(port, "/predict", body)[0] == 200  # the log exists and has lines
    meta = request(port, "/metadata")[1]
    lines_before, records_before = log_lines(meta), meta["records"]
    for headers in ({"Origin": "https://evil.example", "Content-Type": "text/plain;charset=UTF-8"},
                    {"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
                    {"Origin": "https://evil.example", "Content-Type": "application/json"},
                    {"Origin": "null", "Content-Type": "text/plain"},  # a sandboxed iframe or file:// page
                    {"Origin": "http://127.0.0.1.evil.example:8000", "Content-Type": "text/plain"}):
        status, answer_headers, answer = raw("127.0.0.1", port, "POST", "/predict", body, headers)
        assert status == 403, (headers, answer)
        assert f"the web page {headers['Origin']!r} are refused" in answer["error"], answer
        assert "--cors-origin" in answer["error"]
        assert not any(k.startswith("access-control-") for k in answer_headers), answer_headers
    # the same text/plain body without an Origin (a script, not a browser) is 415: not read as JSON
    status, _, answer = raw("127.0.0.1", port, "POST", "/predict", body, {"Content-Type": "text/plain"})
    assert status == 415 and "'text/plain'" in answer["error"]
    meta = request(port, "/metadata")[1]
    assert log_lines(meta) == lines_before and meta["records"] == records_before
    # the service's own pages (/docs) are a loopback origin: they may call it, with no CORS headers
    status, answer_headers, answer = raw("127.0.0.1", port, "POST", "/predict", body,
                                         {"Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"})
    assert status == 200 and len(answer["predictions"]) == 3
    assert not any(k.startswith("access-control-") for k in answer_headers)
    status, answer_headers, _ = raw("127.0.0.1", port, "OPTIONS", "/predict", None,
                                    {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert status == 403 and "access-control-allow-origin" not in answer_headers


def test_a_foreign_host_header_is_refused_on_a_loopback_bind(deployed):  # noqa: F811
    """DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends its Host."""
    path, port = deployed["path"], deployed["port"]
    records, _ = sample_records(path, 2)
    body = json.dumps(records).encode()
    json_type = {"Content-Type": "application/json"}
    records_before = request(port, "/metadata")[1]["records"]
    for host in (f"rebind.evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}", "10.0.0.7",
                 f"0.0.0.0:{port}", f"localhost.evil.example:{port}", f"127.0.0.1:{port}x"):
        for method, target in (("POST", "/predict"), ("GET", "/metadata"), ("GET", "/openapi.json"),
                               ("GET", "/docs"), ("GET", "/health")):
            status, _, answer = raw("127.0.0.1", port, method, target, body if method == "POST" else None,
                                    json_type, host_header=host)
            assert status == 421, (host, target, answer)
            assert f"the Host {host!r} is not this machine" in answer["error"], answer
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"LOCALHOST:{port}", f"127.9.9.9:{port}",
                 f"[::1]:{port}"):
        status, _, answer = raw("127.0.0.1", port, "POST", "/predict", body, json_type, host_header=host)
        assert status == 200, (host, answer)
    assert request(port, "/metadata")[1]["records"] == records_before + 2 * 6


def test_cors_headers_only_for_a_configured_origin(deployed, tmp_path):  # noqa: F811
    path = deployed["path"]
    records, _ = sample_records(path, 1)
    body = json.dumps(records).encode()
    proc, port = start(["-C", str(path), "--log-dir", str(tmp_path / "logs"),
                        "--cors-origin", "https://dash.example.com/"], cwd=tmp_path, env=deployed["env"])
    try:
        dash = {"Origin": "https://dash.example.com"}
        status, headers, _ = raw("127.0.0.1", port, "OPTIONS", "/predict", None,
                                 {**dash, "Access-Control-Request-Method": "POST",
                                  "Access-Control-Request-Headers": "content-type"})
        assert status == 204 and headers["access-control-allow-origin"] == "https://dash.example.com"
        assert "POST" in headers["access-control-allow-methods"]
        assert "content-type" in headers["access-control-allow-headers"].lower()
        status, headers, answer = raw("127.0.0.1", port, "POST", "/predict", body,
                                      {**dash, "Content-Type": "application/json"})
        assert status == 200 and headers["access-control-allow-origin"] == "https://dash.example.com"
        status, headers, _ = raw("127.0.0.1", port, "GET", "/metadata", None, dash)
        assert status == 200 and headers["access-control-allow-origin"] == "https://dash.example.com"
        status, headers, _ = raw("127.0.0.1", port, "POST", "/predict", body,
                                 {"Origin": "https://other.example.com", "Content-Type": "application/json"})
        assert status == 403 and "access-control-allow-origin" not in headers
        status, headers, _ = raw("127.0.0.1", port, "POST", "/predict", body, {"Content-Type": "application/json"})
        assert status == 200 and "access-control-allow-origin" not in headers
    finally:
        stop(proc)
    line = one_line_error(run_cli("serve", "-C", str(path), "--port", str(free_port()),
                                  "--cors-origin", "dash.example.com", cwd=tmp_path))
    assert "--cors-origin 'dash.example.com' is not a web origin" in line


# --- item 2: beyond loopback -----------------------------------------------------------------


def test_a_bind_beyond_loopback_without_a_token_refuses_to_start(deployed, tmp_path):  # noqa: F811
    path = deployed["path"]
    for host in ("0.0.0.0", "::"):
        done = run_cli("serve", "-C", str(path), "--host", host, "--port", str(free_port()), cwd=tmp_path,
                       env={"MLOPS_WORKBENCH_TOKEN": ""})
        line = one_line_error(done)
        assert done.returncode == 2
        assert f"--host {host} is reachable from other machines and needs a token" in line, line
        assert "--token-file PATH" in line and "MLOPS_WORKBENCH_TOKEN" in line
    short = tmp_path / "short.token"
    short.write_text("abc\n")
    for args, expected in (
            (["--token-file", str(tmp_path / "missing.token")], "cannot read the token file"),
            (["--token-file", str(short)], "holds no usable token: use at least 16 printable ASCII"),
    ):
        done = run_cli("serve", "-C", str(path), "--host", "0.0.0.0", "--port", str(free_port()), *args,
                       cwd=tmp_path)
        assert done.returncode == 2 and expected in one_line_error(done)
    done = run_cli("serve", "-C", str(path), "--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path,
                   env={"MLOPS_WORKBENCH_TOKEN": "with space in it and long"})
    assert done.returncode == 2 and "$MLOPS_WORKBENCH_TOKEN holds no usable token" in one_line_error(done)


def check_token_rules(host: str, port: int, body: bytes) -> None:
    json_type = {"Content-Type": "application/json"}
    status, headers, answer = raw(host, port, "POST", "/predict", body, json_type)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer"), answer
    assert "needs its token: send 'Authorization: Bearer <token>'" in answer["error"]
    for wrong in ("Bearer wrong-token-0123456789", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN,
                  f"bearer  {TOKEN}", f"Basic {TOKEN}", "Bearer "):
        status, _, answer = raw(host, port, "POST", "/predict", body, {**json_type, "Authorization": wrong})
        assert status == 401, (wrong, answer)
    for target in ("/metadata", "/openapi.json", "/docs"):
        assert raw(host, port, "GET", target)[0] == 401, target
    status, _, answer = raw(host, port, "GET", "/health")
    assert status == 200 and answer["status"] == "ok"  # health stays open for probes
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, _, answer = raw(host, port, "POST", "/predict", body, {**json_type, **auth})
    assert status == 200 and len(answer["predictions"]) == 2, answer
    status, _, meta = raw(host, port, "GET", "/metadata", None, auth)
    assert status == 200 and meta["token_required"] is True and meta["records"] == 2
    assert meta["rejected"] >= 11  # the refused requests were counted, not scored or logged
    assert len(Path(meta["log"]).read_text().splitlines()) == 2


def test_a_token_protected_service_on_127_0_0_2(deployed, tmp_path):  # noqa: F811
    """--token-file on a loopback address other than 127.0.0.1 turns token mode on there too."""
    path = deployed["path"]
    records, _ = sample_records(path, 2)
    token_file = tmp_path / "service.token"
    token_file.write_text(TOKEN + "\n")
    proc, port = start(["-C", str(path), "--log-dir", str(tmp_path / "logs"), "--token-file", str(token_file)],
                       cwd=tmp_path, host="127.0.0.2", env=deployed["env"])
    try:
        assert "every request but GET /health needs 'Authorization: Bearer <token>'" in _stderr_so_far(proc)
        check_token_rules("127.0.0.2", port, json.dumps(records).encode())
        # the Host rule still holds on a loopback bind
        status, _, _ = raw("127.0.0.2", port, "GET", "/health", host_header="evil.example")
        assert status == 421
    finally:
        stop(proc)


def _stderr_so_far(proc: subprocess.Popen[str]) -> str:
    import select

    seen = ""
    while select.select([proc.stderr], [], [], 0.5)[0]:
        chunk = os.read(proc.stderr.fileno(), 65536).decode()
        if not chunk:
            break
        seen += chunk
    return seen


@pytest.fixture
def namespace() -> Any:
    """A network namespace joined to this one by a veth pair: 10.<a>.<b>.1 here, .2 inside."""
    name = f"wbt{uuid.uuid4().hex[:8]}"
    pair = (f"{name}a", f"{name}b")
    octet = 200 + os.getpid() % 50
    third = int(name[3:5], 16)
    here, there = f"10.{octet}.{third}.1", f"10.{octet}.{third}.2"
    steps = [["ip", "netns", "add", name],
             ["ip", "link", "add", pair[0], "type", "veth", "peer", "name", pair[1]],
             ["ip", "link", "set", pair[1], "netns", name],
             ["ip", "addr", "add", f"{here}/30", "dev", pair[0]],
             ["ip", "link", "set", pair[0], "up"],
             ["ip", "netns", "exec", name, "ip", "addr", "add", f"{there}/30", "dev", pair[1]],
             ["ip", "netns", "exec", name, "ip", "link", "set", pair[1], "up"],
             ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"]]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"no network namespace here ({' '.join(step[:3])}: {done.stderr.strip()})")
        yield {"name": name, "address": there}
    finally:
        subprocess.run(["ip", "link", "del", pair[0]], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_a_token_protected_service_on_a_non_loopback_address(deployed, namespace, tmp_path):  # noqa: F811
    """A real bind beyond loopback (inside a network namespace), the token from the environment."""
    path = deployed["path"]
    records, _ = sample_records(path, 2)
    address = namespace["address"]
    done = subprocess.run(["ip", "netns", "exec", namespace["name"], sys.executable, "-m", "workbench", "serve",
                           "-C", str(path), "--host", address, "--port", str(free_port())], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, **deployed["env"], "MLOPS_WORKBENCH_TOKEN": ""})
    assert done.returncode == 2 and "needs a token" in done.stderr
    proc, port = start(["-C", str(path), "--log-dir", str(tmp_path / "logs")], cwd=tmp_path, host=address,
                       env={**deployed["env"], "MLOPS_WORKBENCH_TOKEN": TOKEN},
                       prefix=["ip", "netns", "exec", namespace["name"]])
    try:
        check_token_rules(address, port, json.dumps(records).encode())
        # beyond loopback the Host is whatever name clients use: not checked, the token is
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert raw(address, port, "GET", "/metadata", None, auth, host_header="model.internal:80")[0] == 200
        # a foreign web page is still refused, token or not
        status, _, _ = raw(address, port, "POST", "/predict", json.dumps(records).encode(),
                           {**auth, "Origin": "https://evil.example", "Content-Type": "application/json"})
        assert status == 403
    finally:
        stop(proc)


def test_the_bundles_container_command_needs_the_token_its_readme_describes(deployed, tmp_path):  # noqa: F811
    """The Dockerfile's ENTRYPOINT, run as Docker would (paths mapped), with and without a token."""
    import re

    path = deployed["path"]
    out = tmp_path / "bundle"
    assert run_cli("model", "bundle", "v1.0.0", "--output", str(out), cwd=path).returncode == 0
    docker = (out / "Dockerfile").read_text()
    readme = (out / "README.md").read_text()
    assert "--token-file /run/secrets/model.token" in docker and "MLOPS_WORKBENCH_TOKEN" in docker
    assert "--token-file /run/secrets/model.token" in readme and "Authorization: Bearer" in readme
    assert "Content-Type: application/json" in readme and "415" in readme and "503" in readme
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*?\])$", docker, re.M | re.S).group(1).replace("\\\n", ""))
    mapped = [str(out) if a == "/srv/bundle" else str(tmp_path / "predictions") if a == "/srv/predictions" else a
              for a in entry]
    assert mapped[:2] == ["mlops-workbench", "serve"] and mapped[mapped.index("--host") + 1] == "0.0.0.0"
    args = mapped[2:mapped.index("--host")] + mapped[mapped.index("--log-dir"):]
    done = run_cli(*mapped[1:mapped.index("--port") + 1], str(free_port()), *mapped[mapped.index("--log-dir"):],
                   cwd=tmp_path, env={"MLOPS_WORKBENCH_TOKEN": ""})
    assert done.returncode == 2 and "needs a token" in one_line_error(done)
    token_file = tmp_path / "model.token"
    token_file.write_text(TOKEN + "\n")
    records, _ = sample_records(path, 2)
    proc, port = start([*args, "--token-file", str(token_file)], cwd=tmp_path, host="0.0.0.0",
                       env={"MLOPS_WORKBENCH_TOKEN": ""})
    try:
        check_token_rules("127.0.0.1", port, json.dumps(records).encode())
    finally:
        stop(proc)
