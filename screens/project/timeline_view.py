"""The timeline view of the project screen: every versioned step read from git, in a sortable table.

Its own module so that the project screen's first paint imports no DataTable: the view
is built the first time the user opens it (a thousand experiment refs make a thousand
rows, which nobody needs on the dashboard).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from screens.project.project_screen import short_when
from workbench.textfmt import clip

if TYPE_CHECKING:
    from workbench.versioning.timeline import TimelineEntry

#: What people scan first comes first; the highlighted row's full text shows below the table.
TIMELINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("when", "When"), ("step", "Step"), ("summary", "Summary"), ("who", "Who"),
    ("role", "Role"), ("commit", "Commit"),
)
SUMMARY_WIDTH = 40


class TimelineView(Vertical):
    """Every versioned step, newest first; click a header or press o to sort."""

    BINDINGS = [Binding("o", "sort_next", "Sort")]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sort_column = "when"
        self.sort_reverse = True

    def compose(self) -> ComposeResult:
        yield Static("Timeline", classes="view-title")
        yield Static("Read from git: commits with a Workbench-Step trailer.", id="timeline-caption",
                     classes="hint")
        table: DataTable[str] = DataTable(id="timeline-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="timeline-detail")

    def on_mount(self) -> None:
        table = self.query_one("#timeline-table", DataTable)
        for key, label in TIMELINE_COLUMNS:
            table.add_column(label, key=key)

    def show_timeline(self, entries: tuple[TimelineEntry, ...]) -> None:
        self.entries = {e.ref or e.commit: e for e in entries}
        table = self.query_one("#timeline-table", DataTable)
        table.clear()
        for e in entries:
            table.add_row(short_when(e.when), e.step_title, clip(e.summary, SUMMARY_WIDTH), e.author,
                          e.role, e.short, key=e.ref or e.commit)
        self._apply_sort()
        counts = {kind: sum(e.kind == kind for e in entries) for kind in ("step", "registry", "experiment")}
        parts = [f"{counts['step']} versioned step{'s' * (counts['step'] != 1)}"]
        if counts["registry"]:
            parts.append(f"{counts['registry']} registry tag{'s' * (counts['registry'] != 1)}")
        if counts["experiment"]:
            parts.append(f"{counts['experiment']} experiment{'s' * (counts['experiment'] != 1)}")
        self.query_one("#timeline-caption", Static).update(
            ", ".join(parts) + ", read from git (step commits, registry tags, experiment refs)."
        )

    def _apply_sort(self) -> None:
        table = self.query_one("#timeline-table", DataTable)
        if table.row_count:
            table.sort(self.sort_column, reverse=self.sort_reverse)
        for key, label in TIMELINE_COLUMNS:
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            table.columns[key].label = Text(label + arrow)  # type: ignore[index]
        table.refresh()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        entry = getattr(self, "entries", {}).get(event.row_key.value)
        if entry is None:
            return
        self.query_one("#timeline-detail", Static).update(Content.assemble(
            (entry.short, "bold"), "  ", (entry.step_title, "bold"), ": ", entry.summary, "\n",
            ("by ", "dim"), f"{entry.author} <{entry.email}>", ("  as ", "dim"), entry.role or "-",
            ("  on ", "dim"), entry.when,
        ))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self.sort_reverse = not self.sort_reverse if key == self.sort_column else False
        self.sort_column = key
        self._apply_sort()

    def action_sort_next(self) -> None:
        keys = [k for k, _ in TIMELINE_COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_reverse = self.sort_column == "when"
        self._apply_sort()
