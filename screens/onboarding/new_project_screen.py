"""The new-project wizard: the charter on one form, then git + DVC + the first commit in a worker.

Validation runs before anything is written (``validate_charter``), and the one-line
error is shown as a notification with the focus on the field to fix. Creating runs
``create_project`` in a thread worker; its progress lines stream into the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    Log,
    ProgressBar,
    RadioButton,
    RadioSet,
    Select,
    Static,
    TextArea,
)
from textual.worker import get_current_worker

from screens.base import WorkbenchScreen, make_footer, make_header, notify_error, post_core_result
from workbench.errors import WorkbenchError
from workbench.project import (
    CONFIG_NAME,
    ROLES,
    TASKS,
    Charter,
    TeamMember,
    parse_success_metric,
    validate_charter,
    validate_name,
)

METRIC_PLACEHOLDER = "e.g. recall >= 0.80 at precision >= 0.50"  # an example, never taken for a value


def default_folder(launch_path: Path) -> str:
    """The launch folder when it can become a project, else a new sub-folder of it."""
    if (launch_path / CONFIG_NAME).exists():
        return str(launch_path / "new-project")
    return str(launch_path)


class NewProjectScreen(WorkbenchScreen):
    """The charter wizard (escape goes back; ctrl+s creates)."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "create", "Create project"),
    ]

    @dataclass
    class Progress(Message):
        """One progress line from create_project."""

        line: str

    @dataclass
    class Created(Message):
        """The project exists and is committed."""

        path: Path
        messages: tuple[str, ...]

    @dataclass
    class Failed(Message):
        """create_project refused or failed; ``message`` is the one-line error."""

        message: str

    def __init__(self, launch_path: Path) -> None:
        super().__init__()
        self.launch_path = launch_path
        self.team: list[TeamMember] = []
        self.creating = False

    def compose(self) -> ComposeResult:
        folder = default_folder(self.launch_path)
        yield make_header()
        with VerticalScroll(id="wizard"):
            yield Static("New project: the charter", classes="screen-title")
            with Grid(id="wizard-form"):
                yield Label("Folder")
                yield Input(folder, id="folder", compact=True,
                            tooltip="created if missing; git and DVC are set up in it")
                yield Label("Project name")
                yield Input(Path(folder).name, placeholder="fraud-detection", id="name", compact=True)
                yield Label("Problem statement")
                yield TextArea(id="problem", compact=True, soft_wrap=True)
                yield Label("Business owner")
                yield Input(placeholder="who owns the outcome, e.g. Dana Ortiz", id="owner", compact=True)
                yield Label("Success metric")
                yield Input(placeholder=METRIC_PLACEHOLDER, id="metric", compact=True)
                yield Label("Task")
                with RadioSet(id="task", compact=True):
                    for i, task in enumerate(TASKS):
                        yield RadioButton(task, value=i == 0, id=f"task-{task}")
                yield Label("Add a member")
                with Horizontal(id="member-row"):
                    yield Input(placeholder="name", id="member-name", compact=True)
                    yield Input(placeholder="email", id="member-email", compact=True)
                    yield Select(((label, key) for key, label in ROLES.items()),
                                 value="data_scientist", allow_blank=False, id="member-role",
                                 compact=True)
                    yield Button("Add", id="member-add", compact=True)
                yield Label("Team")
                with Vertical(id="team-box"):
                    yield DataTable(id="members", cursor_type="row", zebra_stripes=True)
                    yield Button("Remove selected member", id="member-remove", compact=True)
            with Horizontal(id="wizard-actions"):
                yield Button("Create project", variant="primary", id="create")
                yield Button("Back", id="back")
            with Vertical(id="create-progress"):
                yield ProgressBar(total=None, show_eta=False, id="create-bar")
                yield Log(id="create-log", auto_scroll=True)
        yield make_footer()

    def on_mount(self) -> None:
        table = self.query_one("#members", DataTable)
        table.add_columns("Name", "Email", "Role")
        self.query_one("#create-progress").display = False
        self.query_one("#folder", Input).focus()

    # --- team ---------------------------------------------------------------------

    def _member_from_row(self) -> TeamMember | None:
        name = self.query_one("#member-name", Input).value.strip()
        email = self.query_one("#member-email", Input).value.strip()
        role = self.query_one("#member-role", Select).value
        if not name and not email:
            return None
        return TeamMember(name=name, email=email, role=str(role))

    def _add_member(self) -> bool:
        """Add the member typed in the row; False (and a notification) when it is invalid."""
        member = self._member_from_row()
        if member is None:
            return True
        try:
            validate_charter(Charter(name="x", problem="", business_owner="", success_metric="",
                                     team=(member,)))
        except WorkbenchError as exc:
            notify_error(self, str(exc))
            self._mark_invalid("#member-email" if "email" in str(exc) else "#member-name", str(exc))
            return False
        self.team.append(member)
        self.query_one("#members", DataTable).add_row(member.name, member.email, ROLES[member.role])
        for field in ("#member-name", "#member-email"):
            self.query_one(field, Input).value = ""
        self.query_one("#member-name", Input).focus()
        return True

    @on(Button.Pressed, "#member-add")
    @on(Input.Submitted, "#member-name, #member-email")
    def _on_add(self) -> None:
        self._add_member()

    @on(Button.Pressed, "#member-remove")
    def _on_remove(self) -> None:
        table = self.query_one("#members", DataTable)
        if not self.team or table.row_count == 0:
            return
        row = min(table.cursor_row, len(self.team) - 1)
        del self.team[row]
        table.clear()
        for member in self.team:
            table.add_row(member.name, member.email, ROLES[member.role])

    # --- create -------------------------------------------------------------------

    def charter(self) -> Charter:
        """The charter as typed so far."""
        task = TASKS[max(self.query_one("#task", RadioSet).pressed_index, 0)]
        return Charter(
            name=self.query_one("#name", Input).value.strip(),
            problem=self.query_one("#problem", TextArea).text.strip(),
            business_owner=self.query_one("#owner", Input).value.strip(),
            success_metric=self.query_one("#metric", Input).value.strip(),
            task=task,
            team=tuple(self.team),
        )

    def _field_of(self, charter: Charter) -> str:
        """Which field the validation error is about (checked in the core's order)."""
        try:
            validate_name(charter.name)
        except WorkbenchError:
            return "#name"
        if charter.success_metric:
            try:
                parse_success_metric(charter.success_metric, charter.task)
            except WorkbenchError:
                return "#metric"
        return "#member-name"

    def _mark_invalid(self, selector: str, message: str) -> None:
        """Mark the field the error is about, at the field (red, the message as its tooltip), and focus it.

        Nothing typed is cleared: every other field keeps its value (issue 16.9).
        """
        field = self.query_one(selector)
        field.add_class("-invalid")
        field.tooltip = message
        field.focus()

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _clear_invalid(self, event: Input.Changed | TextArea.Changed) -> None:
        widget = event.input if isinstance(event, Input.Changed) else event.text_area
        if widget.has_class("-invalid"):
            widget.remove_class("-invalid")
            widget.tooltip = None

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        if self.creating:
            return
        if not self._add_member():
            return
        charter = self.charter()
        try:
            validate_charter(charter)
        except WorkbenchError as exc:
            notify_error(self, str(exc))
            self._mark_invalid(self._field_of(charter), str(exc))
            return
        folder = self.query_one("#folder", Input).value.strip()
        if not folder:
            message = "the folder is empty: give a folder for the project (it may not exist yet)"
            notify_error(self, message)
            self._mark_invalid("#folder", message)
            return
        path = Path(folder).expanduser()
        if not path.is_absolute():
            path = self.launch_path / path
        self.creating = True
        self.query_one("#create-progress").display = True
        self.query_one("#create-bar").display = True
        self.query_one("#create-log", Log).clear()
        self.query_one("#create", Button).disabled = True
        self.query_one("#create-progress").scroll_visible()
        self.create(path, charter)

    @work(thread=True, exclusive=True, exit_on_error=False, group="create-project",
          description="create a project")
    def create(self, path: Path, charter: Charter) -> None:
        from workbench.new_project import create_project

        worker = get_current_worker()
        def created() -> Message:
            made = create_project(path, charter, progress=lambda line: self.post_message(self.Progress(line)),
                                  cancel=worker.cancelled_event)
            return self.Created(made.path, made.messages)

        post_core_result(self, created, self.Failed)

    def on_new_project_screen_progress(self, event: Progress) -> None:
        self.query_one("#create-log", Log).write_line(event.line.strip())

    def on_new_project_screen_failed(self, event: Failed) -> None:
        self.creating = False
        self.query_one("#create", Button).disabled = False
        self.query_one("#create-bar").display = False
        self.query_one("#create-log", Log).write_line(f"error: {event.message}")
        notify_error(self, event.message)
        self.query_one("#folder", Input).focus()

    def on_new_project_screen_created(self, event: Created) -> None:
        self.creating = False
        for message in event.messages:
            self.app.notify(message, markup=False)
        self.app.notify(f"Created project at {event.path}", markup=False)
        self.app.open_project(event.path)  # type: ignore[attr-defined]

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if self.creating:
            self.app.workers.cancel_group(self, "create-project")
            self.query_one("#create-log", Log).write_line("cancelling: nothing will be committed")
            return
        self.app.pop_screen()
