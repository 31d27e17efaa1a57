"""``POST /predict`` of ``mlops-workbench serve`` against its own stack's limit and MLflow (issue 15).

Builds the diagnosis sample in a temporary folder (pipeline, ``dvc repro``: scaler +
logistic regression on 30 features), registers it, then measures in one run:

* the model's in-process ``predict`` on a one-row DataFrame, and its batch predict of
  10,000 rows read from CSV;
* a constant-answer endpoint of the same stack (uvicorn + a raw ASGI front reading the body
  and answering a fixed prediction): the limit the service can approach;
* ``mlops-workbench serve`` with 1 and 2 workers, ``wrk`` on loopback at 1 and 8
  connections (one record per request): requests/s, p50, p99; a 10,000-row CSV body;
  ``GET /health`` while 50 wrk connections post predictions;
* ``mlflow models serve --env-manager local -w 1`` of the same fitted model, from MLflow's
  own virtual environment, built on first use in ``~/.cache/mlops-workbench-bench``.

Rows and targets: req/s at 8 connections >= 10x MLflow's and >= 0.7x the constant
endpoint's; 2 workers >= 1 worker; p99 at 8 connections <= 5 ms; p50 at 1 connection <=
the in-process predict of one row; the CSV body <= 1.5x the in-process batch; /health p99
under 50 predict clients <= 50 ms. Exits 1 when a target is missed. ``wrk`` is installed
from Debian's package on first use (as root), else its rows say "skipped".

    python benchmarks/bench_serving.py [--seconds 10] [--mlflow-python PATH] [--keep]
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
MLFLOW = "3.17.2"
RPS_TARGET = 10.0
CONSTANT_TARGET = 0.7
P99_MS = 5.0
CSV_TARGET = 1.5
HEALTH_P99_MS = 50.0
ROWS = [
    ("serve /predict req/s at 8 connections vs mlflow", f">= {RPS_TARGET:.0f}"),
    ("serve /predict req/s at 8 connections vs a constant endpoint of the same stack", f">= {CONSTANT_TARGET}"),
    ("serve --workers 2 /predict req/s at 8 connections vs 1 worker", ">= 1"),
    ("serve /predict p99 at 8 connections", f"<= {P99_MS:.0f} ms"),
    ("serve /predict p50 at 1 connection vs in-process predict of one row", "<= 1"),
    ("serve 10,000-row CSV body vs in-process batch predict", f"<= {CSV_TARGET}"),
    ("serve GET /health p99 under 50 concurrent predict clients", f"<= {HEALTH_P99_MS:.0f} ms"),
]

_CONSTANT = r"""
import sys, uvicorn
ANSWER = b'{"model":"model","version":"v1.0.0","predictions":[{"prediction":0,"score":0.5}]}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while True:  # read the body, as the service does
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]})
    await send({"type": "http.response.body", "body": ANSWER})
port = int(sys.argv[sys.argv.index("--port") + 1])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, server_header=False,
            lifespan="off")
"""

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


def ensure_wrk() -> str:
    """wrk from Debian's package, installed on first use (root: apt-get); '' when it is there."""
    if shutil.which("wrk"):
        return ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "skipped: wrk is not installed (apt-get install wrk)"
    print("installing wrk from Debian's package (once)", flush=True)
    for cmd in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "wrk"]):
        subprocess.run(cmd, capture_output=True, timeout=900, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if shutil.which("wrk"):
            return ""
    return "skipped: wrk could not be installed (apt-get install wrk)"


def mlflow_python(override: str | None) -> tuple[Path | None, str]:
    """MLflow's own venv (it pins other versions), built on first use; (None, reason) when that fails."""
    if override:
        return (Path(override), "") if Path(override).exists() else (None, f"no python at {override}")
    from importlib.metadata import version as installed

    cache = Path(os.environ.get("MLOPS_WORKBENCH_BENCH_CACHE", Path.home() / ".cache" / "mlops-workbench-bench"))
    venv = cache / f"mlflow-{MLFLOW}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import mlflow.sklearn, skops.io"]
    if python.exists() and subprocess.run(probe, capture_output=True, timeout=300).returncode == 0:
        return python, ""
    cache.mkdir(parents=True, exist_ok=True)
    print(f"building the MLflow venv in {venv} (once)", flush=True)
    steps = [[os.environ.get("BENCH_PYTHON3", "python3"), "-m", "venv", "--clear", str(venv)],
             [str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW}",
              f"scikit-learn=={installed('scikit-learn')}", f"skops=={installed('skops')}"]]
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"could not build the MLflow venv ({exc})"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"could not build the MLflow venv ({' '.join(cmd[:4])}: {last})"
    if subprocess.run(probe, capture_output=True, timeout=300).returncode != 0:
        return None, "MLflow does not import in its venv"
    return python, ""


