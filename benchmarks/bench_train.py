"""One experiment through ``mlops-workbench train`` against a plain ``dvc exp run``.

Creates the ``diagnosis`` sample in a temporary folder, writes its pipeline, runs it
once (so ``prepare`` is cached for both sides), then alternates the two commands with a
fresh ``model.params.C`` each time (so DVC's run cache never skips ``train``/``evaluate``):

* reference: ``dvc exp run -S model.params.C=...`` from a shell with the venv active;
* value: ``mlops-workbench train -S model.params.C=... --quiet``.

Both are whole processes timed from the outside, medians of ``--runs`` each.
Target: the workbench <= 1.1x plain DVC.

    python benchmarks/bench_train.py [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
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

TARGET = 1.1
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1",
            "DVC_GLOBAL_CONFIG_DIR": str(home / ".config" / "dvc"),
            "DVC_SITE_CACHE_DIR": str(home / ".cache" / "dvc"),
            "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()[-500:]}")
    if "Running stage 'train'" not in done.stdout + done.stderr and "--quiet" not in cmd:
        raise SystemExit(f"{' '.join(cmd)} did not run the train stage")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wb-bench-train-"))
    home = work / "home"
    home.mkdir()
    env = _env(home)
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.com")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    project = work / "diagnosis"
    wb = [sys.executable, "-m", "workbench"]
    try:
        subprocess.run([*wb, "new", str(project), "--sample", "diagnosis", "--json"], env=env, check=True,
                       capture_output=True)
        subprocess.run([*wb, "pipeline", "--json"], cwd=project, env=env, check=True, capture_output=True)
        timed(["dvc", "exp", "run"], project, env)  # prepare runs once; cached for every run below
        dvc_runs, wb_runs = [], []
        for i in range(args.runs):
            dvc_runs.append(timed(["dvc", "exp", "run", "-S", f"model.params.C={0.11 + i / 10:.2f}"],
                                  project, env))
            wb_runs.append(timed([*wb, "train", "-S", f"model.params.C={0.16 + i / 10:.2f}", "--quiet"],
                                 project, env))
            print(f"run {i + 1}: dvc exp run {dvc_runs[-1]:.2f} s, mlops-workbench train {wb_runs[-1]:.2f} s",
                  flush=True)
        dvc_s, wb_s = statistics.median(dvc_runs), statistics.median(wb_runs)
        print(f"workbench overhead per experiment: {wb_s - dvc_s:+.2f} s (median)", flush=True)
        ok = report("one experiment: mlops-workbench train / plain dvc exp run (median)", wb_s, dvc_s, "s",
                    TARGET)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(Path(str(project) + ".dvc-storage"), ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
