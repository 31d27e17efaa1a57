"""``serve``: check the arguments, load the bundle's scorer, fork the workers, run uvicorn.
"""

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.operations.serving.app import create_app
from workbench.operations.serving.guard import (
    TOKEN_ENV,
    check_origin,
    is_loopback,
    read_token,
    url_host,
)
from workbench.operations.serving.log import LOG_DIR, MAX_BODY_BYTES, PredictionLog, SharedState


def check_port(host: str, port: int) -> None:
    """Refuse (one line) a port that is not a number or is taken, before loading anything heavy."""
    if not 0 < port < 65536:
        raise WorkbenchError(f"--port {port} is not a port number: use 1-65535, e.g. --port 8000")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise WorkbenchError(f"--host {host!r} is not an address of this machine: use 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            raise WorkbenchError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None


def prepare(project_path: Path | None, *, bundle: Path | None = None, version: str | None = None,
            stage: str | None = None) -> tuple[Path, str | None]:
    """The bundle folder to serve and the stage label /metadata reports."""
    if bundle is not None:
        if version or stage:
            raise WorkbenchError("--bundle serves that folder: leave out --version and --stage")
        return Path(bundle).absolute(), None
    from workbench.operations.bundle import ensure_bundle
    from workbench.versioning.registry import STAGES, resolve_version

    if version and stage:
        raise WorkbenchError("give --version or --stage, not both")
    if stage and stage not in STAGES:
        raise WorkbenchError(f"stage {stage!r} is not known: use one of {', '.join(STAGES)}")
    root = Path(project_path or ".").absolute()
    target, _ = resolve_version(root, version, stage or "production")
    label = (stage or "production") if not version else (",".join(target.stages) or None)
    return ensure_bundle(root, target.version), label


def _checked(host: str, port: int, max_body_bytes: int, workers: int, cors_origins: tuple[str, ...],
             token_file: Path | None) -> tuple[tuple[str, ...], str | None, bool]:
    """(the CORS origins, the token, whether the bind is loopback), or the one-line refusal of an
    argument, before anything heavy is loaded."""
    check_port(host, port)
    if max_body_bytes < 1024:
        raise WorkbenchError(f"--max-body-bytes {max_body_bytes} is too small: use at least 1024")
    if not 1 <= workers <= MAX_WORKERS or (workers > 1 and not hasattr(os, "fork")):
        raise WorkbenchError(f"--workers {workers} is not possible here: use 1-{MAX_WORKERS} "
                             f"(this machine has {os.cpu_count()} cores; more than one needs fork)")
    origins = tuple(check_origin(o) for o in cors_origins)
    token = read_token(token_file)
    loopback = is_loopback(host)
    if token is None and not loopback:
        raise WorkbenchError(f"--host {host} is reachable from other machines and needs a token: put one in a "
                             f"file and pass --token-file PATH (or set ${TOKEN_ENV}); clients then send "
                             "'Authorization: Bearer <token>'")
    return origins, token, loopback


def serve(project_path: Path | None, *, bundle: Path | None = None, version: str | None = None,
          stage: str | None = None, host: str = "127.0.0.1", port: int = 8000, log_dir: Path | None = None,
          max_body_bytes: int = MAX_BODY_BYTES, token_file: Path | None = None,
          cors_origins: tuple[str, ...] = (), workers: int = 1, say: Callable[[str], None] | None = None) -> int:
    """Serve a registered version (or a bundle folder) until Ctrl-C / SIGTERM; returns 0.

    ``workers`` > 1 forks that many processes after the model is loaded (POSIX): they share
    the listening socket, the counters (:class:`SharedState`) and the log file, whose lines
    stay whole because each is one ``write`` on an ``O_APPEND`` descriptor.
    """
    import uvicorn

    from workbench.operations.predict import Scorer

    origins, token, loopback = _checked(host, port, max_body_bytes, workers, cors_origins, token_file)
    folder, label = prepare(project_path, bundle=bundle, version=version, stage=stage)
    scorer = Scorer.load(folder)
    from workbench.operations.onnx_export import onnx_scorer

    scorer = onnx_scorer(scorer, folder)  # onnxruntime when the bundle holds a verified model.onnx
    if log_dir is None:
        log_dir = (Path(project_path or ".").absolute() if bundle is None else Path.cwd()) / LOG_DIR
    log = PredictionLog(Path(log_dir))
    log.open()
    shared = SharedState(workers)
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    version_label = scorer.metadata.get("version", "?")
    say(f"Serving model {version_label}{f' ({label})' if label else ''} at http://{url_host(host)}:{port}  "
        f"POST /predict, GET /health, GET /metadata; logging to {log.path}"
        f"{f'; {workers} worker processes' if workers > 1 else ''}; Ctrl-C stops")
    if token is not None:
        say(f"note: listening on {host}; every request but GET /health needs 'Authorization: Bearer <token>'")
    sockets = [_listen(host, port)] if workers > 1 else None

    def run() -> Any:
        app = create_app(scorer, stage=label, log=log, max_body_bytes=max_body_bytes, token=token,
                         check_host=loopback, cors_origins=origins, shared=shared)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                server_header=False, lifespan="off")
        server = uvicorn.Server(config)
        try:
            server.run(sockets=sockets)
        finally:
            app.pool.shutdown(wait=False, cancel_futures=True)
        return server

    children = []
    for slot in range(1, workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve until told to stop, and stop when the first process dies
            code = 0
            try:
                _die_with_parent()
                shared.slot = slot
                run()
            except BaseException:  # noqa: BLE001 - a worker never returns into the parent's code
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    started = time.monotonic()
    try:
        server = run()
    finally:
        _stop_workers(children)
        log.close()
    if not server.started and time.monotonic() - started < 5:
        raise WorkbenchError(f"the service could not start on {host}:{port}: see the lines above")
    return 0


MAX_WORKERS = 32


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket the workers share."""
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise WorkbenchError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it (no 40 ms
    sock.listen(2048)                                            # Nagle + delayed-ACK stall per answer)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the first process dies (even by kill -9)."""
    import signal

    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent is already gone
        os._exit(0)


def _stop_workers(children: list[int]) -> None:
    import signal

    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 15
    for pid in children:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)
