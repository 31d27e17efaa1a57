"""The new-project wizard: the charter on one form, then git + DVC + the first commit in a worker.

Validation runs before anything is written (``validate_charter``, and the shared remotes'
parse), and the one-line error is shown as a notification with the focus on the field to fix.
Creating runs ``create_project`` in a thread worker (:class:`ProjectJobScreen`); its progress
lines stream into the log. The optional git remote, DVC remote and S3 endpoint are ``new``'s
``--git-remote``, ``--dvc-remote`` and ``--dvc-endpoint``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
    TextArea,
)

from screens.base import make_footer, make_header, notify_error
from screens.onboarding.creating import ProjectJobScreen, folder_from
from screens.onboarding.remote_fields import RemoteFields, field_of
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


class NewProjectScreen(ProjectJobScreen):
    """The charter wizard (escape goes back; ctrl+s creates)."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "create", "Create project"),
    ]

    def __init__(self, launch_path: Path) -> None:
        super().__init__(launch_path)
        self.team: list[TeamMember] = []
        self.remotes = RemoteFields(self, "wiz")

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
                yield from self.remotes.compose()
            with Horizontal(id="wizard-actions"):
                yield Button("Create project", variant="primary", id="create")
                yield Button("Back", id="back")
            yield from self.progress_box()
        yield make_footer()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#members", DataTable)
        table.add_columns("Name", "Email", "Role")
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
            self.mark_invalid("#member-email" if "email" in str(exc) else "#member-name", str(exc))
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
            self.mark_invalid(self._field_of(charter), str(exc))
            return
        bad = self.remotes.first_invalid()
        if bad is not None:
            notify_error(self, bad[1])
            self.remotes.mark(*bad)
            return
        folder = self.query_one("#folder", Input).value.strip()
        if not folder:
            message = "the folder is empty: give a folder for the project (it may not exist yet)"
            notify_error(self, message)
            self.mark_invalid("#folder", message)
            return
        path = folder_from(folder, self.launch_path)
        remotes = self.remotes.values()

        def create(progress: Callable[[str], None], cancel: threading.Event) -> tuple[Path, tuple[str, ...]]:
            from workbench.new_project import create_project

            made = create_project(path, charter, git_remote=remotes.git, dvc_remote=remotes.dvc,
                                  dvc_endpoint=remotes.endpoint, progress=progress, cancel=cancel)
            return made.path, made.messages

        self.start_job("create a project", create)

    def job_failed(self, message: str) -> None:
        field = field_of(message)
        if field in ("git", "dvc", "endpoint"):
            self.remotes.mark(field, message)
        else:
            self.query_one("#folder", Input).focus()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()
