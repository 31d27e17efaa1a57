"""Deployment on real git + DVC + GTO and a real uvicorn server on loopback.

One trained project with evidence, registered as v1.0.0 and promoted to production, is
built per module; one ``mlops-workbench serve`` subprocess serves it for the HTTP tests.
Requests go through urllib (and http.client for a chunked body) to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _isolated_env, git, run_cli
from tests.test_registry import VENV_BIN, add_evidence, build_trained_project, one_line_error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, {"raw": raw.decode("utf-8", "replace")}


def post(port: int, records: Any) -> tuple[int, dict[str, Any]]:
    return request(port, "/predict", json.dumps(records).encode())


def start_server(args: list[str], cwd: Path, env: dict[str, str] | None = None,
                 port: int | None = None) -> tuple[subprocess.Popen[str], int]:
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "serve", *args, "--port", str(port)],
                            cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise AssertionError("serve did not answer /health within 90 s")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> dict[str, Any]:
    """A production project and a running service: {"path", "port", "proc", "env"}."""
    from workbench.versioning.registry import promote_model, register_model

    base = tmp_path_factory.mktemp("serving-template")
    path = build_trained_project(base, tmp_path_factory)
    home = base / "home"
    env = {**_isolated_env(home), "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        add_evidence(path)
        register_model(path)
        promote_model(path, "v1.0.0", "production")
    proc, port = start_server(["-C", str(path)], cwd=base, env=env)
    try:
        yield {"path": path, "port": port, "proc": proc, "env": env}
    finally:
        stop(proc)


@pytest.fixture
def project_copy(deployed, tmp_path) -> Path:
    dest = tmp_path / "diagnosis"
    shutil.copytree(deployed["path"], dest, symlinks=True, ignore=shutil.ignore_patterns("predictions-*.jsonl"))
    return dest


def sample_records(path: Path, n: int) -> tuple[list[dict[str, Any]], Any]:
    import pandas as pd

    frame = pd.read_parquet(path / "data/prepared/test.parquet")
    return frame.drop(columns=["diagnosis"]).head(n).to_dict(orient="records"), frame.head(n)


# --- bundle ---------------------------------------------------------------------------------


def test_bundle_has_model_schema_card_metadata_and_dockerfile(project_copy, tmp_path):
    import yaml

    path = project_copy
    out = tmp_path / "bundle"
    done = run_cli("model", "bundle", "v1.0.0", "--output", str(out), "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["path"] == str(out) and result["card"] == "reviewed"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.skops", "schema.json", "metadata.json", "model_card.md", "requirements.txt", "Dockerfile",
         "README.md", "model.onnx"])  # model.onnx: the logistic regression converts (tests/test_onnx.py)
    lock = yaml.safe_load((path / "dvc.lock").read_text())
    md5 = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model.skops")
    assert hashlib.md5((out / "model.skops").read_bytes()).hexdigest() == md5
    params = yaml.safe_load((path / "params.yaml").read_text())
    schema = json.loads((out / "schema.json").read_text())
    assert [(f["name"], f["type"]) for f in schema["features"]] == list(params["features"].items())
    assert schema["record_json_schema"]["additionalProperties"] is False
    assert set(schema["record_json_schema"]["required"]) == set(params["features"])
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["version"] == "v1.0.0" and meta["commit"] == git(path, "rev-list", "-1", "model@v1.0.0").strip()
    assert meta["metrics"] == json.loads((path / "metrics.json").read_text())
    assert meta["approved_by"].startswith("Dana Ortiz") and meta["stages_at_bundle_time"] == ["production"]
    assert (out / "model_card.md").read_text() == (path / "reports/model_card.md").read_text()
    docker = (out / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in docker and '"serve", "--bundle", "/srv/bundle"' in docker
    assert "scikit-learn==" in (out / "requirements.txt").read_text()

    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    line = one_line_error(run_cli("model", "bundle", "v1.0.0", "--output", str(tmp_path / "busy"), cwd=path))
    assert "exists and is not a serving bundle" in line
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]
    from workbench.errors import WorkbenchError
    from workbench.operations.bundle import build_bundle

    with pytest.raises(WorkbenchError, match="model v3.0.0 is not registered"):
        build_bundle(path, "v3.0.0")
    assert build_bundle(path, "v1.0.0", out).path == out  # an existing bundle is replaced
    assert git(path, "status", "--porcelain").strip() == ""  # nothing in the project changed


# --- the service --------------------------------------------------------------------------


def test_service_predicts_what_the_model_predicts(deployed):
    import numpy as np

    from workbench.development.stages import coerce_features, load_model, read_params

    path, port = deployed["path"], deployed["port"]
    status, health = request(port, "/health")
    assert status == 200 and health == {"status": "ok", "version": "v1.0.0"}
    records, frame = sample_records(path, 40)
    status, body = post(port, records)
    assert status == 200, body
    assert body["version"] == "v1.0.0" and len(body["predictions"]) == 40
    model = load_model(path / "models/model.skops")
    X = coerce_features(frame, read_params(path)["features"])
    assert [p["prediction"] for p in body["predictions"]] == model.predict(X).tolist()
    expected = model.predict_proba(X)[:, list(model.classes_).index(1)]
    assert np.allclose([p["score"] for p in body["predictions"]], expected, rtol=1e-9, atol=1e-12)
    one = post(port, records[:1])[1]["predictions"][0]  # the single-record path agrees too
    assert one["prediction"] == body["predictions"][0]["prediction"]
    assert one["score"] == pytest.approx(body["predictions"][0]["score"], rel=1e-9)

    status, meta = request(port, "/metadata")
    assert status == 200
    assert meta["version"] == "v1.0.0" and meta["stage"] == "production" and meta["model"] == "model"
    assert meta["metrics"] == json.loads((path / "metrics.json").read_text())
    assert meta["fast_path"] is True and meta["requests"] >= 2 and meta["records"] >= 41
    assert [f["name"] for f in meta["features"]] == list(read_params(path)["features"])

    # it listens on loopback only
    import psutil

    listening = [c.laddr for c in psutil.Process(deployed["proc"].pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)


def test_bad_input_gets_422_naming_the_field_and_big_bodies_413(deployed):
    path, port = deployed["path"], deployed["port"]
    records, _ = sample_records(path, 2)
    good = records[0]
    missing = dict(good)
    del missing["mean_area"]
    cases = [
        ([{**good, "mean_radius": "12.5"}], "record 0, field 'mean_radius': Input should be a valid number"),
        ([good, {**good, "mean_texture": True}], "record 1, field 'mean_texture'"),
        ([missing], "record 0, field 'mean_area': is missing"),
        ([{**good, "patient_name": "x"}], "record 0, field 'patient_name': is not a feature of this model"),
        ([{**good, "mean_radius": [1.0]}], "field 'mean_radius'"),
        ([], "must be a JSON list of one or more records"),
        (good, "must be a JSON list of one or more records"),
        ([{**good, "mean_area": 2e15}], "record 0, field 'mean_area': Input should be less than or equal to"),
        (["x"], "record 0 must be a JSON object"),
    ]
    for body, expected in cases:
        status, answer = post(port, body)
        assert status == 422, (body, answer)
        assert expected in answer["error"], answer
    raw = json.dumps([good])
    for token in ("NaN", "Infinity", "-Infinity", "1e400"):
        bad = raw.replace(json.dumps(good["mean_radius"]), token, 1).encode()
        status, answer = request(port, "/predict", bad)
        assert status == 422 and "field 'mean_radius'" in answer["error"], (token, answer)
    status, answer = request(port, "/predict", b'[{"mean_radius": 1,')
    assert status == 422 and answer["error"].startswith("the body is not valid JSON")
    status, answer = request(port, "/predict", b"\xff\xfe\x00garbage")
    assert status == 422

    huge = json.dumps([good] * 3000).encode()  # about 3 MB
    assert len(huge) > 1 << 20
    status, answer = request(port, "/predict", huge)
    assert status == 413 and "larger than 1048576 bytes" in answer["error"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # chunked: no Content-Length
    conn.request("POST", "/predict", body=(huge[i:i + 65536] for i in range(0, len(huge), 65536)),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()
    assert request(port, "/health")[0] == 200  # still up


def test_csv_bodies_score_like_json_and_other_types_get_415(deployed):
    """Content-Type text/csv: a header row and one record per line, typed by the features and
    checked by the same schema; JSON with curl's default form type still works; XML is 415."""
    import csv
    import io

    path, port = deployed["path"], deployed["port"]
    records, _ = sample_records(path, 12)
    records[3] = {**records[3], "mean_radius": None}  # a missing numeric value: empty in CSV
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    body = out.getvalue().encode()
    as_json = post(port, records)
    assert as_json[0] == 200, as_json
    status, answer = request(port, "/predict", body, {"Content-Type": "text/csv; charset=utf-8"})
    assert status == 200, answer
    assert answer["predictions"] == as_json[1]["predictions"]

    header, first, *_ = body.decode().splitlines()
    names = header.split(",")
    cells = first.split(",")
    wrong = ",".join("twelve" if n == "mean_radius" else c for n, c in zip(names, cells, strict=False))
    cases = [
        (f"{header}\n{first}\n1,2\n", "CSV line 3 has fewer fields than the header row"),
        (f"{header}\n{first},7\n", "CSV line 2 has more fields than the header row"),
        (f"{header}\n{wrong}\n", "record 0, field 'mean_radius': Input should be a valid number"),
        (f"{header}\n", "the CSV body has a header row but no records"),
        ("", "the CSV body is empty"),
        (f"{header},mean_radius\n{first},1.0\n", "names the column(s) 'mean_radius' more than once"),
        (f"patient_id,patient_id,{header}\nP1,P2,{first}\n", "names the column(s) 'patient_id' more than once"),
    ]
    for text, expected in cases:
        status, answer = request(port, "/predict", text.encode(), {"Content-Type": "text/csv"})
        assert status == 422 and expected in answer["error"], (text[:60], answer)
    # columns that are not features (an id, the target) are left out, as batch predict does
    extra = f"patient_id,{header},diagnosis\nP1,{first},1\n".encode()
    status, answer = request(port, "/predict", extra, {"Content-Type": "text/csv"})
    assert status == 200 and answer["predictions"] == as_json[1]["predictions"][:1], answer
    misspelt = header.replace("mean_radius", "mean radius")
    status, answer = request(port, "/predict", f"{misspelt}\n{first}\n".encode(), {"Content-Type": "text/csv"})
    assert status == 422 and "field 'mean_radius': is missing" in answer["error"], answer
    status, answer = request(port, "/predict", b"\xff" + body, {"Content-Type": "text/csv"})
    assert status == 422 and "not UTF-8" in answer["error"]

    status, answer = request(port, "/predict", json.dumps(records).encode(),
                             {"Content-Type": "application/vnd.team+json"})  # a +json type is JSON
    assert status == 200 and answer["predictions"] == as_json[1]["predictions"]
    status, answer = request(port, "/predict", b"<records/>", {"Content-Type": "application/xml"})
    assert status == 415 and "'application/xml'" in answer["error"] and "text/csv" in answer["error"]
    # what a cross-site page can send without a preflight is not read as JSON (issue 15): curl -d's
    # form type, text/plain, and a bare body are 415 naming the type, and nothing is logged
    before = request(port, "/metadata")[1]["records"]
    for ctype in ("application/x-www-form-urlencoded", "text/plain", "text/plain; charset=utf-8",
                  "application/csv", "multipart/form-data; boundary=x"):
        status, answer = request(port, "/predict", json.dumps(records).encode(), {"Content-Type": ctype})
        assert status == 415 and f"Content-Type {ctype!r}" in answer["error"], (ctype, answer)
        assert "application/json" in answer["error"] and "text/csv" in answer["error"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # no Content-Type at all
    conn.request("POST", "/predict", body=json.dumps(records).encode())
    resp = conn.getresponse()
    assert resp.status == 415 and "has no Content-Type" in json.loads(resp.read())["error"]
    conn.close()
    assert request(port, "/metadata")[1]["records"] == before
    spec = request(port, "/openapi.json")[1]
    content = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert "415" in spec["paths"]["/predict"]["post"]["responses"]


def test_a_big_csv_body_is_read_by_columns_and_scores_and_logs_like_json(deployed):
    """1,200 rows (over CSV_FRAME_LINES): read by pyarrow and scored as a frame (issue 15 item 9),
    with the same answers, log lines and refusals as the record path."""
    import csv
    import io

    from workbench.operations.serving import CSV_FRAME_LINES

    path, port = deployed["path"], deployed["port"]
    base, _ = sample_records(path, 10_000)
    records = [dict(base[i % len(base)]) for i in range(1200)]
    assert len(records) > CSV_FRAME_LINES
    for i in range(0, 1200, 97):
        records[i]["mean_radius"] = None  # missing values: empty cells
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["patient_id", *records[0]], lineterminator="\n")
    writer.writeheader()
    writer.writerows({"patient_id": f"P{i}", **r} for i, r in enumerate(records))
    body = out.getvalue().encode()
    from workbench.development.stages import read_params
    from workbench.operations.serving import csv_frame

    features = read_params(path)["features"]
    frame, read = csv_frame(body, features)  # this body takes the column-wise path
    assert len(frame) == 1200 and read == records
    assert csv_frame(body.replace(b"\n", b"\n", 1).replace(b",", b",twelve,", 1), features) is None
    want = []
    for i in range(0, 1200, 300):  # JSON in bodies under the 1 MiB limit
        status, answer = post(port, records[i:i + 300])
        assert status == 200, answer
        want += answer["predictions"]
    log = Path(request(port, "/metadata")[1]["log"])
    lines_before = len(log.read_text().splitlines())
    status, answer = request(port, "/predict", body, {"Content-Type": "text/csv"})
    assert status == 200, answer
    got = answer["predictions"]
    assert [g["prediction"] for g in got] == [w["prediction"] for w in want]
    assert [g["score"] for g in got] == pytest.approx([w["score"] for w in want], rel=1e-9, abs=1e-12)
    logged = [json.loads(ln) for ln in log.read_text().splitlines()[lines_before:]]
    assert [ln["input"] for ln in logged] == records and len({ln["request"] for ln in logged}) == 1

    lines = body.decode().splitlines()
    header = lines[0].split(",")
    col = header.index("mean_texture")
    for bad, expected in (("twelve", "record 1099, field 'mean_texture': Input should be a valid number"),
                          ("nan", "record 1099, field 'mean_texture'"), ("1e400", "record 1099, field 'mean_texture'"),
                          ("2e15", "record 1099, field 'mean_texture': Input should be less than or equal to")):
        cells = lines[1100].split(",")
        cells[col] = bad
        text = "\n".join([*lines[:1100], ",".join(cells), *lines[1101:]]) + "\n"
        status, answer = request(port, "/predict", text.encode(), {"Content-Type": "text/csv"})
        assert status == 422 and expected in answer["error"], (bad, answer)
    short = "\n".join([*lines[:1100], lines[1100].rsplit(",", 1)[0], *lines[1101:]]) + "\n"
    status, answer = request(port, "/predict", short.encode(), {"Content-Type": "text/csv"})
    assert status == 422 and "CSV line 1101 has fewer fields" in answer["error"], answer
    twice = "\n".join([lines[0] + ",mean_area", *(ln + ",1.0" for ln in lines[1:])]) + "\n"
    status, answer = request(port, "/predict", twice.encode(), {"Content-Type": "text/csv"})
    assert status == 422 and "'mean_area' more than once" in answer["error"], answer
    assert len(log.read_text().splitlines()) == lines_before + 1200  # the refused bodies were not logged


