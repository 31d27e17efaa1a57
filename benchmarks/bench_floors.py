"""Command floors (issue 19, item 1): each everyday command against its floor, in the same run.

The floor of a command is a fresh Python process that imports only what that command cannot
do without and does the same file reads (and, where the command runs git, the same git
call): YAML and JSON for ``status``, ``history``, ``review show``, ``model list`` and
``check`` (``status`` and ``history`` list the tags as well: the registry's state and the
timeline's registry and experiment entries come from them; ``history`` reads
``workbench.yaml``, as it checks the folder is a project); the same plus writing and committing a markdown file for ``review card``;
pandas + ``skops.io`` (hence scikit-learn) to load the model and score 100 rows for
``predict``; the same load plus copying the bundle's files for ``model bundle``; pandas,
SciPy and the model for ``monitor`` (a 3,000-row batch: two-sample KS per column, scoring
the labelled rows); FastAPI + uvicorn + the model until ``/health`` answers for ``serve``.

Both sides run alternately, ``--runs`` times each after one warm-up of each (the OS file
cache warm, bytecode compiled), and the medians are compared. Target: each command within
1.5x its floor.

The project is the ``diagnosis`` sample with its pipeline run by ``dvc repro`` and
committed (as ``tests/test_registry.py`` builds it), evidence written as the validation and
review steps write it, v1.0.0 registered and promoted to production, and a data check on
record. It lives in a temporary folder removed at the end.

    python benchmarks/bench_floors.py [--runs 3] [--only status ...] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import report  # noqa: E402

TARGET = 1.5
PY = sys.executable
QUICK = os.environ.get("MLOPS_WORKBENCH_BENCH_QUICK") == "1"

# --- floors: what each command cannot do without ---------------------------------------

_READ_PROJECT = """
import json, subprocess, yaml
from pathlib import Path
root = Path(".")
config = yaml.safe_load((root / "workbench.yaml").read_text()) if (root / "workbench.yaml").exists() else {}
params = yaml.safe_load((root / "params.yaml").read_text())
lock = yaml.safe_load((root / "dvc.lock").read_text())
reports = {p.name: json.loads(p.read_text()) for p in (root / "reports").glob("*.json")}
"""

FLOORS = {
    "status": _READ_PROJECT + """
subprocess.run(["git", "log", "--format=%H%x00%s%x00%b", "-n", "200"], capture_output=True, check=True)
subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/tags"], capture_output=True, check=True)
print(len(reports))
""",
    "history": """
import subprocess, yaml
yaml.safe_load(open("workbench.yaml"))
out = subprocess.run(["git", "log", "--format=%H%x00%an%x00%at%x00%s%x00%b%x1e"], capture_output=True,
                     text=True, check=True).stdout
refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%1e",
                       "refs/tags", "refs/exps"], capture_output=True, text=True, check=True).stdout
print(len(out.split("\\x1e")) + len(refs.split("\\x1e")))
""",
    "review card": _READ_PROJECT + """
import hashlib, os
text = "# card\\n" + json.dumps([params, lock, reports], default=str)
Path("reports/model_card.md.tmp").write_text(text)
os.replace("reports/model_card.md.tmp", "reports/model_card.md")
subprocess.run(["git", "add", "reports/model_card.md"], check=True)
subprocess.run(["git", "commit", "-q", "-m", "floor: card"], check=True)
""",
    "review show": _READ_PROJECT + """
import hashlib
print(hashlib.md5((root / "reports/validation.json").read_bytes()).hexdigest())
""",
    "model list": """
import subprocess, yaml
yaml.safe_load(open("params.yaml"))
out = subprocess.run(["git", "for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)", "refs/tags"],
                     capture_output=True, text=True, check=True).stdout
print(len(out))
""",
    "check": _READ_PROJECT + """
import hashlib
for stage in lock.get("stages", {}).values():
    for dep in stage.get("deps", []):
        p = Path(dep["path"])
        if p.is_file():
            hashlib.md5(p.read_bytes()).hexdigest()
""",
    "predict": """
