"""Run core calls that need pandas or scikit-learn in a child process, so the TUI never imports them.

Why a child process and not only a thread worker: importing scikit-learn and pandas
(numpy, scipy, pyarrow module initialisation in C) holds the GIL for 100-250 ms at a
time, and in a thread worker that froze the TUI's event loop that long (measured by
``benchmarks/bench_ui_stall.py``). In a child, the TUI's loop only reads lines from a
pipe. A child costs what the CLI costs for the same step: one interpreter start and the
same imports. The screens call :func:`run_in_child` from their thread workers.

The protocol is JSON lines. The parent writes one request line on the child's stdin
(``{"call": NAME, "path": ..., "kwargs": {...}}``), then ``cancel`` if the user cancels;
end of input (the TUI went away) also cancels. The child writes ``{"line": ...}`` per
progress line, then one of ``{"done": {...}}``, ``{"error": "one line"}`` or
``{"cancelled": "one line"}``. Cancelling goes into the core as a plain
``threading.Event``. This module imports neither Textual nor anything heavy at the top.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError, WorkbenchError

#: The child's stdout or stderr into the parent's pipe (re-exported for callers of start_command).
PIPE, STDOUT = subprocess.PIPE, subprocess.STDOUT
TimeoutExpired = subprocess.TimeoutExpired
SubprocessError = subprocess.SubprocessError
Popen = subprocess.Popen

ROOT = Path(__file__).resolve().parent.parent


def run_in_terminal(argv: list[str]) -> int:
    """Run a program of the user's (``$EDITOR``) on this terminal, to its end; its exit code.

    The caller hands the terminal over first (the TUI suspends itself)."""
    return subprocess.run(argv, check=False).returncode


def start_python(args: list[str], *, stdout: Any, stderr: Any, env: dict[str, str] | None = None,
                 text: bool = False) -> subprocess.Popen[Any]:
    """Start this interpreter with ``args`` (``-c CODE ...``, ``-m MODULE ...``), stdin closed."""
    return subprocess.Popen([sys.executable, *args], stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                            env=env, text=text)


def run_python(args: list[str], *, env: dict[str, str] | None = None,
               timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run this interpreter with ``args`` to the end, output captured, stdin closed."""
    return subprocess.run([sys.executable, *args], capture_output=True, stdin=subprocess.DEVNULL, env=env,
                          timeout=timeout)


def start_command(args: list[str], *, cwd: Path, stdout: Any, stderr: Any, text: bool = False,
                  new_session: bool = False, dies_with_parent: bool = False,
                  drop_env: tuple[str, ...] = ()) -> subprocess.Popen[Any]:
    """Start ``mlops-workbench ARGS`` (this interpreter, ``-m workbench``) as a child and return it.

    For the TUI's long commands (a service, a retrain) whose output it streams. ``new_session``:
    the child has its own session, so a Ctrl-C in the terminal does not reach it;
    ``dies_with_parent`` adds that (on Linux) it gets SIGTERM when the workbench dies without
    cleaning up: start it from the thread that lives as long as the app (the signal follows
    the thread). ``drop_env``: variables the child must not inherit.
    """
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    options: dict[str, Any] = {"text": True, "encoding": "utf-8", "errors": "replace"} if text else {}
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args], cwd=cwd, stdout=stdout, stderr=stderr,
        stdin=subprocess.DEVNULL, env=env,
        start_new_session=new_session and not dies_with_parent,
        preexec_fn=_own_session_dies_with_parent if dies_with_parent else None, **options)