def test_fuzzing_from_the_openapi_spec_never_breaks_the_service(deployed):
    """Schema-driven fuzzing (schemathesis-style, seeded): every answer is 200, 413 or 422, never 5xx."""
    port = deployed["port"]
    status, spec = request(port, "/openapi.json")
    assert status == 200
    schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["type"] == "array" and schema["minItems"] == 1
    record = schema["items"]
    names = list(record["properties"])
    assert set(record["required"]) == set(names) and record["additionalProperties"] is False
    rng = random.Random(20240501)
    weird: list[Any] = [None, True, False, 0, -1, 2**63, 10**40, 1e308, -1e308, 5e-324, -0.0, "", "1.5",
                        "NaN", "\u0000", "é" * 50, [], {}, [1.0], {"a": 1}, "x" * 5000]
    bodies: list[bytes] = [b"", b"null", b"0", b'"x"', b"{}", b"[]", b"[[]]", b"[null]", b"[" * 5000,
                           b"[1," * 1000 + b"1" + b"]" * 1, b"\xc3\x28", b'{"a":', b"[{}]",
                           json.dumps([{n: 1.0 for n in names}] * 2000).encode()]
    for _ in range(250):
        rec: dict[str, Any] = {n: rng.uniform(-1e3, 1e3) for n in names}
        action = rng.randrange(5)
        if action == 0:
            rec[rng.choice(names)] = rng.choice(weird)
        elif action == 1:
            del rec[rng.choice(names)]
        elif action == 2:
            rec[rng.choice(["", " ", "__proto__", "mean_radius ", "ÿ", "a" * 300])] = rng.choice(weird)
        elif action == 3:
            rec = {n: rng.choice(weird) for n in names}
        body = json.dumps([rec] * rng.randint(1, 3), allow_nan=True).encode()
        if rng.random() < 0.2:
            cut = rng.randrange(len(body))
            body = body[:cut] + bytes([rng.randrange(256)]) + body[cut + 1:]
        bodies.append(body)
    seen: dict[int, int] = {}
    for body in bodies:
        status, answer = request(port, "/predict", body)
        seen[status] = seen.get(status, 0) + 1
        assert status in (200, 413, 422), (status, body[:200], answer)
        if status == 422:
            assert answer["error"] and answer["detail"], answer
    assert seen.get(200) and seen.get(422)
    assert request(port, "/health")[0] == 200


