"""The Testing & validation step: every gate with pass / fail / skipped, its numbers and why.

"Run validation" calls :func:`workbench.development.validation.validate` in a thread worker
(it retrains the model and a dummy baseline in a subprocess, which takes seconds); its
progress lines go into a small log and the result comes back as a message. Cancel sets a
plain ``threading.Event`` that the core checks, which stops the retraining subprocess;
nothing is written or committed then. On opening, the last committed report is read (in a
worker too) and shown with whether it is about the current model.
"""

from __future__ import annotations

import threading
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
from textual.widgets import Button, DataTable, Input, RichLog, Static

from screens.base import StepView, notify_error, post_core_result, set_disabled, step_ended

if TYPE_CHECKING:
    from workbench.development.validation import ValidationResult

RESULT_STYLE = {True: ("pass", "$success"), False: ("FAIL", "$error"), None: ("skipped", "dim")}


def short(value: Any) -> str:
    """A gate's value or threshold in one table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {short(v)}" for k, v in value.items())
    return str(value)


class ValidationView(StepView, VerticalScroll):
    """The gates of the last validation, and validation run from the screen."""

    STEP_ID = "validation"
    STATE_ID = "#val-state"

    BINDINGS = [
        Binding("v", "run_validation", "Run validation"),
        Binding("x", "cancel_validation", "Cancel validation"),
        Binding("escape", "cancel_validation", "Cancel validation", show=False),
    ]

    @dataclass
    class Loaded(Message):
        """The committed report (None before the first validation)."""

        report: dict[str, Any] | None

    @dataclass
    class Line(Message):
        """One progress line from the core."""

        text: str

    @dataclass
    class Finished(Message):
        result: ValidationResult
        current: bool  # the report is about the workspace model

    @dataclass
    class Cancelled(Message):
        message: str

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.running = False
        self.cancel_event = threading.Event()
        self.report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]Testing & validation[/b]  [dim]Development[/dim]"),
                     classes="view-title")
        yield Static("", id="val-state")
        yield Static("Reading the last validation…", id="val-summary")
        with Horizontal(id="val-actions"):
            yield Input(placeholder="experiment (empty: the workspace model)", id="val-experiment",
                        compact=True)
            yield Button("Run validation  v", id="val-run", variant="primary", compact=True)
            yield Button("Cancel  x", id="val-cancel", variant="error", compact=True, disabled=True)
        from screens.project.progress import JobProgress

        yield JobProgress(id="val-progress")
        yield RichLog(id="val-log", max_lines=500, wrap=True, markup=False)
        yield DataTable(id="val-gates", cursor_type="row", zebra_stripes=True)
        yield Static("", id="val-detail")
        yield Static(Content.from_markup(
            "[dim]Gates live under [b]gates:[/b] in workbench.yaml. Headless: "
            "[b]$ mlops-workbench validate [EXPERIMENT][/b] (exit 0 pass, 1 fail)[/dim]"), classes="hint")

    def on_mount(self) -> None:
        table = self.query_one("#val-gates", DataTable)
        for key, label, width in (("gate", "Gate", 27), ("result", "Result", 7), ("value", "Value", 20),
                                  ("threshold", "Threshold", 20), ("why", "Why", None)):
            table.add_column(label, key=key, width=width)
        self.quiet_inputs("#val-experiment")
        self.load()

    # --- hooks from the project screen ------------------------------------------------

    def reload(self) -> None:
        if not self.running:
            self.load()

    # --- workers ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="validation-load",
          description="read the validation report")
    def load(self) -> None:
        from workbench.development.validation import read_validation

        post_core_result(self, lambda: self.Loaded(read_validation(self.path)), self.Failed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="validation-run",
          description="validate the model")
    def run_validation(self, experiment: str | None, cancel: threading.Event) -> None:
        from workbench.development.validation import validate
        from workbench.versioning.evidence import model_digest

        def finished() -> Message:
            result = validate(self.path, experiment, progress=lambda line: self.post_message(self.Line(line)),
                              cancel=cancel)
            current = result.report["model"].get("digest") == model_digest(self.path)
            return self.Finished(result, current)

        post_core_result(self, finished, self.Failed, cancelled=self.Cancelled)

    # --- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_validation":
            return True if self.running else None
        return True

    @on(Button.Pressed, "#val-run")
    def action_run_validation(self) -> None:
        if self.running:
            self.app.notify("Validation is already running: cancel it (x) or wait.", severity="warning")
            return
        experiment = self.query_one("#val-experiment", Input).value.strip() or None
        self.running = True
        self.cancel_event = threading.Event()
        self.query_one("#val-log", RichLog).clear()
        set_disabled(self, {"#val-run": True, "#val-cancel": False})
        self.query_one("#val-summary", Static).update(Content.from_markup(
            "[b]Validating[/b] $what…", what=f"experiment {experiment}" if experiment else "the workspace model"))
        self.refresh_bindings()
        self.query_one("#val-progress").start("validation")
        self.run_validation(experiment, self.cancel_event)

    @on(Button.Pressed, "#val-cancel")
    def action_cancel_validation(self) -> None:
        if self.running and not self.cancel_event.is_set():
            self.cancel_event.set()
            set_disabled(self, {"#val-cancel": True})
            self.query_one("#val-summary", Static).update("Cancelling…")

    def on_unmount(self) -> None:
        self.cancel_event.set()  # leaving the app mid-run stops the retraining subprocess

    def _done(self) -> None:
        self.running = False
        set_disabled(self, {"#val-run": False, "#val-cancel": True})
        self.query_one("#val-progress").finish()
        self.refresh_bindings()

    # --- results ----------------------------------------------------------------------

    def on_validation_view_line(self, message: Line) -> None:
        self.query_one("#val-log", RichLog).write(Text(message.text))
        if message.text.strip():
            self.query_one("#val-progress").stage(message.text.strip())

    def on_validation_view_loaded(self, message: Loaded) -> None:
        self.show_report(message.report)

    def on_validation_view_finished(self, message: Finished) -> None:
        self._done()
        result = message.result
        report = dict(result.report)
        report["current"] = message.current
        self.show_report(report)
        word = "passed" if result.passed else "failed"
        where = f" (commit {result.commit[:7]})" if result.commit else ""
        self.app.notify(f"Validation {word}{where}", severity="information" if result.passed else "warning")
        for note in result.messages:
            self.app.notify(note, severity="information", markup=False, timeout=8)
        step_ended(self)

    def on_validation_view_cancelled(self, message: Cancelled) -> None:
        self._done()
        self.app.notify(message.message, severity="warning", markup=False)
        self.show_report(self.report)

    def on_step_view_failed(self, message: StepView.Failed) -> None:
        if self.running:
            self._done()
            self.show_report(self.report)
        notify_error(self.screen, message.message)

    def show_report(self, report: dict[str, Any] | None) -> None:
        """Fill the summary and the gates table from a report (or say there is none)."""
        self.report = report
        table = self.query_one("#val-gates", DataTable)
        table.clear()
        summary = self.query_one("#val-summary", Static)
        if report is None:
            summary.update(Content.from_markup(
                "[b]Not validated yet.[/b] Run validation (v) to check the model against the gates."))
            self.query_one("#val-detail", Static).update("")
            return
        model = report.get("model") or {}
        verdict, style = ("PASSED", "$success") if report.get("passed") else ("FAILED", "$error")
        which = f"experiment {model.get('experiment')}" if model.get("experiment") else "the workspace model"
        current = report.get("current")
        summary.update(Content.assemble(
            (verdict, f"bold {style}"), f"  {which} {model.get('digest')}  ",
            (f"on {str(report.get('validated_at', ''))[:19]}", "dim"),
            ("" if current is not False else "  (this report is about another model: validate again)",
             "$warning")))
        for gate in report.get("gates") or []:
            word, style = RESULT_STYLE[gate.get("passed")]
            table.add_row(gate.get("title") or gate.get("name"), Content.styled(word, style),
                          short(gate.get("value")), short(gate.get("threshold")), gate.get("why") or "",
                          key=gate.get("name"))
        if table.row_count:
            self._show_detail(str(table.coordinate_to_cell_key((0, 0)).row_key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "val-gates" and event.row_key is not None:
            self._show_detail(str(event.row_key.value))

    def _show_detail(self, name: str) -> None:
        gate = next((g for g in (self.report or {}).get("gates") or [] if g.get("name") == name), None)
        detail = self.query_one("#val-detail", Static)
        if gate is None:
            detail.update("")
            return
        lines = [f"{gate.get('title') or name}: {gate.get('why')}"]
        for row in gate.get("details") or []:
            lines.append("  " + "  ".join(f"{k} {short(v)}" for k, v in row.items() if v not in ("", None)))
        detail.update(Text("\n".join(lines)))
