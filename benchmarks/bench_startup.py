"""Cold start: time to first paint of the dashboard, on a project with 1,000 experiments.

Both sides are launched as fresh processes in a real pseudo-terminal (``os.openpty``,
120x40, ``TERM=xterm-256color``), and everything they write is read as it comes until a
known text shows (``_common.pty_first_paint``): ``Next step`` for the workbench — the
dashboard's next-step block, written only once the project's status is on screen, so a
bare skeleton does not count — and ``minimal app ready`` for the reference, a minimal
Textual app (Header, Static, Footer: the reference of ../shared/BENCHMARKS.md), measured
in the same run, alternating with the workbench. The median of ``--runs`` each is taken
after one warm-up launch of each (a user's second launch: the OS file cache warm and the
bytecode compiled — both write their ``.pyc`` under the temporary folder).

The project is the ``fraud_detection`` sample with ``--count`` (default 1,000) DVC
experiment refs written on its head by ``bench_experiments.add_experiments`` (git
fast-import, seconds instead of hours of ``dvc exp run``). It lives in a temporary
folder removed at the end.

Target: the dashboard paints within 1.1x the minimal app's time (issue 19, item 4; it was 1.3x).

    python benchmarks/bench_startup.py [--runs 7] [--count 1000] [--sample fraud_detection] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import pty_first_paint, report  # noqa: E402
from bench_experiments import _env, add_experiments  # noqa: E402

TARGET = 1.1
NEEDLE = "Next step"

MINIMAL_APP = '''
from textual.app import App
from textual.widgets import Footer, Header, Static

class Minimal(App):
    def compose(self):
        yield Header()
        yield Static("minimal app ready")
        yield Footer()

Minimal().run()
'''


def make_project(work: Path, sample: str, count: int, env: dict[str, str]) -> Path:
    """The sample project plus ``count`` experiment refs on its head."""
    project = work / "project"
    subprocess.run([sys.executable, "-m", "workbench", "new", str(project), "--sample", sample, "--json"],
                   env=env, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()
    add_experiments(project, head, count, env)
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], cwd=project, env=env,
                          check=True, capture_output=True, text=True).stdout.split()
    if len(refs) != count:
        raise SystemExit(f"expected {count} experiment refs, found {len(refs)}")
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--count", type=int, default=1000, help="experiments in the project")
    parser.add_argument("--sample", default="fraud_detection")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wb-bench-startup-"))
    home = work / "home"
    home.mkdir()
    env = _env(home)
    # Bytecode as on a user's machine: this environment may set PYTHONDONTWRITEBYTECODE, and the
    # editable install's modules would then be compiled from source on every launch (about 20 ms
    # that no user pays). Both sides write and read their .pyc under the temporary folder.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    project = work / "project"
    try:
        for key, val in (("user.name", "Bench"), ("user.email", "bench@example.com"),
                         ("init.defaultBranch", "main")):
            subprocess.run(["git", "config", "--global", key, val], env=env, check=True)
        t0 = time.perf_counter()
        make_project(work, args.sample, args.count, env)
        print(f"{args.sample} sample with {args.count} experiments built in {time.perf_counter() - t0:.1f} s",
              flush=True)
        minimal = work / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        wb = [sys.executable, "-m", "screens", str(project)]
        ref = [sys.executable, str(minimal)]

        def once(argv: list[str], needle: str) -> float:
            return pty_first_paint(argv, needle, env=env, cwd=str(work))

        once(ref, "minimal app ready")  # warm the OS file cache for both
        once(wb, NEEDLE)
        refs, vals = [], []
        for _ in range(args.runs):
            refs.append(once(ref, "minimal app ready"))
            vals.append(once(wb, NEEDLE))
        print("minimal app:", " ".join(f"{x:.3f}" for x in refs), flush=True)
        print("dashboard:  ", " ".join(f"{x:.3f}" for x in vals), flush=True)
        ok = report(f"first paint of the dashboard, {args.count} experiments, pty (median of {args.runs})",
                    statistics.median(vals), statistics.median(refs), "s", TARGET)
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(Path(str(project) + ".dvc-storage"), ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
