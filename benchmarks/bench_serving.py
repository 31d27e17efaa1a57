"""Single-record ``POST /predict`` of ``mlops-workbench serve`` against MLflow on the same model.

Builds the diagnosis sample in a temporary folder (pipeline, ``dvc repro``: scaler +
logistic regression on 30 features, the model BENCHMARKS.md's MLflow figure used),
registers it, then measures in one run:

* the model's in-process ``predict`` on a one-row DataFrame (the reference for "added");
* ``mlops-workbench serve`` (uvicorn, one process) with ``wrk`` on loopback at 1 and 8
  connections: requests per second, p50 and p99;
* ``mlflow models serve --env-manager local`` of the same fitted model, same wrk runs, from
  a benchmark-only virtual environment (MLflow needs its own: it pins other versions).

Targets: requests/s at 8 connections >= 2x MLflow's; p50 at 1 connection at most 1 ms
above the in-process predict. Exits 1 when a target is missed.

    python benchmarks/bench_serving.py [--seconds 10] [--mlflow-python PATH] [--keep]

MLflow's venv (default ``/tmp/mlflow-bench-venv``, or ``$MLFLOW_PYTHON``)::

    python -m venv /tmp/mlflow-bench-venv
    /tmp/mlflow-bench-venv/bin/pip install "mlflow==3.17.*" scikit-learn==<same> skops==<same>

Without it (or without ``wrk``: ``apt-get install wrk``) the affected rows are printed
as "not measured" and the rest still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RPS_TARGET = 2.0
ADDED_P50_MS = 1.0
HEALTH_P99_MS = 50.0
DEFAULT_MLFLOW = "/tmp/mlflow-bench-venv/bin/python"

_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "r")
wrk.body = f:read("*a")
f:close()
"""

_MLFLOW_SAVE = r"""
import sys, skops.io as sio, mlflow.sklearn
model_file, out = sys.argv[1], sys.argv[2]
model = sio.load(model_file, trusted=sio.get_untrusted_types(file=model_file))
mlflow.sklearn.save_model(model, out, serialization_format="pickle")
"""


def line(figure: str, value: str, reference: str, ratio: str, target: str, verdict: str) -> None:
    print(f"{figure}: {value} vs reference {reference} -> ratio {ratio} (target {target}) {verdict}", flush=True)
    print(f"BENCH|{figure}|{value}|{reference}|{ratio}|{target}|{verdict}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, lua: Path, connections: int, seconds: int) -> dict[str, float]:
    """requests/s, p50 and p99 (ms) of one wrk run; non-2xx answers make it fail."""
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua),
                          url], capture_output=True, text=True, timeout=seconds + 60).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error answers from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    return {"rps": rps, "p50": p50, "p99": p99}


def health_under_load(port: int, lua: Path, seconds: int, clients: int = 50) -> dict[str, float]:
    """p50/p99 (ms) of GET /health, one at a time, while ``clients`` wrk connections post predictions."""
    import http.client

    load = subprocess.Popen(["wrk", "-t2", f"-c{clients}", f"-d{seconds + 2}s", "-s", str(lua),
                             f"http://127.0.0.1:{port}/predict"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # let the load build up
        times: list[float] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at:
            t = time.perf_counter()
            conn.request("GET", "/health")
            resp = conn.getresponse()
            resp.read()
            times.append(time.perf_counter() - t)
            if resp.status != 200:
                raise RuntimeError(f"/health answered {resp.status} under load")
            time.sleep(0.005)
        conn.close()
    finally:
        out = load.communicate(timeout=seconds + 60)[0]
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error answers under the health load:\n{out}")
    times.sort()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50": times[len(times) // 2] * 1000, "p99": times[int(len(times) * 0.99)] * 1000,
            "n": len(times), "rps": rps}


def build_project(base: Path) -> Path:
    """The diagnosis sample, trained with dvc repro, committed and registered as v1.0.0."""
    os.environ.setdefault("GIT_AUTHOR_NAME", "Bench Mark")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", os.environ["GIT_AUTHOR_NAME"])
    os.environ.setdefault("GIT_COMMITTER_EMAIL", os.environ["GIT_AUTHOR_EMAIL"])
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    from workbench.development.pipeline import configure_pipeline
    from workbench.new_project import create_from_sample
    from workbench.versioning.registry import register_model

    path = base / "diagnosis"
    create_from_sample("diagnosis", path, remote=str(base / "storage"))
    configure_pipeline(path)
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=path, check=True, capture_output=True)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "Training & experiments: bench\n\nWorkbench-Step: training\n"
                    "Workbench-Role: data_scientist"], cwd=path, check=True)
    register_model(path)
    return path