def verdict_of(ok: bool) -> str:
    return "ok" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON"),
                        help="a python with mlflow (default: a venv built on first use)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    why = ensure_wrk()
    if why:
        print(f"serving benchmark not measured: {why}", flush=True)
        for figure, target in ROWS:
            line(figure, "not measured", "-", "-", target, why)
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    procs: list[subprocess.Popen] = []
    ok = True
    try:
        print("building the diagnosis project (pipeline, dvc repro, register)...", flush=True)
        path = build_project(base)
        import pandas as pd

        test = pd.read_parquet(path / "data/prepared/test.parquet")
        features = [c for c in test.columns if c != "diagnosis"]
        record = test[features].iloc[0].to_dict()
        body = base / "body.json"
        body.write_text(json.dumps([record]))
        lua = base / "post.lua"
        lua.write_text(_LUA.format(body=body))
        local = in_process(path, record)
        print(f"in-process: pipeline predict on one row p50 {local['predict']:.3f} ms; the service's parse + "
              f"predict path p50 {local['scorer']:.3f} ms", flush=True)

        def start(argv: list[str], health: str) -> tuple[subprocess.Popen, int]:
            port = free_port()
            proc = subprocess.Popen([*argv, "--port", str(port)], cwd=path, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{port}{health}", proc)
            return proc, port

        # the stack's own limit: the same uvicorn + ASGI front answering a constant
        const, cport = start([sys.executable, "-c", _CONSTANT], "/health")
        curl = f"http://127.0.0.1:{cport}/predict"
        wrk(curl, lua, 8, 2)
        constant = {c: wrk(curl, lua, c, args.seconds) for c in (1, 8)}
        stop(const)
        print(f"constant-answer endpoint (uvicorn, one process): {constant[8]['rps']:.0f} req/s at 8, "
              f"p50 {constant[1]['p50']:.2f} ms at 1", flush=True)

        ours: dict[int, dict[int, dict[str, float]]] = {}
        health: dict[str, float] = {}
        for workers in (1, 2):
            serve, port = start([sys.executable, "-m", "workbench", "serve", "--version", "v1.0.0",
                                 "--workers", str(workers), "--max-body-bytes", str(64 << 20),
                                 "--log-dir", str(base / f"logs-{workers}")], "/health")
            url = f"http://127.0.0.1:{port}/predict"
            wrk(url, lua, 8, 2)  # warm up
            ours[workers] = {c: wrk(url, lua, c, args.seconds) for c in (1, 8)}
            if workers == 1:
                health = health_under_load(port, lua, args.seconds)
                csv_ms, batch_ms = csv_batch(port, path, test[features])
            stop(serve)
            for c, r in ours[workers].items():
                print(f"mlops-workbench serve --workers {workers}, {c} connection(s): {r['rps']:.0f} req/s, "
                      f"p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms", flush=True)
        print(f"GET /health under 50 predict clients ({health['rps']:.0f} predictions/s): {health['n']} probes, "
              f"p50 {health['p50']:.2f} ms, p99 {health['p99']:.2f} ms", flush=True)

        theirs: dict[int, dict[str, float]] | None = None
        mlflow, why = mlflow_python(args.mlflow_python)
        if mlflow is not None:
            model_dir = base / "mlflow-model"
            subprocess.run([str(mlflow), "-c", _MLFLOW_SAVE, str(path / "models/model.skops"),
                            str(model_dir)], check=True, capture_output=True, timeout=300)
            split = {"dataframe_split": {"columns": features, "data": [[record[f] for f in features]]}}
            mbody = base / "mlflow-body.json"
            mbody.write_text(json.dumps(split))
            mlua = base / "mlflow.lua"
            mlua.write_text(_LUA.format(body=mbody))
            mport = free_port()
            env = {**os.environ, "PATH": str(mlflow.parent) + os.pathsep + os.environ.get("PATH", "")}
            server = subprocess.Popen([str(mlflow.parent / "mlflow"), "models", "serve", "-m", str(model_dir),
                                       "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mport), "-w", "1"],
                                      cwd=base, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(server)
            wait_http(f"http://127.0.0.1:{mport}/ping", server, timeout=180)
            murl = f"http://127.0.0.1:{mport}/invocations"
            wrk(murl, mlua, 8, 2)
            theirs = {c: wrk(murl, mlua, c, args.seconds) for c in (1, 8)}
            stop(server)
            for c, r in theirs.items():
                print(f"mlflow models serve -w 1, {c} connection(s): {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, "
                      f"p99 {r['p99']:.2f} ms", flush=True)

        one, best = ours[1], max(ours.values(), key=lambda r: r[8]["rps"])
        if theirs is None:
            line(ROWS[0][0], f"{one[8]['rps']:.0f} req/s", "not measured", "-", ROWS[0][1], f"skipped: {why}")
        else:
            ratio = one[8]["rps"] / theirs[8]["rps"]
            ok &= ratio >= RPS_TARGET
            line(ROWS[0][0], f"{one[8]['rps']:.0f} req/s", f"{theirs[8]['rps']:.0f} req/s (mlflow -w 1)",
                 f"{ratio:.2f}", ROWS[0][1], verdict_of(ratio >= RPS_TARGET))
        ratio = one[8]["rps"] / constant[8]["rps"]
        ok &= ratio >= CONSTANT_TARGET
        line(ROWS[1][0], f"{one[8]['rps']:.0f} req/s", f"{constant[8]['rps']:.0f} req/s constant", f"{ratio:.2f}",
             ROWS[1][1], verdict_of(ratio >= CONSTANT_TARGET))
        ratio = ours[2][8]["rps"] / one[8]["rps"]
        line(ROWS[2][0], f"{ours[2][8]['rps']:.0f} req/s", f"{one[8]['rps']:.0f} req/s (1 worker)", f"{ratio:.2f}",
             ROWS[2][1], "ok" if ratio >= 1 else "MISS")
        ok &= ratio >= 1
        p99 = best[8]["p99"]
        ok &= p99 <= P99_MS
        line(ROWS[3][0], f"{p99:.2f} ms", f"{constant[8]['p99']:.2f} ms constant", f"{p99 / constant[8]['p99']:.2f}",
             ROWS[3][1], verdict_of(p99 <= P99_MS))
        ratio = one[1]["p50"] / local["predict"]
        ok &= ratio <= 1.0
        line(ROWS[4][0], f"{one[1]['p50']:.3f} ms", f"{local['predict']:.3f} ms in-process", f"{ratio:.2f}",
             ROWS[4][1], verdict_of(ratio <= 1.0))
        ratio = csv_ms / batch_ms
        ok &= ratio <= CSV_TARGET
        line(ROWS[5][0], f"{csv_ms:.1f} ms", f"{batch_ms:.1f} ms in-process batch", f"{ratio:.2f}", ROWS[5][1],
             verdict_of(ratio <= CSV_TARGET))
        ok &= health["p99"] <= HEALTH_P99_MS
        line(ROWS[6][0], f"{health['p99']:.2f} ms", f"{health['rps']:.0f} predictions/s alongside", "-",
             ROWS[6][1], verdict_of(health["p99"] <= HEALTH_P99_MS))
        return 0 if ok else 1
    finally:
        for proc in procs:
            stop(proc)
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
            shutil.rmtree(Path(str(base) + ".dvc-storage"), ignore_errors=True)


def csv_batch(port: int, path: Path, frame) -> tuple[float, float]:
    """Median ms of POSTing 10,000 rows as CSV, and of the in-process batch predict of the same rows."""
    import http.client
    import io

    import pandas as pd

    from workbench.development.stages import coerce_features, read_params
    from workbench.operations.bundle import ensure_bundle
    from workbench.operations.predict import Scorer

    rows = pd.concat([frame] * (10_000 // len(frame) + 1), ignore_index=True).head(10_000)
    body = rows.to_csv(index=False).encode()
    scorer = Scorer.load(ensure_bundle(path, "v1.0.0"))
    kinds = read_params(path)["features"]

    def batch() -> None:
        scorer.predict_frame(coerce_features(pd.read_csv(io.BytesIO(body)), kinds))

    def post() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/predict", body=body, headers={"Content-Type": "text/csv"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        if resp.status != 200:
            raise RuntimeError(f"the 10,000-row CSV body got {resp.status}")

    def median_ms(func, n: int = 5) -> float:
        func()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            func()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    return median_ms(post), median_ms(batch)


if __name__ == "__main__":
    raise SystemExit(main())
