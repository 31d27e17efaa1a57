"""The Requirements step: the charter as a form, saved with ``update_charter`` (one commit per save).

The form sends only what differs from the charter it loaded, so an untouched field never
trips validation and the commit subject names exactly what changed. Team edits are sent
as removals and additions (an existing name is updated), which keeps the order the form
shows and gives the core's readable summaries ("add team member Sam Lee (ml_engineer)").
The parsed success gate is shown live as you type; that parse is pure, so it runs on the
UI thread, while reading and saving the charter run in thread workers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Select, Static, TextArea

from screens.base import (
    EDIT_KEY,
    EDIT_TOOLTIP,
    StepView,
    notify_error,
    post_core_result,
    step_ended,
)
from workbench.errors import WorkbenchError
from workbench.project import ROLES, TASKS, Charter, TeamMember, validate_charter

if TYPE_CHECKING:
    from workbench.design.requirements import CharterSaved

METRIC_PLACEHOLDER = "e.g. recall >= 0.80 at precision >= 0.50"  # an example, never taken for a value
TEAM_COLUMNS = (("name", "Name"), ("email", "Email"), ("role", "Role"))


def member_key(name: str) -> str:
    """Team members are one per name, compared without case (as the core does)."""
    return name.strip().casefold()


class TeamTable(DataTable[str]):
    """The team; enter puts a member in the row below for editing, delete takes one off."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Edit member"),
        Binding("delete", "remove_member", "Remove member"),
    ]

    @dataclass
    class RemoveMember(Message):
        """Delete was pressed on a member."""

    def action_remove_member(self) -> None:
        self.post_message(self.RemoveMember())