import pandas as pd, skops.io as sio
untrusted = sio.get_untrusted_types(file="models/model.skops")
model = sio.load("models/model.skops", trusted=untrusted)
frame = pd.read_csv(INPUT)
out = frame.assign(prediction=model.predict(frame))
out.to_csv(OUTPUT, index=False)
""",
    "model bundle": """
import json, shutil, skops.io as sio, yaml
from pathlib import Path
untrusted = sio.get_untrusted_types(file="models/model.skops")
model = sio.load("models/model.skops", trusted=untrusted)
out = Path(OUTPUT); out.mkdir(parents=True)
shutil.copyfile("models/model.skops", out / "model.skops")
shutil.copyfile("reports/model_card.md", out / "model_card.md")
(out / "schema.json").write_text(json.dumps(yaml.safe_load(open("params.yaml"))))
""",
    "monitor": """
import json, pandas as pd, skops.io as sio
from scipy import stats
untrusted = sio.get_untrusted_types(file="models/model.skops")
model = sio.load("models/model.skops", trusted=untrusted)
ref = pd.read_csv("data/breast_cancer.csv")
batch = pd.read_csv(INPUT)
for col in ref.select_dtypes("number").columns:
    stats.ks_2samp(ref[col].dropna(), batch[col].dropna())
model.predict(batch)
""",
    "serve": """
import skops.io as sio, uvicorn
from fastapi import FastAPI
untrusted = sio.get_untrusted_types(file="models/model.skops")
model = sio.load("models/model.skops", trusted=untrusted)
app = FastAPI()
@app.get("/health")
def health():
    return {"status": "ok"}
uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
""",
}


def _env(home: Path) -> dict[str, str]:
    # bytecode is written as a person's install writes it: PYTHONDONTWRITEBYTECODE (set in
    # some shells and CI) would make every run of the command compile the workbench's source
    # again while the floor's libraries load from their installed .pyc files
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
            "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1", "PATH": str(Path(PY).parent) + os.pathsep
            + os.environ.get("PATH", "")}


def _run(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stdout[-800:]}{done.stderr[-800:]}")
    return done.stdout


def make_project(work: Path, env: dict[str, str]) -> Path:
    """The diagnosis sample trained by dvc repro, with evidence, v1.0.0 in production and a data check."""
    project = work / "diagnosis"
    wb = [PY, "-m", "workbench"]
    _run([*wb, "new", str(project), "--sample", "diagnosis"], work, env)
    _run([PY, "-c", "import sys; from workbench.development.pipeline import configure_pipeline; "
          "configure_pipeline(sys.argv[1])", str(project)], work, env)
    _run([PY, "-m", "dvc", "repro", "-q"], project, env)
    _run(["git", "add", "-A"], project, env)
    _run(["git", "commit", "-q", "-m", "Training & experiments: logistic regression\n\n"
          "Workbench-Step: training\nWorkbench-Role: data_scientist"], project, env)
    _run([PY, "-c", _EVIDENCE], project, env)
    _run([*wb, "model", "register"], project, env)
    _run([*wb, "model", "promote", "v1.0.0", "--stage", "production"], project, env, ok=(0, 1))
    _run([*wb, "data", "check"], project, env, ok=(0, 1))
    _run([PY, "-c", "import sys, pandas as pd; d = pd.read_csv('data/breast_cancer.csv'); "
          "d.head(100).drop(columns=['diagnosis']).to_csv(sys.argv[1], index=False); "
          "pd.concat([d] * 6).head(3000).to_csv(sys.argv[2], index=False)",
          str(work / "in100.csv"), str(work / "batch3000.csv")], project, env)
    return project


# validation/card/review as the validation and review steps write them (tests/test_registry.add_evidence)
_EVIDENCE = """
import json, subprocess
from pathlib import Path
from workbench.versioning import evidence as ev
path = Path(".")
digest = ev.model_digest(path)
(path / "reports").mkdir(exist_ok=True)
validation = {"passed": True, "model": {"digest": digest, "path": ev.MODEL_FILE},
              "gates": [{"name": "success metric", "passed": True},
                        {"name": "beats the dummy baseline", "passed": True}]}
