"""Retraining jobs (baseline, reproducibility): the stages run again in one subprocess."""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from workbench.development.validation.settings import WORKBENCH_CMD, Progress, _say
from workbench.errors import CancelledError
from workbench.jobs import PIPE, start_python

# --- retraining (baseline, reproducibility) --------------------------------------------

_JOB_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
from workbench.development.stages import run_stage
for job in json.loads(sys.argv[1]):
    try:
        for stage in job["stages"]:
            print(json.dumps({"job": job["id"], "stage": stage}), flush=True)
            run_stage(stage, job["dir"])
        print(json.dumps({"job": job["id"], "ok": True}), flush=True)
    except Exception as exc:
        text = " ".join(str(exc).split())[:300]
        print(json.dumps({"job": job["id"], "ok": False, "error": type(exc).__name__ + ": " + text}),
              flush=True)
"""


def _run_jobs(jobs: list[dict[str, Any]], progress: Progress | None,
              cancel: threading.Event | None) -> dict[str, str | None]:
    """Run stage jobs in one subprocess; job id -> None on success, else the error line."""
    import os

    env = dict(os.environ)
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = start_python(["-c", _JOB_SCRIPT, json.dumps(jobs)], stdout=PIPE, stderr=errors, env=env, text=True)
        stopped = threading.Event()

        def watch() -> None:
            while proc.poll() is None:
                if cancel is not None and cancel.wait(0.1):
                    proc.terminate()
                    stopped.set()
                    return
                if cancel is None:
                    time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True, name="validation-watch")
        watcher.start()
        results: dict[str, str | None] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if "stage" in event:
                _say(progress, f"{event['job']}: running the {event['stage']} stage")
            elif event.get("ok"):
                results[event["job"]] = None
            else:
                results[event["job"]] = str(event.get("error") or "failed")
        proc.wait()
        watcher.join(timeout=1)
        if stopped.is_set() or (cancel is not None and cancel.is_set()):
            raise CancelledError("validation was cancelled; nothing was written or committed")
        if proc.returncode != 0 and len(results) < len(jobs):
            errors.seek(0)
            lines = [ln.strip() for ln in errors.read().splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit {proc.returncode}"
            for job in jobs:
                results.setdefault(job["id"], detail)
    return results


def _read_metrics(path: Path) -> dict[str, float] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _workbench_stages(dvc_yaml: dict[str, Any]) -> bool:
    stages = dvc_yaml.get("stages") or {}
    return bool(stages) and all(WORKBENCH_CMD.match(str((s or {}).get("cmd", ""))) for s in stages.values())


def _write_params(folder: Path, params: dict[str, Any]) -> None:
    import yaml

    from workbench.development.stages import PARAMS_FILE

    folder.mkdir(parents=True, exist_ok=True)
    (folder / PARAMS_FILE).write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
