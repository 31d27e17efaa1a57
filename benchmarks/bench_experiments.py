"""Experiment history of 1,000 experiments against ``dvc exp show --json``.

Builds a DVC project in a temporary folder with one baseline commit and N experiments
(default 1,000). Running ``dvc exp run`` N times would take hours, so the experiment
commits are written with ``git fast-import`` in DVC's own layout
(``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``, a child of the baseline whose tree
holds its own ``params.yaml``, ``metrics.json`` and ``dvc.lock``); the benchmark checks
that ``dvc exp show --json`` lists every one of them with the same metrics as the
workbench before timing anything.

Figures (each process started fresh, as a user would):

* cold: ``mlops-workbench exp list --json`` with the workbench's cache removed, against
  ``dvc exp show --json`` with DVC's experiment cache (``.dvc/tmp/exps/cache``) removed.
  Target <= 0.25x.
* warm: ``list_experiments`` when nothing changed since the last call (what the history
  screen does on refresh), against the 0.5 s budget. Target <= 1.0x the budget.

    python benchmarks/bench_experiments.py [--count N] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

COLD_TARGET = 0.25
WARM_BUDGET_S = 0.5
FEATURES = [f"feature_{i:02d}" for i in range(30)]
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))

DVC_YAML = """stages:
  train:
    cmd: python train.py
    deps:
    - train.py
    params:
    - model
    - split.seed
    outs:
    - model.pkl
    metrics:
    - metrics.json:
        cache: false