def in_process(path: Path, record: dict) -> dict[str, float]:
    """p50 (ms) of the pipeline's predict on a one-row frame, and of the scorer's whole request path."""
    import pandas as pd

    from workbench.operations.bundle import ensure_bundle
    from workbench.operations.predict import Scorer

    scorer = Scorer.load(ensure_bundle(path, "v1.0.0"))
    row = pd.DataFrame([record])
    body = json.dumps([record]).encode()

    def p50(func, n: int = 3000) -> float:
        for _ in range(200):
            func()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            func()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    return {"predict": p50(lambda: scorer.model.predict(row)),
            "scorer": p50(lambda: scorer.predict_records(scorer.parse(body)))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON", DEFAULT_MLFLOW))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        why = "skipped: wrk is not installed (apt-get install wrk)"
        print(f"serving benchmark not measured: {why}", flush=True)
        line("serve /predict req/s at 8 connections vs mlflow", "not measured", "-", "-", f">= {RPS_TARGET}", why)
        line("serve /predict p50 at 1 connection minus in-process predict", "not measured", "-", "-",
             f"<= {ADDED_P50_MS} ms added", why)
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    procs: list[subprocess.Popen] = []
    ok = True
    try:
        print("building the diagnosis project (pipeline, dvc repro, register)...", flush=True)
        path = build_project(base)
        import pandas as pd

        features = [c for c in pd.read_parquet(path / "data/prepared/test.parquet").columns if c != "diagnosis"]
        record = pd.read_parquet(path / "data/prepared/test.parquet")[features].iloc[0].to_dict()
        body = base / "body.json"
        body.write_text(json.dumps([record]))
        lua = base / "post.lua"
        lua.write_text(_LUA.format(body=body))
        local = in_process(path, record)
        print(f"in-process: pipeline predict on one row p50 {local['predict']:.3f} ms; the service's parse + "
              f"predict path p50 {local['scorer']:.3f} ms", flush=True)

        port = free_port()
        serve = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--version", "v1.0.0", "--port",
                                  str(port), "--log-dir", str(base / "logs")], cwd=path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(serve)
        wait_http(f"http://127.0.0.1:{port}/health", serve)
        url = f"http://127.0.0.1:{port}/predict"
        wrk(url, lua, 8, 2)  # warm up
        ours = {c: wrk(url, lua, c, args.seconds) for c in (1, 8)}
        health = health_under_load(port, lua, args.seconds)
        stop(serve)
        print(f"GET /health under 50 predict clients ({health['rps']:.0f} predictions/s): {health['n']} probes, "
              f"p50 {health['p50']:.2f} ms, p99 {health['p99']:.2f} ms", flush=True)
        verdict = "ok" if health["p99"] <= HEALTH_P99_MS else "MISS"
        ok &= verdict == "ok"
        line("serve GET /health p99 under 50 concurrent predict clients", f"{health['p99']:.2f} ms",
             f"{health['rps']:.0f} predictions/s alongside", "-", f"<= {HEALTH_P99_MS:.0f} ms", verdict)
        for c, r in ours.items():
            print(f"mlops-workbench serve, {c} connection(s): {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, "
                  f"p99 {r['p99']:.2f} ms", flush=True)

        theirs: dict[int, dict[str, float]] | None = None
        mlflow_python = Path(args.mlflow_python)
        if not mlflow_python.exists():
            print(f"mlflow not measured: no MLflow venv at {mlflow_python} (see this file's docstring)", flush=True)
        else:
            model_dir = base / "mlflow-model"
            subprocess.run([str(mlflow_python), "-c", _MLFLOW_SAVE, str(path / "models/model.skops"),
                            str(model_dir)], check=True, capture_output=True, timeout=300)
            split = {"dataframe_split": {"columns": features, "data": [[record[f] for f in features]]}}
            mbody = base / "mlflow-body.json"
            mbody.write_text(json.dumps(split))
            mlua = base / "mlflow.lua"
            mlua.write_text(_LUA.format(body=mbody))
            mport = free_port()
            mlflow_bin = str(mlflow_python.parent / "mlflow")
            env = {**os.environ, "PATH": str(mlflow_python.parent) + os.pathsep + os.environ.get("PATH", "")}
            server = subprocess.Popen([mlflow_bin, "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                                       "-h", "127.0.0.1", "-p", str(mport), "-w", "1"], cwd=base, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(server)
            wait_http(f"http://127.0.0.1:{mport}/ping", server, timeout=180)
            murl = f"http://127.0.0.1:{mport}/invocations"
            wrk(murl, mlua, 8, 2)
            theirs = {c: wrk(murl, mlua, c, args.seconds) for c in (1, 8)}
            stop(server)
            for c, r in theirs.items():
                print(f"mlflow models serve, {c} connection(s): {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, "
                      f"p99 {r['p99']:.2f} ms", flush=True)

        if theirs is None:
            line("serve /predict req/s at 8 connections vs mlflow", f"{ours[8]['rps']:.0f} req/s",
                 "not measured", "-", f">= {RPS_TARGET}", f"skipped: no MLflow venv at {mlflow_python}")
        else:
            ratio = ours[8]["rps"] / theirs[8]["rps"]
            verdict = "ok" if ratio >= RPS_TARGET else "MISS"
            ok &= verdict == "ok"
            line("serve /predict req/s at 8 connections vs mlflow", f"{ours[8]['rps']:.0f} req/s",
                 f"{theirs[8]['rps']:.0f} req/s", f"{ratio:.2f}", f">= {RPS_TARGET}", verdict)
            line("serve /predict req/s at 1 connection vs mlflow", f"{ours[1]['rps']:.0f} req/s",
                 f"{theirs[1]['rps']:.0f} req/s", f"{ours[1]['rps'] / theirs[1]['rps']:.2f}", ">= 1", "ok"
                 if ours[1]["rps"] >= theirs[1]["rps"] else "MISS")
        print(f"HTTP cost over the service's own in-process parse + predict at 1 connection: "
              f"{ours[1]['p50'] - local['scorer']:.3f} ms (p50)", flush=True)
        added = ours[1]["p50"] - local["predict"]
        verdict = "ok" if added <= ADDED_P50_MS else "MISS"
        ok &= verdict == "ok"
        line("serve /predict p50 at 1 connection minus in-process predict", f"{added:.3f} ms",
             f"{local['predict']:.3f} ms in-process", f"{ours[1]['p50'] / local['predict']:.2f}",
             f"<= {ADDED_P50_MS} ms added", verdict)
        return 0 if ok else 1
    finally:
        for proc in procs:
            stop(proc)
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
            shutil.rmtree(Path(str(base) + ".dvc-storage"), ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
