"""The CI/CD step: the generated workflow, and the headless check run from the screen.

``Generate workflow`` calls :func:`workbench.operations.cicd.init_ci` (one commit);
``Run check`` calls :func:`workbench.operations.cicd.run_check`, which asks DVC whether the
pipeline is up to date, so both run in thread workers and report back with messages.
The table shows the same lines, severities and exit code as ``mlops-workbench check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from screens.base import (
    EDIT_KEY,
    EDIT_TOOLTIP,
    StepView,
    notify_error,
    post_core_result,
    step_ended,
)

if TYPE_CHECKING:
    from workbench.operations.cicd import CheckReport, CiInit

SEVERITY_STYLE = {"ok": ("ok", "$success"), "skip": ("--", "$text-muted"),
                  "action": ("action", "$warning"), "fail": ("FAIL", "$error")}
RESULT_WORDS = {"ok": "all clear", "action": "action recommended", "fail": "a gate fails"}


class CiCdView(StepView, VerticalScroll):
    """Workflow file and the check's verdict."""

    STEP_ID = "ci_cd"

    BINDINGS = [
        Binding("c", "run_check", "Run check"),
        Binding("g", "generate", "Generate workflow"),
        Binding(EDIT_KEY, "edit_file", "Edit file", tooltip=EDIT_TOOLTIP),
    ]

    @dataclass
    class Checked(Message):
        report: CheckReport

    @dataclass
    class Generated(Message):
        result: CiInit

    @dataclass
    class WorkflowRead(Message):
        """Whether the workflow file exists (read in a worker)."""

        exists: bool
        text: str = ""  # the file's content when it exists

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.busy = False
        self.workflow_file: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]CI/CD[/b]  [dim]Operations[/dim]"), classes="view-title")
        yield Static("", id="ci-state")
        with Horizontal(id="ci-actions"):
            yield Button("Run check  c", id="ci-run-check", variant="primary", compact=True)
            yield Button("Generate workflow  g", id="ci-generate", compact=True)
        yield Static("", id="ci-result")
        yield DataTable(id="ci-checks", cursor_type="row", zebra_stripes=True)
        yield Static("", id="ci-detail")
        yield Static("", id="ci-workflow")
        yield Static("", id="ci-file")  # the workflow's YAML, highlighted, read-only (ctrl+o edits it)

    def on_mount(self) -> None:
        table = self.query_one("#ci-checks", DataTable)
        table.add_column("Check", key="name")
        table.add_column("Result", key="severity")
        table.add_column("Detail", key="detail")
        self.show_workflow()
        self.action_run_check()

    def reload(self) -> None:
        self.show_workflow()
        self.action_run_check()

    # --- workflow -----------------------------------------------------------------

    def show_workflow(self) -> None:
        """Read whether the workflow file exists in a worker (finding the repository runs git)."""
        self._read_workflow()

    @work(thread=True, exclusive=True, group="ci-workflow")
    def _read_workflow(self) -> None:
        from workbench.operations.cicd import WORKFLOW_PATH
        from workbench.versioning.history import repo_root_or_self

        file = repo_root_or_self(self.path) / WORKFLOW_PATH
        try:
            text = file.read_text(encoding="utf-8", errors="replace") if file.is_file() else None
        except OSError:
            text = None
        self.workflow_file = file
        self.post_message(self.WorkflowRead(text is not None, text or ""))

    def on_ci_cd_view_workflow_read(self, message: WorkflowRead) -> None:
        from workbench.operations.cicd import WORKFLOW_PATH, workflow_steps

        steps = "\n".join(f"  {i}. {s.name}: $ {s.run}" for i, s in enumerate(workflow_steps(), 1))
        if message.exists:
            head = Content.assemble(("Workflow: ", "bold"), (WORKFLOW_PATH, "$accent"),
                                    " (CI runs these steps on every push and pull request)")
        else:
            head = Content.assemble(("No CI workflow yet. ", "bold"),
                                    "Generate one (g): it will run these steps on every push:")
        self.set_state(head, "#ci-state")
        self.refresh_bindings()
        shown = self.query_one("#ci-file", Static)
        shown.display = message.exists
        if message.exists:
            from rich.syntax import Syntax

            shown.update(Syntax(message.text.rstrip("\n"), "yaml", line_numbers=True, word_wrap=False,
                                background_color="default", theme="ansi_dark"))
            shown.border_title = f"{WORKFLOW_PATH}  (read-only; {EDIT_KEY} opens it in $EDITOR)"
        self.query_one("#ci-workflow", Static).update(
            Content.assemble(steps, "\n\n", ("Headless: ", "dim"), ("$ mlops-workbench check", "$accent"),
                             ("  exits 0 all clear, 1 a gate fails, 3 action recommended", "dim")))

    # --- actions -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit_file":  # in the footer only once there is a workflow to edit
            return self.workflow_file is not None and self.workflow_file.is_file()
        return True

    def action_edit_file(self) -> None:
        from workbench.operations.cicd import WORKFLOW_PATH
        from workbench.versioning.history import repo_root_or_self

        self.edit_file(self.workflow_file or repo_root_or_self(self.path) / WORKFLOW_PATH, "#ci-state")

    def action_run_check(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.query_one("#ci-result", Static).update(Content.from_markup("[dim]Checking…[/dim]"))
        self._check()

    def action_generate(self) -> None:
        if self.busy:
            return
        self.busy = True
        self._generate()

    @on(Button.Pressed, "#ci-run-check")
    def _run_pressed(self) -> None:
        self.action_run_check()

    @on(Button.Pressed, "#ci-generate")
    def _generate_pressed(self) -> None:
        self.action_generate()

    @work(thread=True, exclusive=True, group="ci")
    def _check(self) -> None:
        from workbench.operations.cicd import run_check

        post_core_result(self, lambda: self.Checked(run_check(self.path)), self.Failed)

    @work(thread=True, exclusive=True, group="ci")
    def _generate(self) -> None:
        from workbench.operations.cicd import init_ci

        post_core_result(self, lambda: self.Generated(init_ci(self.path)), self.Failed)

    # --- results -------------------------------------------------------------------

    def on_ci_cd_view_checked(self, message: Checked) -> None:
        self.busy = False
        report = self.report = message.report
        table = self.query_one("#ci-checks", DataTable)
        table.clear()
        for item in report.items:
            word, style = SEVERITY_STYLE[item.severity]
            table.add_row(item.name, Content.styled(word, style), item.detail, key=item.name)
        word, style = SEVERITY_STYLE[report.severity]
        self.query_one("#ci-result", Static).update(Content.assemble(
            ("Result: ", "bold"), (RESULT_WORDS[report.severity], f"bold {style}"),
            (f"  (check exits {report.exit_code})", "dim")))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        report = getattr(self, "report", None)
        item = next((i for i in report.items if i.name == event.row_key.value), None) if report else None
        if item is not None:
            self.query_one("#ci-detail", Static).update(
                Content.assemble((f"{item.name}: ", "bold"), item.detail))

    def on_ci_cd_view_generated(self, message: Generated) -> None:
        self.busy = False
        result = message.result
        if result.commit:
            self.app.notify(f"Wrote the CI workflow (commit {result.commit[:7]})")
        else:
            self.app.notify("The CI workflow is already up to date: nothing committed")
        for note in result.messages:
            self.app.notify(note, severity="warning", markup=False, timeout=10)
        self.show_workflow()
        step_ended(self)

    def on_step_view_failed(self, message: StepView.Failed) -> None:
        self.busy = False
        self.query_one("#ci-result", Static).update("")
        notify_error(self.screen, message.message)