"""
TRAIN_PY = "print('training')\n"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1",
            "DVC_GLOBAL_CONFIG_DIR": str(home / ".config" / "dvc"),
            "DVC_SITE_CACHE_DIR": str(home / ".cache" / "dvc"),
            "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def params_text(c: float, max_iter: int, seed: int) -> str:
    import yaml

    params = {
        "task": "classification", "target": "label", "positive_class": 1,
        "sources": [{"path": "data/train.csv", "format": "csv"}],
        "features": {f: "numeric" for f in FEATURES},
        "split": {"method": "stratified", "test_size": 0.2, "seed": seed, "time_column": None},
        "preprocessing": {"numeric": {"impute": "median", "scale": "standard"},
                          "text": {"tfidf": {"max_features": 5000, "ngram_range": [1, 2]}}},
        "model": {"name": "logistic_regression", "params": {"C": c, "max_iter": max_iter}},
    }
    return yaml.safe_dump(params, sort_keys=False)


def metrics_text(i: int) -> str:
    base = 0.9 + (i % 97) / 1000
    return json.dumps({"accuracy": round(base, 6), "precision": round(base - 0.01, 6),
                       "recall": round(base - 0.02, 6), "f1": round(base - 0.015, 6),
                       "roc_auc": round(min(0.999, base + 0.05), 6),
                       "log_loss": round(0.3 - (i % 97) / 1000, 6)}, indent=2) + "\n"


def lock_text(c: float, max_iter: int, seed: int, i: int) -> str:
    train_md5 = hashlib.md5(TRAIN_PY.encode()).hexdigest()
    model_md5 = hashlib.md5(f"model-{i}".encode()).hexdigest()
    return (
        "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n"
        f"    - path: train.py\n      hash: md5\n      md5: {train_md5}\n      size: {len(TRAIN_PY)}\n"
        "    params:\n      params.yaml:\n        model:\n          name: logistic_regression\n"
        f"          params:\n            C: {c}\n            max_iter: {max_iter}\n"
        f"        split.seed: {seed}\n"
        f"    outs:\n    - path: model.pkl\n      hash: md5\n      md5: {model_md5}\n      size: 1000\n"
        f"    - path: metrics.json\n      hash: md5\n      md5: {hashlib.md5(metrics_text(i).encode()).hexdigest()}\n"
        f"      size: {len(metrics_text(i))}\n"
    )


def make_repo(work: Path, count: int, env: dict[str, str]) -> Path:
    """A DVC project with one baseline commit and ``count`` experiment refs (git fast-import)."""
    repo = work / "project"
    repo.mkdir()

    def run(*cmd: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, **kw)

    run("git", "init", "-q", "--initial-branch=main")
    run("git", "config", "user.name", "Bench")
    run("git", "config", "user.email", "bench@example.com")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "train.py").write_text(TRAIN_PY)
    (repo / "params.yaml").write_text(params_text(1.0, 1000, 42))
    (repo / ".gitignore").write_text("/model.pkl\n")
    run("git", "add", ".")
    run("git", "commit", "-q", "-m", "baseline")
    baseline = run("git", "rev-parse", "HEAD", text=True).stdout.strip()

    add_experiments(repo, baseline, count, env)
    return repo


def add_experiments(repo: Path, baseline: str, count: int, env: dict[str, str]) -> None:
    """Write ``count`` DVC experiment refs on ``baseline`` with one ``git fast-import`` (seconds, not hours).

    Each is a child commit of the baseline in DVC's layout with its own ``params.yaml``,
    ``metrics.json`` and ``dvc.lock``; ``bench_startup.py`` reuses this on a workbench project.
    """
    stream = bytearray()

    def data(text: str) -> None:
        raw = text.encode()
        stream.extend(b"data %d\n" % len(raw) + raw + b"\n")

    start = int(time.time()) - count * 60
    for i in range(count):
        c, max_iter, seed = round(0.01 + i * 0.01, 4), 100 + (i % 10) * 100, 42 + i % 3
        name = f"exp-{i:04d}"
        stream.extend(f"commit refs/exps/{baseline[:2]}/{baseline[2:]}/{name}\n".encode())
        stream.extend(f"committer Bench <bench@example.com> {start + i * 60} +0000\n".encode())
        data(f"dvc: commit experiment {hashlib.sha256(name.encode()).hexdigest()}")
        stream.extend(f"from {baseline}\n".encode())
        for path, text in (("params.yaml", params_text(c, max_iter, seed)), ("metrics.json", metrics_text(i)),
                           ("dvc.lock", lock_text(c, max_iter, seed, i))):
            stream.extend(f"M 100644 inline {path}\n".encode())
            data(text)
        stream.extend(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, env=env, check=True,
                   capture_output=True, input=bytes(stream))


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wb-bench-exps-"))
    env = _env(work / "home")
    (work / "home").mkdir()
    try:
        t0 = time.perf_counter()
        repo = make_repo(work, args.count, env)
        print(f"{args.count} experiment commits written in {time.perf_counter() - t0:.1f} s", flush=True)

        dvc_cache = repo / ".dvc" / "tmp" / "exps" / "cache"
        ours_cache = repo / ".git" / "mlops-workbench" / "exp-cache.json"

        shutil.rmtree(dvc_cache, ignore_errors=True)
        shutil.rmtree(work / "home" / ".cache", ignore_errors=True)
        dvc_cold, shown = timed([sys.executable, "-m", "dvc", "exp", "show", "--json"], repo, env)
        rows = json.loads(shown)
        dvc_exps = {e["name"]: e["revs"][0] for r in rows for e in (r.get("experiments") or [])}
        dvc_warm, _ = timed([sys.executable, "-m", "dvc", "exp", "show", "--json"], repo, env)

        ours_cache.unlink(missing_ok=True)
        cli = [sys.executable, "-m", "workbench", "exp", "list", "--json"]
        ours_cold, listed = timed(cli, repo, env)
        ours = {e["name"]: e for e in json.loads(listed)["experiments"] if not e["is_baseline"]}
        if len(dvc_exps) != args.count or set(ours) != set(dvc_exps):
            raise SystemExit(f"dvc exp show lists {len(dvc_exps)} experiments, the workbench {len(ours)}; "
                             f"expected {args.count}")
        for name, rev in dvc_exps.items():
            if ours[name]["rev"] != rev["rev"] or ours[name]["metrics"] != rev["data"]["metrics"]["metrics.json"]["data"]:
                raise SystemExit(f"{name}: the workbench and dvc exp show disagree")
        print(f"dvc exp show --json lists all {len(dvc_exps)} experiments; the workbench agrees on revs and metrics",
              flush=True)
        ours_cli_warm, _ = timed(cli, repo, env)

        os.environ.update({k: v for k, v in env.items() if k not in ("PATH",)})
        from workbench.development.experiments import list_experiments

        list_experiments(repo)  # the screen's first load (cache already warm from the CLI run)
        warm_runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            exps = list_experiments(repo)
            warm_runs.append(time.perf_counter() - t0)
        assert sum(1 for e in exps if not e.is_baseline) == args.count
        ours_cache.unlink()
        t0 = time.perf_counter()
        list_experiments(repo)
        in_process_cold = time.perf_counter() - t0

        print(f"dvc exp show --json with DVC's experiment cache: {dvc_warm:.2f} s (informational)", flush=True)
        print(f"in-process cold list_experiments: {in_process_cold:.2f} s; "
              f"CLI warm (process start included): {ours_cli_warm:.2f} s (informational)", flush=True)
        ok = report(f"history of {args.count} experiments, cold: exp list --json / dvc exp show --json "
                    "(caches cleared)", ours_cold, dvc_cold, "s", COLD_TARGET)
        ok &= report(f"history of {args.count} experiments, nothing changed (vs 0.5 s budget)",
                     statistics.median(warm_runs), WARM_BUDGET_S, "s", 1.0)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
