"""``sync`` of a project already in sync: 200 experiments and 20 registry tags, against a plain
``git fetch`` + ``dvc status -c`` of the same project (what a person would run by hand to know).

The project is the ``fraud_detection`` sample with a bare git remote on disk (``file://``) and its
local DVC remote; ``--count`` experiment refs are written by ``bench_experiments.add_experiments``
(git fast-import) and ``--tags`` annotated ``model@vX.Y.Z`` / ``model#staging#N`` tags are made on
HEAD. A first ``sync`` shares everything; then both sides run ``--runs`` times, alternating, as
fresh processes, and the medians are compared.

Target: sync takes at most 1.5x the plain commands.

    python benchmarks/bench_sync.py [--runs 5] [--count 200] [--tags 20] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import report  # noqa: E402
from bench_experiments import _env, add_experiments  # noqa: E402

TARGET = 1.5


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return took


def make_project(work: Path, count: int, tags: int, env: dict[str, str]) -> Path:
    home = Path(env["HOME"])
    home.mkdir(parents=True, exist_ok=True)
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.com"), ("init.defaultBranch", "main")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    bare = work / "team.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], env=env, check=True)
    path = work / "fraud"
    _run([sys.executable, "-m", "workbench", "new", str(path), "--sample", "fraud_detection",
          "--git-remote", bare.as_uri()], work, env)
    baseline = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()
    add_experiments(path, baseline, count, env)
    for i in range(tags):
        name = f"model@v1.{i}.0" if i % 2 == 0 else f"model#staging#{i}"
        subprocess.run(["git", "tag", "-a", name, "-m", f"Registering artifact model {name}"], cwd=path, env=env,
                       check=True)
    _run([sys.executable, "-m", "workbench", "sync", "-q"], path, env)  # share everything once
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    env = _env(work / "home")
    try:
        path = make_project(work, args.count, args.tags, env)
        sync_cmd = [sys.executable, "-m", "workbench", "sync", "-q"]
        plain = [["git", "fetch", "--quiet", "origin"], [sys.executable, "-m", "dvc", "status", "-c", "-q"]]
        _run(sync_cmd, path, env)  # warm-up of both
        for cmd in plain:
            _run(cmd, path, env)
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(_run(sync_cmd, path, env))
            theirs.append(sum(_run(cmd, path, env) for cmd in plain))
        ours.sort()
        theirs.sort()
        exps = subprocess.run(["git", "for-each-ref", "--count=100000", "refs/exps"], cwd=work / "team.git", env=env,
                              capture_output=True, text=True).stdout.count("\n")
        print(f"remote holds {exps} experiment refs; sync runs: {[round(t, 2) for t in ours]}, "
              f"plain: {[round(t, 2) for t in theirs]}")
        ok = report(f"sync in sync ({args.count} exps, {args.tags} tags)", ours[len(ours) // 2],
                    theirs[len(theirs) // 2], "s", TARGET)
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
