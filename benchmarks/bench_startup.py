"""Cold start: time to first paint of the dashboard against a minimal Textual app.

Both are launched in a real pseudo-terminal (tmux, 120x40) and the screen is polled
every 10 ms until a known text shows — the method of ../shared/BENCHMARKS.md.
Target: the dashboard paints within 1.3x the minimal app's time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report, tmux_first_paint  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample", default="fraud_detection")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed: apt-get install tmux", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="wb-bench-startup-"))
    try:
        env = {**os.environ, "HOME": str(work / "home")}
        (work / "home").mkdir()
        for key, val in (("user.name", "Bench"), ("user.email", "bench@example.com")):
            subprocess.run(["git", "config", "--global", key, val], env=env, check=True)
        project = work / "project"
        subprocess.run([sys.executable, "-m", "workbench", "new", str(project), "--sample", args.sample],
                       env=env, check=True, capture_output=True)
        minimal = work / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        home = f"HOME={work / 'home'}"
        wb = f"env {home} {sys.executable} -m workbench {project}"
        ref = f"env {home} {sys.executable} {minimal}"
        # Warm the OS file cache once for both, as a user's second launch would be.
        tmux_first_paint(ref, "minimal app ready")
        tmux_first_paint(wb, "Next step")
        refs, vals = [], []
        for _ in range(args.runs):
            refs.append(tmux_first_paint(ref, "minimal app ready"))
            vals.append(tmux_first_paint(wb, "Next step"))
        refs.sort()
        vals.sort()
        ok = report("first paint of the dashboard (median)", vals[len(vals) // 2], refs[len(refs) // 2],
                    "s", 1.3)
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