(path / ev.VALIDATION_FILE).write_text(json.dumps(validation, indent=2) + "\\n")
(path / ev.CARD_FILE).write_text("# Model card\\n\\nIntended use: triage support.\\n")
review = {"decision": "approved", "reviewer": {"name": "Dana Ortiz", "email": "dana@example.com",
          "role": "business_owner"}, "comment": "looks right", "model_digest": digest,
          "validation_digest": ev.file_digest(path / ev.VALIDATION_FILE),
          "card_digest": ev.file_digest(path / ev.CARD_FILE), "at": "2026-01-02T10:00:00+00:00"}
(path / ev.REVIEW_FILE).write_text(json.dumps(review, indent=2) + "\\n")
subprocess.run(["git", "add", ev.VALIDATION_FILE, ev.CARD_FILE, ev.REVIEW_FILE], check=True)
subprocess.run(["git", "commit", "-q", "-m", "Review & governance: approved\\n\\n"
                "Workbench-Step: review\\nWorkbench-Role: business_owner"], check=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until_health(argv: list[str], cwd: Path, env: dict[str, str], port: int, timeout: float = 120) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.read()[-800:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.02)
        raise SystemExit(f"/health did not answer within {timeout} s: {' '.join(argv)}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(name: str, project: Path, work: Path, env: dict[str, str]) -> tuple[float, float]:
    """(command seconds, floor seconds): medians of alternating runs after one warm-up each."""
    base = _run(["git", "rev-parse", "HEAD"], project, env).strip()
    inputs = {"INPUT": repr(str(work / ("in100.csv" if name == "predict" else "batch3000.csv"))),
              "OUTPUT": repr(str(work / ("out.csv" if name == "predict" else "bundle")))}
    args = {
        "status": ["status"], "history": ["history"], "review card": ["review", "card"],
        "review show": ["review", "show"], "model list": ["model", "list"], "check": ["check"],
        "predict": ["predict", str(work / "in100.csv"), "-o", str(work / "out.csv"), "--version", "v1.0.0"],
        "model bundle": ["model", "bundle", "v1.0.0", "--output", str(work / "bundle")],
        "monitor": ["monitor", str(work / "batch3000.csv"), "--dry-run"],
    }

    def reset() -> None:
        _run(["git", "reset", "-q", "--hard", base], project, env)
        shutil.rmtree(work / "bundle", ignore_errors=True)
        (work / "out.csv").unlink(missing_ok=True)

    def command() -> float:
        reset()
        if name == "serve":
            port = _free_port()
            return _until_health([PY, "-m", "workbench", "serve", "--version", "v1.0.0", "--port", str(port),
                                  "--log-dir", str(work / "predlog")], project, env, port)
        start = time.perf_counter()
        _run([PY, "-m", "workbench", *args[name]], project, env, ok=(0, 1, 3))
        return time.perf_counter() - start

    def floor() -> float:
        reset()
        code = FLOORS[name]
        for key, value in inputs.items():
            code = code.replace(key, value)
        if name == "serve":
            port = _free_port()
            return _until_health([PY, "-c", code.replace("PORT", str(port))], project, env, port)
        start = time.perf_counter()
        _run([PY, "-c", code], project, env)
        return time.perf_counter() - start

    command(), floor()  # warm-up
    runs = 1 if QUICK else ARGS.runs
    cmd_times, floor_times = [], []
    for _ in range(runs):
        cmd_times.append(command())
        floor_times.append(floor())
    reset()
    return statistics.median(cmd_times), statistics.median(floor_times)


ORDER = ["status", "history", "review card", "review show", "model list", "predict", "model bundle", "monitor",
         "serve", "check"]


def main() -> int:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", action="append", choices=ORDER, help="only this command (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    ARGS = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wb-bench-floors-"))
    home = work / "home"
    home.mkdir()
    env = _env(home)
    for key, value in (("user.name", "Ada Lovelace"), ("user.email", "ada@example.com"),
                       ("init.defaultBranch", "main")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    ok = True
    try:
        project = make_project(work, env)
        for name in ARGS.only or ORDER:
            value, floor = measure(name, project, work, env)
            ok &= report(f"{name} vs its floor", value, floor, "s", TARGET)
    finally:
        if ARGS.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


ARGS: argparse.Namespace

if __name__ == "__main__":
    raise SystemExit(main())