class RequirementsView(StepView, VerticalScroll):
    """The charter: problem, owner, success metric and its gate, task, constraints, team."""

    STEP_ID = "requirements"
    STATE_ID = "#req-state"

    can_focus = False  # tab from the sidebar lands on the first field, not the scroll box

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+z", "revert", "Revert", show=False),
        Binding(EDIT_KEY, "edit_file", "Edit file", tooltip=EDIT_TOOLTIP),
    ]

    @dataclass
    class Loaded(Message):
        """The charter as stored in workbench.yaml."""

        charter: Charter

    @dataclass
    class Saved(Message):
        """update_charter's result (``commit`` is None when nothing changed)."""

        result: CharterSaved

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.charter: Charter | None = None
        self.team: list[TeamMember] = []
        self.saving = False

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(
            Content.from_markup("[b]Requirements[/b]  [dim]Design[/dim]"), classes="view-title"
        )
        yield Static("Reading the charter…", id="req-state", classes="hint")
        with Grid(id="req-form"):
            yield Label("Problem")
            with Vertical(classes="req-cell"):  # a grid row sizes a bare TextArea to its text
                yield TextArea(id="req-problem", compact=True, soft_wrap=True)
            yield Label("Business owner")
            yield Input(placeholder="who owns the outcome", id="req-owner", compact=True)
            yield Label("Success metric")
            with Vertical(classes="req-cell"):
                yield Input(placeholder=METRIC_PLACEHOLDER, id="req-metric", compact=True)
                yield Static("", id="req-gate")
            yield Label("Task")
            yield Select(
                ((t, t) for t in TASKS),
                value=TASKS[0],
                allow_blank=False,
                id="req-task",
                compact=True,
            )
            yield Label("Latency (ms)")
            yield Input(
                placeholder="e.g. 50 (empty: no limit)",
                id="req-latency",
                restrict=r"\d*",
                compact=True,
            )
            yield Label("Interpretability")
            yield Input(
                placeholder="what people must be able to see",
                id="req-interpretability",
                compact=True,
            )
            yield Label("Privacy")
            yield Input(
                placeholder="what data may not be used or leave", id="req-privacy", compact=True
            )
            yield Label("Team")
            with Vertical(classes="req-cell"):
                yield TeamTable(id="req-team", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="req-member-row"):
                    yield Input(placeholder="name", id="req-member-name", compact=True)
                    yield Input(placeholder="email", id="req-member-email", compact=True)
                    yield Select(
                        ((label, key) for key, label in ROLES.items()),
                        value="data_scientist",
                        allow_blank=False,
                        id="req-member-role",
                        compact=True,
                    )
                with Horizontal(classes="req-buttons"):
                    yield Button("Add / update member", id="req-member-add", compact=True)
                    yield Button("Remove selected", id="req-member-remove", compact=True)
        with Horizontal(id="req-actions", classes="req-buttons"):
            yield Button("Save  ctrl+s", variant="primary", id="req-save", compact=True)
            yield Button("Revert", id="req-revert", compact=True)
        yield Static("", id="req-result", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one("#req-team", DataTable)
        for key, label in TEAM_COLUMNS:
            table.add_column(label, key=key)
        self.quiet_inputs("Input, TextArea")
        self.load()

    def action_edit_file(self) -> None:
        from workbench.project import CONFIG_NAME

        self.edit_file(self.path / CONFIG_NAME)

    # --- workers --------------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="requirements-load",
        description="read the charter",
    )
    def load(self) -> None:
        from workbench.project import Project

        post_core_result(self, lambda: self.Loaded(Project(self.path).read_charter()), self.Failed)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="requirements-save",
        description="save the charter",
    )
    def save(self, changes: dict[str, Any]) -> None:
        from workbench.design.requirements import update_charter

        post_core_result(self, lambda: self.Saved(update_charter(self.path, **changes)), self.Failed)

    # --- messages -------------------------------------------------------------------

    def on_requirements_view_loaded(self, event: Loaded) -> None:
        self.fill(event.charter)

    def on_requirements_view_saved(self, event: Saved) -> None:
        self.saving = False
        result = event.result
        for message in result.messages:
            self.app.notify(message, markup=False)
        if result.commit is None:
            text = "Nothing changed"
        else:
            text = f"Saved: {result.summary} (commit {result.commit[:7]})"
        self.app.notify(text, markup=False)
        self.query_one("#req-result", Static).update(text)
        self.fill(result.charter)
        if result.commit is not None:
            step_ended(self)

    def on_step_view_failed(self, event: StepView.Failed) -> None:
        self.saving = False
        notify_error(self.screen, event.message)
        self.query_one("#req-result", Static).update(Text(f"Not saved: {event.message}"))
        field = self._field_of(event.message)
        if field:
            self.query_one(field).focus()

    # --- the form -------------------------------------------------------------------

    def fill(self, charter: Charter) -> None:
        """Show ``charter`` in the form (it becomes the baseline the next save is compared with)."""
        self.charter = charter
        self.query_one("#req-problem", TextArea).text = charter.problem
        self.query_one("#req-owner", Input).value = charter.business_owner
        self.query_one("#req-metric", Input).value = charter.success_metric
        task = self.query_one("#req-task", Select)
        if charter.task in TASKS:
            task.value = charter.task
        c = charter.constraints
        latency = c.get("latency_ms")
        self.query_one("#req-latency", Input).value = "" if latency in (None, "") else str(latency)
        self.query_one("#req-interpretability", Input).value = str(c.get("interpretability") or "")
        self.query_one("#req-privacy", Input).value = str(c.get("privacy") or "")
        for field in self.query("#req-form Input").results(Input):
            field.cursor_position = 0  # long texts show their start, not their end
        self.team = list(charter.team)
        self._show_team()
        self._show_gate()

    def _show_team(self, cursor: str | None = None) -> None:
        table = self.query_one("#req-team", DataTable)
        table.clear()
        for m in self.team:
            table.add_row(m.name, m.email, m.role, key=member_key(m.name))
        if cursor is not None and cursor in {member_key(m.name) for m in self.team}:
            table.move_cursor(row=table.get_row_index(cursor))

    def _chosen_task(self) -> str:
        value = self.query_one("#req-task", Select).value
        return str(value) if value in TASKS else "classification"

    def _show_gate(self) -> None:
        from workbench.design.requirements import success_gate

        metric = self.query_one("#req-metric", Input).value
        gate = self.query_one("#req-gate", Static)
        probe = Charter(
            name="x", problem="", business_owner="", success_metric=metric, task=self._chosen_task()
        )
        try:
            clauses = success_gate(probe)
        except WorkbenchError as exc:
            gate.update(Content.assemble(("✘ ", "bold $error"), (str(exc), "$error")))
            return
        if not clauses:
            gate.update(Content.assemble(("no success gate yet", "$text-muted")))
            return
        parts: list[Any] = [("Gate: ", "$text-muted")]
        for i, clause in enumerate(clauses):
            if i:
                parts.append(("  and  ", "$text-muted"))
            parts.append((str(clause), "bold $success"))
            if clause.primary:
                parts.append((" (primary)", "$text-muted"))
        gate.update(Content.assemble(*parts))

    @on(Input.Changed, "#req-metric")
    @on(Select.Changed, "#req-task")
    def _on_metric_changed(self) -> None:
        self._show_gate()

    def changes(self) -> dict[str, Any]:
        """The keyword arguments for ``update_charter``: only what differs from the loaded charter."""
        old = self.charter
        if old is None:
            return {}
        out: dict[str, Any] = {}
        problem = self.query_one("#req-problem", TextArea).text
        if problem.strip() != old.problem.strip():
            out["problem"] = problem
        owner = self.query_one("#req-owner", Input).value
        if owner.strip() != old.business_owner.strip():
            out["business_owner"] = owner
        metric = self.query_one("#req-metric", Input).value
        if " ".join(metric.split()) != " ".join(old.success_metric.split()):
            out["success_metric"] = metric
        if self._chosen_task() != old.task:
            out["task"] = self._chosen_task()
        constraints: dict[str, Any] = {}
        latency = self.query_one("#req-latency", Input).value.strip()
        stored = old.constraints.get("latency_ms")
        if latency != ("" if stored in (None, "") else str(stored)):
            constraints["latency_ms"] = latency
        for key in ("interpretability", "privacy"):
            value = self.query_one(f"#req-{key}", Input).value.strip()
            if value != str(old.constraints.get(key) or "").strip():
                constraints[key] = value
        if constraints:
            out["constraints"] = constraints
        now = {member_key(m.name): m for m in self.team}
        before = {member_key(m.name): m for m in old.team}
        removed = [m.name for k, m in before.items() if k not in now]
        added = [m for k, m in now.items() if before.get(k) != m]
        if removed:
            out["remove_members"] = removed
        if added:
            out["add_members"] = added
        return out

    def is_dirty(self) -> bool:
        return bool(self.changes())

    @on(Button.Pressed, "#req-save")
    def action_save(self) -> None:
        if self.saving or self.charter is None:
            return
        if not self._add_member(quiet=True):
            return
        changes = self.changes()
        if not changes:
            self.app.notify("Nothing changed", markup=False)
            self.query_one("#req-result", Static).update("Nothing changed")
            return
        self.saving = True
        self.query_one("#req-result", Static).update("Saving…")
        self.save(changes)

    @on(Button.Pressed, "#req-revert")
    def action_revert(self) -> None:
        if self.charter is not None:
            self.fill(self.charter)
            self.query_one("#req-result", Static).update("Reverted to the saved charter.")

    @staticmethod
    def _field_of(message: str) -> str | None:
        """The field a core error is about, to put the focus there."""
        lowered = message.lower()
        for words, field in (
            ("success metric", "#req-metric"),
            ("problem", "#req-problem"),
            ("business owner", "#req-owner"),
            ("latency", "#req-latency"),
            ("task ", "#req-task"),
            ("team member", "#req-member-name"),
        ):
            if words in lowered:
                return field
        return None

    # --- team -----------------------------------------------------------------------

    def _add_member(self, *, quiet: bool = False) -> bool:
        """Add (or update, by name) the member typed in the row; False with an error if invalid."""
        name = self.query_one("#req-member-name", Input).value.strip()
        email = self.query_one("#req-member-email", Input).value.strip()
        if not name and not email:
            if not quiet:
                notify_error(self.screen, "a team member has no name: type a name, then add")
                self.query_one("#req-member-name", Input).focus()
            return True
        member = TeamMember(
            name=name, email=email, role=str(self.query_one("#req-member-role", Select).value)
        )
        try:
            validate_charter(
                replace(
                    Charter(name="x", problem="", business_owner="", success_metric=""),
                    team=(member,),
                )
            )
        except WorkbenchError as exc:
            notify_error(self.screen, str(exc))
            self.query_one("#req-member-name", Input).focus()
            return False
        key = member_key(name)
        index = next((i for i, m in enumerate(self.team) if member_key(m.name) == key), None)
        if index is None:
            self.team.append(member)
        else:
            self.team[index] = member
        self._show_team(cursor=key)
        for field in ("#req-member-name", "#req-member-email"):
            self.query_one(field, Input).value = ""
        if not quiet:
            self.query_one("#req-member-name", Input).focus()
        return True

    @on(Button.Pressed, "#req-member-add")
    @on(Input.Submitted, "#req-member-name, #req-member-email")
    def _on_add_member(self, event: Message) -> None:
        event.stop()
        self._add_member()

    @on(Button.Pressed, "#req-member-remove")
    def _on_remove_member(self) -> None:
        self._remove_highlighted()

    def _remove_highlighted(self) -> None:
        table = self.query_one("#req-team", DataTable)
        if table.row_count == 0:
            return
        row = table.cursor_row
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self.team = [m for m in self.team if member_key(m.name) != key]
        self._show_team()
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    @on(DataTable.RowSelected, "#req-team")
    def _on_member_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a member puts it in the row below for editing (add again to update)."""
        member = next((m for m in self.team if member_key(m.name) == event.row_key.value), None)
        if member is None:
            return
        self.query_one("#req-member-name", Input).value = member.name
        self.query_one("#req-member-email", Input).value = member.email
        if member.role in ROLES:
            self.query_one("#req-member-role", Select).value = member.role
        self.query_one("#req-member-email", Input).focus()

    def on_team_table_remove_member(self, event: TeamTable.RemoveMember) -> None:
        event.stop()
        self._remove_highlighted()

    @on(DataTable.HeaderSelected, "#req-team")
    def _on_sort(self, event: DataTable.HeaderSelected) -> None:
        table = self.query_one("#req-team", DataTable)
        key = str(event.column_key.value)
        reverse = getattr(self, "_sort", None) == (key, False)
        self._sort = (key, reverse)
        table.sort(key, reverse=reverse)
