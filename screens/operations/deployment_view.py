"""The Deployment step: the model registry, the local prediction service and batch scoring.

The registry table is :func:`workbench.versioning.registry.read_registry` (GTO tags), read in
a thread worker. The service is ``mlops-workbench serve`` started as a subprocess for the
version under the table's cursor: a process of its own, so uvicorn never shares the
terminal or the event loop with the TUI, and stopping it is a signal. Its output goes to
``.workbench/cache/serve.log`` (git-ignored); the live request count comes from the
service's own ``GET /metadata``, polled twice a second in a worker. Batch scoring calls
:func:`workbench.operations.predict.score_file` in a worker with progress messages and the
worker's cancel event. Leaving the view stops the service it started.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, DataTable, Input, ProgressBar, Static

from screens.base import StepView, notify_error, post_core_result, set_disabled, step_ended
from workbench import jobs

if TYPE_CHECKING:
    from workbench.operations.predict import BatchResult
    from workbench.versioning.registry import Registry

REGISTRY_COLUMNS = (("version", "Version"), ("stages", "Stages"), ("commit", "Commit"),
                    ("when", "Registered"), ("by", "By"), ("approved", "Approved by"))
LOG_FILE = ".workbench/cache/serve.log"


def free_port() -> int:
    """A free loopback port for the service (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DeploymentView(StepView, VerticalScroll):
    """Registry versions and stages, the local service, batch scoring."""

    STEP_ID = "deployment"

    BINDINGS = [
        Binding("s", "start_service", "Start service"),
        Binding("x", "stop_service", "Stop service"),
        Binding("b", "score", "Batch score"),
        Binding("i", "register", "Register"),
        Binding("p", "promote", "Promote"),
    ]

    @dataclass
    class Loaded(Message):
        """The registry as GTO reads it."""

        registry: Registry

    @dataclass
    class Polled(Message):
        """The service's /metadata (None while it does not answer) and its exit code if it ended."""

        metadata: dict[str, Any] | None
        exit_code: int | None

    @dataclass
    class Progress(Message):
        """Batch scoring progress (coalesced: only the newest matters)."""

        done: int
        total: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DeploymentView.Progress)

    @dataclass
    class Scored(Message):
        result: BatchResult

    @dataclass
    class Registered(Message):
        """A registry write (register or promote) succeeded."""

        result: Any

    @dataclass
    class Readiness(Message):
        """What production would judge for a version, before the promote modal opens."""

        version: str
        evidence: Any
        governance: Any

    @dataclass
    class WriteFailed(Message):
        message: str

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.registry: Registry | None = None
        self.process: jobs.Popen[bytes] | None = None
        self.port: int | None = None
        self.serving_version: str | None = None
        self.metadata: dict[str, Any] | None = None
        self.scoring = False
        self._poll_timer: Any = None

    # --- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]Deployment[/b]  [dim]Operations[/dim]"), classes="view-title")
        yield Static("Reading the registry…", id="dep-state", classes="hint")
        yield DataTable(id="dep-registry", cursor_type="row", zebra_stripes=True)
        with Horizontal(classes="dep-buttons"):
            yield Button("Register…  i", id="dep-register", compact=True)
            yield Button("Promote…  p", id="dep-promote", compact=True)
        yield Static("", id="dep-registry-result")
        yield Static("Local prediction service", classes="dep-section")
        with Horizontal(classes="dep-buttons"):
            yield Button("Start service  s", id="dep-start", variant="primary", compact=True)
            yield Button("Stop service  x", id="dep-stop", compact=True, disabled=True)
        yield Static("Stopped.", id="dep-service")
        yield Static("Batch scoring (CSV or Parquet with the training features)", classes="dep-section")
        with Horizontal(id="dep-batch-row"):
            yield Input(placeholder="input file, e.g. incoming/batch.csv", id="dep-input", compact=True)
            yield Input(placeholder="output file (default: <input>.scored.csv)", id="dep-output", compact=True)
            yield Button("Score  b", id="dep-score", compact=True)
        yield ProgressBar(id="dep-progress", total=1, show_eta=False)  # idle: empty, not animating
        yield Static("", id="dep-batch-result")
        yield Static(Content.from_markup(
            "Headless: [b]$ mlops-workbench model register | promote V --stage production | "
            "bundle V | serve | predict IN -o OUT[/b]"), id="dep-headless")

    def on_mount(self) -> None:
        table = self.query_one("#dep-registry", DataTable)
        for key, label in REGISTRY_COLUMNS:
            table.add_column(label, key=key)
        self.quiet_inputs()
        incoming = sorted((self.path / "incoming").glob("*.csv")) if (self.path / "incoming").is_dir() else []
        if incoming:
            self.query_one("#dep-input", Input).value = str(incoming[0].relative_to(self.path))
        self.load()

    def on_unmount(self) -> None:
        self._stop_process(wait=5.0)

    # --- registry -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="deployment-load",
          description="read the registry")
    def load(self) -> None:
        from workbench.versioning.registry import read_registry

        post_core_result(self, lambda: self.Loaded(read_registry(self.path)), self.Failed)

    def on_deployment_view_loaded(self, event: Loaded) -> None:
        self.registry = reg = event.registry
        table = self.query_one("#dep-registry", DataTable)
        table.clear()
        for v in reg.versions:
            # rich Text: DataTable sizes an auto-width column from it (a Content cell was cut to the label)
            stages = Text(", ".join(v.stages), style="bold green") if v.stages else Text("-")
            table.add_row(v.version, stages, v.commit[:7], v.registered_at.replace("T", " ")[:16],
                          v.registered_by, v.approved_by or "-", key=v.version)
        state = self.query_one("#dep-state", Static)
        if not reg.versions:
            state.update(Content.from_markup(
                "No registered model yet. Commit a trained model, then register it: [b]i[/b]"))
            return
        held = [f"{stage}: {reg.stages.get(stage) or '-'}" for stage in reg.stage_names()]
        state.update(Content.assemble((f"{len(reg.versions)} version(s)", "bold"), "   ", "   ".join(held)))
        production = reg.stages.get("production")
        if production and production in {v.version for v in reg.versions}:
            table.move_cursor(row=table.get_row_index(production))

    # --- register and promote ---------------------------------------------------------

    @on(Button.Pressed, "#dep-register")
    def action_register(self) -> None:
        from screens.project.step_dialogs import RegisterScreen

        if self.registry is None:
            return
        suggestion = self.registry.next_version()

        def chosen(version: str | None) -> None:
            if version:
                self._write("register", version)

        self.app.push_screen(RegisterScreen(suggestion), chosen)

    @on(Button.Pressed, "#dep-promote")
    def action_promote(self) -> None:
        version = self.selected_version()
        if version is None:
            notify_error(self.screen, "no registered model to promote: register one first (n)")
            return
        self._readiness(version)

    @work(thread=True, exclusive=True, exit_on_error=False, group="deployment-write",
          description="read what production needs")
    def _readiness(self, version: str) -> None:
        from workbench.versioning.evidence import project_governance
        from workbench.versioning.registry import production_readiness

        post_core_result(self, lambda: self.Readiness(version, production_readiness(self.path, version),
                                                      project_governance(self.path)[0]), self.WriteFailed)

    def on_deployment_view_readiness(self, event: Readiness) -> None:
        from screens.base import ConfirmScreen
        from screens.project.step_dialogs import PromoteScreen

        ev, gov = event.evidence, event.governance
        needs = [f"validation passed for model {ev.model_digest or '?'}: {ev.validation}",
                 f"approvals: {len(ev.approvals)} of {gov.approvals} needed"
                 + (" (independent review)" if gov.independent_review else "")
                 + (f" - {ev.approver_line()}" if ev.approvals else ""),
                 f"data check GO and not stale: {ev.data_check_line or ev.data_check}"]
        version = event.version

        def confirmed(yes: bool | None, override: str | None) -> None:
            if yes:
                self._write("promote", version, "production", override)

        def chosen(answer: tuple[str, str | None] | None) -> None:
            if not answer:
                return
            stage, override = answer
            if stage != "production":
                self._write("promote", version, stage, None)
                return
            self.app.push_screen(ConfirmScreen(
                f"Promote {version} to production?",
                f"This assigns the production stage (a git tag) to {version}; the service and the "
                "monitoring then use it." + (f" The data check is overridden: {override}" if override else ""),
                "Promote to production"), lambda yes: confirmed(yes, override))

        self.app.push_screen(PromoteScreen(version, needs, list(ev.blockers), ev.data_check), chosen)

    def _write(self, action: str, version: str, stage: str | None = None, override: str | None = None) -> None:
        set_disabled(self, {"#dep-register": True, "#dep-promote": True})
        self.query_one("#dep-registry-result", Static).update(Content.from_markup("[dim]Writing the registry…[/dim]"))
        self._registry_write(action, version, stage, override)

    @work(thread=True, exclusive=True, exit_on_error=False, group="deployment-write",
          description="write the registry")
    def _registry_write(self, action: str, version: str, stage: str | None, override: str | None) -> None:
        from workbench.versioning.registry import promote_model, register_model

        def call() -> Message:
            if action == "register":
                return self.Registered(register_model(self.path, version))
            return self.Registered(promote_model(self.path, version, stage or "staging",
                                                 override_data_check=override))

        post_core_result(self, call, self.WriteFailed)

    def on_deployment_view_registered(self, event: Registered) -> None:
        done = event.result
        set_disabled(self, {"#dep-register": False, "#dep-promote": False})
        if done.stage:
            line = f"Promoted model {done.version} to {done.stage} (tag {done.tag}; approved by {done.approved_by})"
        else:
            line = (f"Registered model {done.version} (tag {done.tag}) for commit {done.commit[:7]}; "
                    f"validation {done.validation}, approved by {done.approved_by}")
        self.query_one("#dep-registry-result", Static).update(Content.assemble((line, "$success")))
        self.app.notify(line, markup=False)
        for note in done.messages:
            self.app.notify(note, markup=False, timeout=8)
        self.load()
        step_ended(self)

    def on_deployment_view_write_failed(self, event: WriteFailed) -> None:
        set_disabled(self, {"#dep-register": False, "#dep-promote": False})
        self.query_one("#dep-registry-result", Static).update(Content.assemble(("Refused: ", "bold $error"),
                                                                              event.message))
        notify_error(self.screen, event.message)

    def selected_version(self) -> str | None:
        """The version under the table's cursor (production when the table was just loaded)."""
        table = self.query_one("#dep-registry", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    # --- the service --------------------------------------------------------------------

    @on(Button.Pressed, "#dep-start")
    def action_start_service(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.app.notify(f"The service already runs {self.serving_version} on port {self.port}", markup=False)
            return
        version = self.selected_version()
        if version is None:
            notify_error(self.screen, "no registered model to serve: register one with "
                                      "'mlops-workbench model register'")
            return
        self.port = free_port()
        log = self.path / LOG_FILE
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.process = jobs.start_command(
                ["serve", "-C", str(self.path), "--version", version, "--port", str(self.port)],
                cwd=self.path, stdout=out, stderr=jobs.STDOUT, dies_with_parent=True,
                drop_env=("MLOPS_WORKBENCH_TOKEN",))  # loopback: no token
        self.serving_version = version
        self.metadata = None
        set_disabled(self, {"#dep-start": True, "#dep-stop": False})
        self.query_one("#dep-service", Static).update(Content.from_markup(
            f"[dim]Starting model {version} on 127.0.0.1:{self.port}…[/dim]"))
        if self._poll_timer is None:
            self._poll_timer = self.set_interval(0.5, self._poll)
        else:
            self._poll_timer.resume()

    def _poll(self) -> None:
        if self.process is not None:
            self.poll(self.process, self.port)

    @work(thread=True, exclusive=True, exit_on_error=False, group="deployment-poll",
          description="ask the service for its counters")
    def poll(self, process: jobs.Popen[bytes], port: int | None) -> None:
        import json
        import urllib.request

        code = process.poll()
        meta = None
        if code is None and port:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metadata", timeout=0.5) as resp:
                    meta = json.loads(resp.read())
            except (OSError, ValueError):
                meta = None
        self.post_message(self.Polled(meta, code))

    def on_deployment_view_polled(self, event: Polled) -> None:
        if self.process is None:
            return
        service = self.query_one("#dep-service", Static)
        if event.exit_code is not None:
            last = self._last_log_line()
            self._service_ended()
            if self.metadata is None:
                notify_error(self.screen, last or f"the service stopped (exit {event.exit_code})")
                service.update(Content.assemble(("Not running: ", "bold $error"), last or "see " + LOG_FILE))
            else:
                service.update("Stopped.")
            self.metadata = None
            return
        if event.metadata is None:
            return
        first = self.metadata is None
        self.metadata = meta = event.metadata
        requests, records = int(meta.get("requests", 0)), int(meta.get("records", 0))
        stage = f" ({meta['stage']})" if meta.get("stage") else ""
        service.update(Content.assemble(
            ("Running ", "bold $success"), f"model {meta.get('version')}{stage} at ",
            (f"http://127.0.0.1:{self.port}", "bold $accent"), "   ",
            (f"{requests} request{'s' * (requests != 1)}", "bold"), f" ({records} records, "
            f"{meta.get('rejected', 0)} rejected)   POST /predict · GET /health · GET /metadata"))
        if first:
            self.app.notify(f"Serving model {meta.get('version')} at http://127.0.0.1:{self.port}", markup=False)

    def _last_log_line(self) -> str:
        try:
            lines = (self.path / LOG_FILE).read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        line = lines[-1] if lines else ""
        return line.removeprefix("mlops-workbench: error: ")

    def _service_ended(self) -> None:
        self.process = None
        if self._poll_timer is not None:
            self._poll_timer.pause()
        set_disabled(self, {"#dep-start": False, "#dep-stop": True})

    @on(Button.Pressed, "#dep-stop")
    def action_stop_service(self) -> None:
        if self.process is None:
            return
        self._stop_process(wait=10.0)
        self._service_ended()
        self.metadata = None
        self.query_one("#dep-service", Static).update("Stopped.")
        self.app.notify("The prediction service stopped", markup=False)

    def _stop_process(self, *, wait: float) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # uvicorn shuts down gracefully on SIGTERM
        try:
            proc.wait(timeout=wait)
        except jobs.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    # --- batch scoring --------------------------------------------------------------------

    @on(Button.Pressed, "#dep-score")
    @on(Input.Submitted, "#dep-input, #dep-output")
    def action_score(self) -> None:
        if self.scoring:
            return
        raw_in = self.query_one("#dep-input", Input).value.strip()
        if not raw_in:
            notify_error(self.screen, "give the file to score: a CSV or Parquet file with the training features")
            return
        source = Path(raw_in) if Path(raw_in).is_absolute() else self.path / raw_in
        raw_out = self.query_one("#dep-output", Input).value.strip()
        target = (Path(raw_out) if Path(raw_out).is_absolute() else self.path / raw_out) if raw_out else \
            source.with_name(f"{source.stem}.scored.csv")
        self.scoring = True
        self.query_one("#dep-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#dep-batch-result", Static).update(Content.from_markup("[dim]Scoring…[/dim]"))
        self.score(source, target, self.selected_version())

    @work(thread=True, exclusive=True, exit_on_error=False, group="deployment-score",
          description="batch scoring")
    def score(self, source: Path, target: Path, version: str | None) -> None:
        from textual.worker import get_current_worker

        from workbench.operations.predict import score_file

        worker = get_current_worker()
        def scored() -> Message:
            return self.Scored(score_file(
                self.path, source, target, version=version,
                progress=lambda done, total: self.post_message(self.Progress(done, total)),
                cancel=worker.cancelled_event))

        post_core_result(self, scored, self.Failed)

    def on_deployment_view_progress(self, event: Progress) -> None:
        self.query_one("#dep-progress", ProgressBar).update(total=max(event.total, 1), progress=event.done)

    def on_deployment_view_scored(self, event: Scored) -> None:
        self.scoring = False
        r = event.result
        shown = _relative(Path(r.output), self.path)
        text = f"Scored {r.rows} rows with model {r.version} in {r.seconds:.1f} s -> {shown}"
        self.query_one("#dep-progress", ProgressBar).update(total=max(r.rows, 1), progress=max(r.rows, 1))
        self.query_one("#dep-batch-result", Static).update(text)
        self.app.notify(text, markup=False)

    def on_step_view_failed(self, event: StepView.Failed) -> None:
        self.scoring = False
        self.query_one("#dep-batch-result", Static).update("")
        notify_error(self.screen, event.message)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
