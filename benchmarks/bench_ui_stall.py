"""UI responsiveness: the largest event-loop stall while an experiment runs in the Training view.

The workbench app runs headless (``App.run_test``, 120x40) on a fresh diagnosis project with
its pipeline written. A probe task on the app's own event loop sleeps 10 ms at a time and
records how late each wake-up is; the largest lateness is the longest the UI could not
answer a key press. It is measured twice in the same run: with the app idle on the Training
view (the reference), and from pressing Run until the experiment's result is on screen (a
real ``dvc exp run`` started from a thread worker in a child process, DVC's output streaming
into the log). The same probe also runs while the Data engineering view opens and reads the
data (printed for information).

Target (issue 4): the loop never stalls more than 50 ms while an experiment runs. The figure
is printed against that 50 ms budget (ratio <= 1.0); the idle stall is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import report  # noqa: E402

BUDGET_MS = 50.0
TICK = 0.010


class StallProbe:
    """Sleeps ``TICK`` on the running loop and records how late each wake-up is (seconds)."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            self.lateness.append(max(0.0, time.perf_counter() - started - TICK))

    def start(self) -> None:
        self.lateness = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> list[float]:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        return self.lateness


def summary(lateness: list[float]) -> str:
    if not lateness:
        return "no samples"
    ms = sorted(x * 1000 for x in lateness)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"{len(ms)} ticks, max {ms[-1]:.1f} ms, p99 {p99:.1f} ms, "
            f"median {statistics.median(ms):.2f} ms")


async def measure(project: Path, idle_seconds: float) -> dict[str, list[float]]:
    from textual.widgets import ContentSwitcher, Input

    from screens.app import make_app
    from screens.project.project_screen import LifecycleSidebar

    app = make_app(project, testing=True)
    probe = StallProbe()
    out: dict[str, list[float]] = {}

    async def settle(pilot) -> None:
        for _ in range(3):
            await pilot.pause()
            running = [w for w in app.workers if w.group != "_loader"]
            if running:
                await app.workers.wait_for_complete(running)
            await pilot.pause()

    async def open_step(pilot, step_id: str):
        sidebar = app.screen.query_one(LifecycleSidebar)
        sidebar.focus()
        sidebar.point_at(step_id)
        await pilot.press("enter")
        assert app.screen.query_one("#content", ContentSwitcher).current == f"step-{step_id}"
        return app.screen.query_one(f"#step-{step_id}")

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)

        probe.start()
        await open_step(pilot, "data_engineering")
        await settle(pilot)
        out["data engineering view reading the data"] = await probe.stop()

        view = await open_step(pilot, "training")
        await settle(pilot)
        probe.start()
        await asyncio.sleep(idle_seconds)
        out["idle"] = await probe.stop()

        view.query_one("#tr-set", Input).focus()
        await pilot.press(*"model.params.C=0.33")
        probe.start()
        started = time.perf_counter()
        await pilot.press("ctrl+r")
        await settle(pilot)
        seconds = time.perf_counter() - started
        out["experiment run"] = await probe.stop()
        result = str(view.query_one("#tr-result").content)
        if "1 experiment" not in result:
            raise SystemExit(f"the experiment did not finish: {result!r}")
        print(f"experiment run in the TUI: {seconds:.1f} s ({result.splitlines()[-1]})", flush=True)
    return out


def make_project(work: Path) -> Path:
    home = work / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
           "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1",
           "DVC_GLOBAL_CONFIG_DIR": str(home / ".config" / "dvc"),
           "DVC_SITE_CACHE_DIR": str(home / ".cache" / "dvc")}
    os.environ.update(env)
    for key, val in (("user.name", "Bench"), ("user.email", "bench@example.com"),
                     ("init.defaultBranch", "main")):
        subprocess.run(["git", "config", "--global", key, val], check=True)
    project = work / "project"
    for args in (["new", str(project), "--sample", "diagnosis"], ["pipeline", "-C", str(project)]):
        subprocess.run([sys.executable, "-m", "workbench", *args], check=True, capture_output=True)
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle reference")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wb-bench-stall-"))
    try:
        project = make_project(work)
        results = asyncio.run(measure(project, args.idle))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(Path(str(work) + ".dvc-storage"), ignore_errors=True)
    for name, lateness in results.items():
        print(f"{name}: {summary(lateness)}", flush=True)
    idle = max(results["idle"], default=0.0) * 1000
    run = max(results["experiment run"], default=0.0) * 1000
    data = max(results["data engineering view reading the data"], default=0.0) * 1000
    print(f"idle app max stall (same run): {idle:.1f} ms", flush=True)
    print(f"opening Data engineering (view import, mount, data read in a child): max stall {data:.1f} ms "
          "(informational; the issue's target is for experiment runs)", flush=True)
    ok = report("UI max stall while an experiment runs (vs 50 ms budget)", run, BUDGET_MS, "ms", 1.0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