def _own_session_dies_with_parent() -> None:
    """In the child before exec: its own session, and on Linux SIGTERM when the parent dies."""
    os.setsid()
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_in_child(call: str, path: Path, kwargs: dict[str, Any] | None = None, *,
                 progress: Callable[[str], None] | None = None,
                 cancel: threading.Event | None = None) -> dict[str, Any]:
    """Run ``CALLS[call](path, **kwargs)`` in a child; return its "done" payload (plain JSON data).

    Raises :class:`CancelledError` or :class:`WorkbenchError` with the child's one-line message.
    """
    request = {"call": call, "path": str(path), "kwargs": kwargs or {}}
    cancel = cancel or threading.Event()
    say = progress or (lambda _line: None)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.jobs"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=stderr, env=env, text=True, encoding="utf-8",
            errors="replace", bufsize=1,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        finished = threading.Event()

        def forward_cancel() -> None:
            while not finished.is_set():
                if cancel.wait(0.05):
                    try:
                        proc.stdin.write("cancel\n")  # type: ignore[union-attr]
                        proc.stdin.flush()  # type: ignore[union-attr]
                    except (BrokenPipeError, ValueError, OSError):
                        pass
                    return

        watcher = threading.Thread(target=forward_cancel, name="training-cancel", daemon=True)
        watcher.start()
        outcome: dict[str, Any] | None = None
        try:
            for raw in proc.stdout:
                try:
                    message = json.loads(raw)
                except ValueError:
                    if not cancel.is_set():  # after a cancel: DVC's reaction to it, not the user's log
                        say(raw.rstrip("\n"))  # something printed outside the protocol
                    continue
                if "line" in message:
                    say(str(message["line"]))
                else:
                    outcome = message
        finally:
            finished.set()
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.wait()
        if outcome is None:
            stderr.seek(0)
            lines = [ln.strip() for ln in stderr.read().splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit code {proc.returncode}"
            raise WorkbenchError(f"the {call} process ended without a result: {detail}")
    if "cancelled" in outcome:
        raise CancelledError(str(outcome["cancelled"]))
    if "error" in outcome:
        raise WorkbenchError(str(outcome["error"]))
    return dict(outcome["done"])


def _train(path: Path, progress: Callable[[str], None], cancel: threading.Event, *,
           set_params: dict[str, Any] | None = None, sweep: dict[str, list[Any]] | None = None,
           jobs: int = 1, name: str | None = None) -> dict[str, Any]:
    from workbench.development.training import run_experiment, run_sweep

    if sweep:
        grid = run_sweep(path, sweep, set_params or {}, jobs=jobs, progress=progress, cancel=cancel)
        return {"names": list(grid.names), "metrics": grid.metrics, "failed": list(grid.failed),
                "seconds": grid.seconds}
    if any(str(k).startswith("model.") for k in set_params or {}):
        # The model's values too (scikit-learn's own constraints), here in the child, before DVC
        # starts: a wrong value is the core's one line at the form's field, not a failed stage.
        from workbench.development.training import _checked_params

        progress("checking the model's hyperparameters…")
        _checked_params(path, set_params or {}, values=True)
    one = run_experiment(path, set_params or {}, name=name, progress=progress, cancel=cancel)
    return {"names": [one.name], "metrics": {one.name: one.metrics}, "failed": [], "seconds": one.seconds}


def _data_view(path: Path, progress: Callable[[str], None], cancel: threading.Event) -> dict[str, Any]:
    from dataclasses import asdict

    from workbench.development.data_view import read_data_view

    return asdict(read_data_view(path))


def _configure_pipeline(path: Path, progress: Callable[[str], None], cancel: threading.Event,
                        **choices: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from workbench.development.data_view import read_data_view
    from workbench.development.pipeline import configure_pipeline

    result = configure_pipeline(path, **choices)
    return {"result": asdict(result), "data": asdict(read_data_view(path))}


#: The calls a child serves: name -> function(path, progress, cancel, **kwargs) -> JSON data.
CALLS: dict[str, Callable[..., dict[str, Any]]] = {
    "train": _train,
    "data_view": _data_view,
    "configure_pipeline": _configure_pipeline,
}


def _serve() -> int:
    """The child: read the request, run the call with progress and cancel, answer in JSON lines."""
    out = sys.stdout
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(message, default=str) + "\n")
            out.flush()

    request = json.loads(sys.stdin.readline() or "{}")
    cancel = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            if line.strip() == "cancel":
                break
        cancel.set()  # "cancel", or the parent went away

    threading.Thread(target=listen, name="cancel-listener", daemon=True).start()
    try:
        call = CALLS[request["call"]]
        done = call(Path(request["path"]), lambda line: send({"line": line}), cancel,
                    **(request.get("kwargs") or {}))
    except CancelledError as exc:
        send({"cancelled": str(exc)})
        return 130
    except WorkbenchError as exc:
        send({"error": str(exc)})
        return 2
    except Exception as exc:  # a bug: still one line for the person, the traceback on stderr
        import traceback

        traceback.print_exc()
        send({"error": f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)"})
        return 1
    send({"done": done})
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())