def test_prediction_log_is_json_lines_kept_out_of_git(deployed):
    path, port = deployed["path"], deployed["port"]
    records, _ = sample_records(path, 3)
    assert post(port, records)[0] == 200
    meta = request(port, "/metadata")[1]
    log = Path(meta["log"])
    assert log.parent == path / "monitoring" / "predictions"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == meta["records"]  # one line per scored record; refused bodies are not logged
    last = lines[-1]
    assert last["version"] == "v1.0.0" and last["input"] == records[-1]
    assert set(last) == {"at", "version", "request", "input", "prediction", "score"}
    assert git(path, "status", "--porcelain", "--untracked-files=all").strip() == ""


def test_monitor_reads_the_log_the_service_writes(deployed):
    """The contract between serve and monitor, end to end: real requests, then a real check."""
    path, port = deployed["path"], deployed["port"]
    records, _ = sample_records(path, 40)
    assert post(port, records)[0] == 200
    meta = request(port, "/metadata")[1]
    done = subprocess.run([sys.executable, "-m", "workbench", "monitor", "--all", "--dry-run", "--json"],
                          cwd=path, capture_output=True, text=True, env={**os.environ, **deployed["env"]},
                          timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode in (0, 3), done.stderr
    report = json.loads(done.stdout)
    assert report["batch"]["source"] == "prediction_log"
    assert report["batch"]["rows"] == meta["records"] and report["batch"]["versions"] == ["v1.0.0"]
    assert {f["name"] for f in report["features"]} >= set(records[0])
    assert git(path, "status", "--porcelain", "--untracked-files=all").strip() == ""  # --dry-run


# --- faults: the prediction log (issue 15 items 4 and 6) -----------------------------------


def post_body(port: int, body: bytes) -> tuple[int, dict[str, Any]]:
    return request(port, "/predict", body)


def json_lines(path: Path) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The log's records and its lines that are not records."""
    good, bad = [], []
    for raw_line in path.read_bytes().split(b"\n"):
        if not raw_line.strip():
            continue
        try:
            good.append(json.loads(raw_line))
        except ValueError:
            bad.append(raw_line)
    return good, bad


def assert_degraded(port: int, reason: str) -> None:
    status, health = request(port, "/health")
    assert status == 503 and health["status"] == "degraded", health
    assert "the prediction log" in health["reason"] and reason in health["reason"], health


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (root can mount one); None when mounting is impossible here."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    yield mount if done.returncode == 0 else None
    if done.returncode == 0:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_503_with_one_line_and_health_degraded_until_it_has_room(deployed, small_disk, tmp_path):
    """A real full file system: scoring stops with 503 (no traceback), /health says why, and the
    service recovers by itself once there is room; a line the disk cut short is a line of its own."""
    path = deployed["path"]
    records, _ = sample_records(path, 60)
    one, many = json.dumps(records[:1]).encode(), json.dumps(records).encode()
    if small_disk is None:  # no mount here: a log file that is /dev/full
        logs = tmp_path / "logs"
        logs.mkdir()
        from datetime import datetime

        (logs / f"predictions-{datetime.now(UTC):%Y-%m-%d}.jsonl").symlink_to("/dev/full")
    else:
        logs = small_disk / "logs"
    proc, port = start_server(["-C", str(path), "--log-dir", str(logs)], cwd=tmp_path, env=deployed["env"])
    filler = None if small_disk is None else small_disk / "filler"

    def fill(leave: int = 0) -> None:  # fill the disk to the last byte, then give back ``leave`` bytes
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        if leave:
            os.truncate(filler, filler.stat().st_size - leave)

    try:
        if filler is not None:
            assert post_body(port, one)[0] == 200
            fill(leave=8192)  # room for part of the big body, not all of it
        status, answer = post_body(port, many)
        assert status == 503, answer
        line = answer["error"]
        assert "cannot be written (No space left on device" in line and "\n" not in line, line
        assert "Traceback" not in json.dumps(answer)
        assert_degraded(port, "No space left on device")
        meta = request(port, "/metadata")[1]
        assert meta["log_failures"] == 1 and "No space left on device" in meta["degraded"]
        if filler is None:
            assert post_body(port, one)[0] == 503 and meta["records"] == 0
            return
        assert meta["records"] == 1  # what was not logged was not served
        assert len(json_lines(Path(meta["log"]))[0]) == 1  # and the part the disk took was cut off again
        assert post_body(port, one)[0] == 200  # it fits: the service is whole again by itself
        assert request(port, "/health") == (200, {"status": "ok", "version": "v1.0.0"})
        fill()  # (the log file's last page may still hold a line: the big body does not fit)
        assert post_body(port, many)[0] == 503
        assert_degraded(port, "No space left on device")
        filler.unlink()
        status, answer = post_body(port, one)
        assert status == 200 and len(answer["predictions"]) == 1
        assert request(port, "/health")[1]["status"] == "ok"
        meta = request(port, "/metadata")[1]
        good, bad = json_lines(Path(meta["log"]))
        assert len(good) == meta["records"] == 3 and meta["log_failures"] == 2 and not bad
    finally:
        stop(proc)


def test_an_unwritable_log_folder_is_refused_at_start_and_503_while_serving(deployed, tmp_path):
    path = deployed["path"]
    # at start: a log dir whose parent is a file, and a read-only folder (a read-only bind mount:
    # root writes through permissions)
    (tmp_path / "afile").write_text("x")
    line = one_line_error(run_cli("serve", "-C", str(path), "--port", str(free_port()),
                                  "--log-dir", str(tmp_path / "afile" / "logs"), cwd=tmp_path))
    assert "cannot write prediction logs to" in line and "choose a writable --log-dir" in line
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(readonly), str(readonly)], capture_output=True).returncode == 0
    try:
        if mounted and subprocess.run(["mount", "-o", "remount,bind,ro", str(readonly)],
                                      capture_output=True).returncode == 0:
            line = one_line_error(run_cli("serve", "-C", str(path), "--port", str(free_port()),
                                          "--log-dir", str(readonly), cwd=tmp_path))
            assert f"cannot write prediction logs to {readonly} (Read-only file system)" in line
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(readonly)], capture_output=True)

    # while serving: the log file becomes unwritable (immutable: root cannot write it either)
    records, _ = sample_records(path, 2)
    body = json.dumps(records).encode()
    logs = tmp_path / "logs"
    proc, port = start_server(["-C", str(path), "--log-dir", str(logs)], cwd=tmp_path, env=deployed["env"])
    log = None
    try:
        assert post_body(port, body)[0] == 200
        log = Path(request(port, "/metadata")[1]["log"])
        if subprocess.run(["chattr", "+i", str(log)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not possible on this file system")
        status, answer = post_body(port, body)
        assert status == 503 and "cannot be written (Operation not permitted)" in answer["error"], answer
        assert_degraded(port, "Operation not permitted")
        subprocess.run(["chattr", "-i", str(log)], check=True)
        assert post_body(port, body)[0] == 200
        assert request(port, "/health") == (200, {"status": "ok", "version": "v1.0.0"})
        assert len(json_lines(log)[0]) == 4 and not json_lines(log)[1]
    finally:
        if log is not None:
            subprocess.run(["chattr", "-i", str(log)], capture_output=True)
        stop(proc)


def _hammer(port: int, bodies: list[bytes], stop_at: float, sent: list[int]) -> None:
    i = 0
    while time.monotonic() < stop_at:
        try:
            status, _ = post_body(port, bodies[i % len(bodies)])
        except OSError:
            return  # the service was killed
        if status == 200:
            sent.append(i % len(bodies))
        i += 1


def test_kill_9_mid_write_leaves_at_most_a_half_line_that_monitor_skips(project_copy, deployed, tmp_path):
    import signal
    import threading

    path = project_copy
    records, _ = sample_records(path, 80)
    bodies = [json.dumps(records[:n]).encode() for n in (80, 33, 7, 61)]  # writes of 5-70 KB: many pages
    proc, port = start_server(["-C", str(path)], cwd=tmp_path, env=deployed["env"])
    try:
        sent: list[int] = []
        threads = [threading.Thread(target=_hammer, args=(port, bodies, time.monotonic() + 30, sent))
                   for _ in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(sent) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(timeout=60)
    finally:
        stop(proc)
    log = next((path / "monitoring" / "predictions").glob("predictions-*.jsonl"))
    lines = [ln for ln in log.read_bytes().split(b"\n") if ln.strip()]
    for raw_line in lines[:-1]:
        json.loads(raw_line)  # every line but the last is whole
    last_whole = True
    try:
        json.loads(lines[-1])
    except ValueError:
        last_whole = False
    done = subprocess.run([sys.executable, "-m", "workbench", "monitor", "--all", "--dry-run", "--json"],
                          cwd=path, capture_output=True, text=True, env={**os.environ, **deployed["env"]},
                          timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode in (0, 3), done.stderr
    report = json.loads(done.stdout)
    assert report["batch"]["rows"] == len(lines) - (0 if last_whole else 1) >= 20 * 7
    assert last_whole or any("half-written last line" in n for n in report["notes"]), report["notes"]


def test_two_services_on_one_project_never_tear_a_line(project_copy, deployed, tmp_path):
    import threading

    path = project_copy
    records, _ = sample_records(path, 90)
    bodies = [json.dumps(records[:n]).encode() for n in (90, 41, 3, 67, 12)]
    servers = [start_server(["-C", str(path)], cwd=tmp_path, env=deployed["env"]) for _ in range(2)]
    try:
        sent: list[int] = []
        stop_at = time.monotonic() + 8
        threads = [threading.Thread(target=_hammer, args=(port, bodies, stop_at, sent))
                   for _, port in servers for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        metas = [request(port, "/metadata")[1] for _, port in servers]
    finally:
        for proc, _ in servers:
            stop(proc)
    assert metas[0]["log"] == metas[1]["log"] and metas[0]["pid"] != metas[1]["pid"]
    good, bad = json_lines(Path(metas[0]["log"]))
    assert not bad
    total = sum(json.loads(bodies[i]).__len__() for i in sent)
    assert len(good) == total == metas[0]["records"] + metas[1]["records"] and metas[0]["records"] > 0
    pids_requests = {(g["request"], g["at"]) for g in good}
    assert len(pids_requests) > 10


def test_two_workers_share_the_port_the_counters_and_one_log_of_whole_lines(project_copy, deployed, tmp_path):
    """--workers 2 (issue 15 item 8): both processes answer, /metadata counts for the service, the
    log is one file of whole lines, and a kill -9 of the first process takes the other one down."""
    import signal
    import threading

    import psutil

    path = project_copy
    records, _ = sample_records(path, 70)
    bodies = [json.dumps(records[:n]).encode() for n in (70, 1, 29, 1, 55)]
    proc, port = start_server(["-C", str(path), "--workers", "2"], cwd=tmp_path, env=deployed["env"])
    try:
        workers = psutil.Process(proc.pid).children()
        assert len(workers) == 1
        sent: list[int] = []
        threads = [threading.Thread(target=_hammer, args=(port, bodies, time.monotonic() + 8, sent))
                   for _ in range(6)]
        for t in threads:
            t.start()
        pids = set()
        while any(t.is_alive() for t in threads):
            pids.add(request(port, "/metadata")[1]["pid"])
            time.sleep(0.05)
        meta = request(port, "/metadata")[1]
        assert pids == {proc.pid, workers[0].pid}  # both processes answered
        total = sum(len(json.loads(bodies[i])) for i in sent)
        assert meta["workers"] == 2 and meta["records"] == total and meta["requests"] == len(sent)
        good, bad = json_lines(Path(meta["log"]))
        assert not bad and len(good) == total
        assert len({g["request"] for g in good}) == len(sent)  # one request number per request, service-wide
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        workers[0].wait(timeout=30)  # the worker went with it
    finally:
        stop(proc)
    with socket.socket() as probe:  # nobody listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    line = one_line_error(run_cli("serve", "-C", str(path), "--workers", "0", "--port", str(free_port()), cwd=path))
    assert "--workers 0 is not possible here: use 1-32" in line


def test_a_tampered_model_is_refused_on_load(project_copy, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = project_copy
    out = tmp_path / "bundle"
    assert run_cli("model", "bundle", "v1.0.0", "--output", str(out), cwd=path).returncode == 0
    (out / "model.skops").unlink()
    sio.dump(FunctionTransformer(func=eval), out / "model.skops")
    port = free_port()
    done = run_cli("serve", "--bundle", str(out), "--port", str(port), "--log-dir", str(tmp_path / "logs"),
                   cwd=tmp_path, timeout=120)
    line = one_line_error(done)
    assert "contains type(s) the workbench does not trust: builtins.eval" in line
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)

    # the project's cached bundle is checked against dvc.lock and rebuilt from git + DVC
    from workbench.operations.bundle import ensure_bundle

    cached = ensure_bundle(path, "v1.0.0")
    (cached / "model.skops").unlink()
    sio.dump(FunctionTransformer(func=eval), cached / "model.skops")
    ensure_bundle(path, "v1.0.0")
    assert "builtins.eval" not in sio.get_untrusted_types(file=cached / "model.skops")


def test_serve_refusals_are_one_line(project_copy, deployed, tmp_path):
    path = project_copy
    line = one_line_error(run_cli("serve", "--stage", "staging", "--port", str(free_port()), cwd=path))
    assert "no model version is in staging" in line
    line = one_line_error(run_cli("serve", "--version", "v2.0.0", "--port", str(free_port()), cwd=path))
    assert "model v2.0.0 is not registered" in line
    line = one_line_error(run_cli("serve", "--port", str(deployed["port"]), cwd=path))
    assert f"cannot listen on 127.0.0.1:{deployed['port']}" in line
    line = one_line_error(run_cli("serve", "--port", "70000", cwd=path))
    assert "is not a port number" in line


# --- batch scoring ------------------------------------------------------------------------


def test_predict_scores_csv_and_parquet_with_the_same_schema_check(project_copy, deployed, tmp_path):
    import pandas as pd

    path = project_copy
    records, frame = sample_records(path, 30)
    data = pd.DataFrame(records)
    data.insert(0, "patient_id", [f"p{i}" for i in range(len(data))])
    csv_in = tmp_path / "batch.csv"
    data.to_csv(csv_in, index=False)
    out = tmp_path / "scored.parquet"
    done = run_cli("predict", str(csv_in), "--output", str(out), "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["rows"] == 30 and result["version"] == "v1.0.0" and result["passthrough"] == ["patient_id"]
    scored = pd.read_parquet(out)
    assert list(scored.columns) == [*data.columns, "prediction", "score"]
    assert scored["patient_id"].tolist() == data["patient_id"].tolist()
    status, served = post(deployed["port"], records)
    assert scored["prediction"].tolist() == [p["prediction"] for p in served["predictions"]]
    assert scored["score"].tolist() == pytest.approx([p["score"] for p in served["predictions"]], rel=1e-9)

    from workbench.errors import WorkbenchError
    from workbench.operations.predict import score_file

    pq_in = tmp_path / "batch.parquet"
    data.to_parquet(pq_in, index=False)
    csv_out = tmp_path / "scored.csv"
    seen: list[tuple[int, int]] = []
    done = score_file(path, pq_in, csv_out, version="v1.0.0", progress=lambda d, t: seen.append((d, t)))
    assert done.rows == 30 and len(pd.read_csv(csv_out)) == 30 and seen[-1] == (30, 30)

    bad = data.astype({"mean_radius": object})
    bad.loc[4, "mean_radius"] = "twelve"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    line = one_line_error(run_cli("predict", str(tmp_path / "bad.csv"), "-o", str(tmp_path / "o.csv"), cwd=path))
    assert "column 'mean_radius', row 5: 'twelve' is not a number" in line
    data.drop(columns=["worst_area"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(WorkbenchError, match=r"lacks the feature column\(s\) worst_area"):
        score_file(path, tmp_path / "short.csv", tmp_path / "o.csv")
    with pytest.raises(WorkbenchError, match="neither .csv nor .parquet"):
        score_file(path, csv_in, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.xlsx").exists()


# --- the scorer on every feature type and model family --------------------------------------


@pytest.mark.parametrize(("task", "model"), [
    ("classification", "logistic_regression"), ("classification", "random_forest"),
    ("classification", "hist_gradient_boosting"), ("classification", "ridge"), ("regression", "ridge"),
])
def test_scorer_fast_path_matches_the_pipeline_on_every_feature_type(tmp_path, task, model):
    import numpy as np
    import pandas as pd
    import skops.io as sio

    from workbench.development.models import DEFAULT_PARAMS
    from workbench.development.stages import build_pipeline, coerce_features
    from workbench.operations.bundle import schema_from_params
    from workbench.operations.predict import Scorer

    rng = np.random.default_rng(7)
    n = 300
    raw = pd.DataFrame({
        "amount": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 20, n)),
        "channel": rng.choice(["web", "shop", "phone", None], n),
        "store": rng.choice([1, 2, 3], n),
        "note": rng.choice(["late delivery again", "card declined twice", "all good", ""], n),
        "when": pd.date_range("2024-01-01", periods=n, freq="7h").astype(str),
    })
    y = (raw["amount"].fillna(50) > 55).astype(int) if task == "classification" else raw["amount"].fillna(0) * 2
    features = {"amount": "numeric", "channel": "categorical", "store": "categorical", "note": "text",
                "when": "datetime"}
    name = model if task == "classification" or model != "logistic_regression" else "ridge"
    params = {"task": task, "target": "y", "positive_class": 1, "features": features,
              "split": {"seed": 1}, "model": {"name": name, "params": dict(DEFAULT_PARAMS[name])},
              "preprocessing": {"numeric": {"impute": "median", "scale": "standard"},
                                "categorical": {"impute": "most_frequent"},
                                "text": {"tfidf": {"max_features": 50, "ngram_range": [1, 1]}}}}
    if name in ("random_forest",):
        params["model"]["params"]["n_estimators"] = 10
    pipeline = build_pipeline(params).fit(coerce_features(raw, features), y)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    sio.dump(pipeline, bundle / "model.skops")
    (bundle / "schema.json").write_text(json.dumps(schema_from_params(params)))
    (bundle / "metadata.json").write_text(json.dumps({"version": "v0.1.0"}))
    scorer = Scorer.load(bundle)
    assert scorer.fast is not None
    records = [{"amount": None if pd.isna(a) else float(a), "channel": None if pd.isna(c) else c,
                "store": int(s), "note": t, "when": w}
               for a, c, s, t, w in raw.head(25).itertuples(index=False)]
    records += [{"amount": 1e6, "channel": "unseen", "store": 9, "note": None, "when": None}]
    records = scorer.parse(json.dumps(records).encode())
    got = scorer.predict_records(records)
    frame = coerce_features(pd.DataFrame([{**r, "when": r["when"]} for r in records]), features)
    want = pipeline.predict(frame)
    if task == "classification" and hasattr(pipeline, "predict_proba"):
        assert [g["prediction"] for g in got] == want.tolist()
        proba = pipeline.predict_proba(frame)[:, 1]
        assert np.allclose([g["score"] for g in got], proba, rtol=1e-9, atol=1e-12)
    else:
        assert np.allclose([g["prediction"] for g in got], want, rtol=1e-9)
    bad = [{**records[0], "when": "yesterday"}]
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="ISO 8601"):
        scorer.parse(json.dumps(bad).encode())
