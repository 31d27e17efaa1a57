"""The Data availability step: the GO / NO-GO verdict, the sources, a column table and a plot.

Everything shown comes from what is committed: ``workbench.yaml`` (the registered sources),
``reports/data_check.json`` (the last check: verdict, reasons, per-column statistics and
histograms) and the sources' ``.dvc`` pointers (is the data still the version that was
checked?). All of it is read in one thread worker into a :class:`DataState`
(:mod:`workbench.design.data_check_state`); running the
check (``check_data``) and adding a source (``add_data``) are core calls in a second
worker group, which re-read the state when the core has committed, so the screen always
starts again from the repository rather than from what it thinks it did.

The distribution plot of the highlighted column is drawn from the histogram the report
holds. A report without one (written by an older workbench) is not an error: the
histogram is computed in a worker from the tracked file
(``data_check_state.histogram_from_file``), with pandas reading that one column only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Static

from screens.base import (
    StepView,
    notify_error,
    post_core_result,
    quiet_cursors,
    set_disabled,
    step_ended,
)
from workbench.design.data_check_state import (
    ColumnRow,
    DataState,
    SourceRow,
    histogram_from_file,
    read_state,
)
from workbench.errors import WorkbenchError
from workbench.textfmt import clip

if TYPE_CHECKING:
    from workbench.design.data_check import DataCheckReport
    from workbench.design.data_sources import AddedSource

#: (key, label, width): flags before the source, which is the same on every row of a one-file project.
TABLE_COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("column", "Column", 18),
    ("kind", "Type", None),
    ("missing", "Missing", None),
    ("distinct", "Distinct", None),
    ("flags", "Flags", None),
    ("source", "Source", 12),
)
#: Sorting these puts the largest first the first time (the problems are what people look for).
DESCENDING_FIRST = ("missing", "distinct", "flags")
MAX_LISTED = 6  # reasons / warnings shown before "... and N more"
PLOT_LABEL_WIDTH = 16

# A two-row block font, so the verdict reads from across the room.
_GLYPHS = {
    "G": ("█▀▀", "█▄█"),
    "O": ("█▀█", "█▄█"),
    "N": ("█▄ █", "█ ▀█"),
    "-": ("▄▄", "  "),
}


def big_word(word: str) -> str:
    """``word`` (letters of GO / NO-GO) in the two-row block font."""
    rows = [[], []]
    for ch in word:
        top, bottom = _GLYPHS.get(ch, (ch, " " * len(ch)))
        rows[0].append(top)
        rows[1].append(bottom)
    return "\n".join(" ".join(row) for row in rows)


def pct(share: float) -> str:
    """A share as the report writes it: one decimal, two near 100% (99.96% is not 100.0%)."""
    return f"{share * 100:.1f}%" if share < 0.995 or share == 1 else f"{share * 100:.2f}%"


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def when(iso: str) -> str:
    """``2026-05-31T23:58:54Z`` -> ``2026-05-31 23:58 UTC``."""
    text = iso.replace("T", " ")
    return text[:16] + (" UTC" if iso.endswith("Z") else "")


# --- the modal ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSource:
    """What the add form returns."""

    path: str
    name: str


class AddSourceScreen(ModalScreen["NewSource | None"]):
    """Ask for a data file or folder to register (and, optionally, the source's name)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, project_path: Path) -> None:
        super().__init__()
        self.project_path = project_path

    def compose(self) -> ComposeResult:
        with Vertical(id="dc-add-box"):
            yield Static("Add a data source", classes="view-title")
            yield Static(
                "A CSV, TSV or Parquet file, or a folder of them. A path outside the project is "
                "copied into data/; the data is tracked with DVC, pushed, and registered in one commit.",
                classes="hint",
            )
            yield Label(f"Path (absolute, or relative to {self.project_path.name}/)")
            yield Input(id="dc-add-path", placeholder="/path/to/data.csv", compact=True)
            yield Label("Name (optional; default: the file name without suffix)")
            yield Input(id="dc-add-name", placeholder="transactions", compact=True)
            with Horizontal(classes="dc-modal-buttons"):
                yield Button("Add", variant="primary", id="dc-add-ok", compact=True)
                yield Button("Cancel", id="dc-add-cancel", compact=True)

    def on_mount(self) -> None:
        quiet_cursors(self)  # type: ignore[arg-type]
        self.query_one("#dc-add-path", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "dc-add-path" and not self.query_one("#dc-add-name", Input).value:
            self.action_add()
        elif event.input.id == "dc-add-path":
            self.focus_next()
        else:
            self.action_add()

    @on(Button.Pressed, "#dc-add-ok")
    def action_add(self) -> None:
        path = self.query_one("#dc-add-path", Input).value.strip()
        if not path:
            notify_error(self, "give the path of a data file or folder (CSV, TSV or Parquet)")
            self.query_one("#dc-add-path", Input).focus()
            return
        self.dismiss(NewSource(path, self.query_one("#dc-add-name", Input).value.strip()))

    @on(Button.Pressed, "#dc-add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


# --- the view ------------------------------------------------------------------------------


class ColumnTable(DataTable[Any]):
    """The columns of every source; enter shows the highlighted column's plot."""


class DataCheckView(StepView, VerticalScroll):
    """Verdict first, then the sources, the columns (sortable) and the selected column's plot."""

    STEP_ID = "data_availability"
    STATE_ID = "#dc-state"
    STATE_WIDTH = 64  # one line: the verdict box below says the rest

    can_focus = False  # tab from the sidebar lands on the table, not the scroll box

    BINDINGS = [
        Binding("c", "run_check", "Run check"),
        Binding("a", "add_source", "Add source"),
        Binding("o", "sort_next", "Sort"),
        Binding("x", "cancel_check", "Cancel check"),
        Binding("space", "toggle_exclude", "Exclude/include"),
        Binding("h", "threshold", "Threshold"),
        Binding("f", "set_target", "Set target"),
    ]

    @dataclass
    class Loaded(Message):
        """The state read from the project."""

        state: DataState

    @dataclass
    class Progress(Message):
        """Progress of the running check (coalesced: only the newest matters)."""

        fraction: float | None
        text: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DataCheckView.Progress)

    @dataclass
    class Checked(Message):
        """check_data's report (committed) and the state read again after it."""

        report: DataCheckReport
        state: DataState

    @dataclass
    class Added(Message):
        """add_data's result (committed) and the state read again after it."""

        added: AddedSource
        state: DataState

    @dataclass
    class Failed(Message):
        """A one-line error from the core; ``writing`` when a check or add was running."""

        message: str
        writing: bool = False
        cancelled: bool = False

    @dataclass
    class ConfigChanged(Message):
        """A versioned config step (exclude, include, thresholds) is committed; the check runs next."""

        change: Any

    @dataclass
    class HistogramReady(Message):
        """A histogram computed from the data file for a column the report has none for."""

        key: str
        histogram: dict[str, Any] | None
        error: str = ""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.state: DataState | None = None
        self.rows: dict[str, ColumnRow] = {}
        self.sort_column: str | None = None  # None: the order of the file
        self.sort_reverse = False
        self.busy: str | None = None  # "check" / "add" while a write runs
        self.plotted: str | None = None  # the key of the column the plot shows
        self.computed: dict[str, dict[str, Any]] = {}  # histograms computed from the files

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]Data availability[/b]  [dim]Design[/dim]"),
                     classes="view-title")
        yield Static("Reading the data check…", id="dc-state", classes="hint")
        with Vertical(id="dc-verdict"):
            with Horizontal(id="dc-verdict-head"):
                yield Static("", id="dc-big")
                yield Static("", id="dc-meta")
            yield Static("", id="dc-reasons")
        yield Static("Sources", classes="dc-heading")
        yield Static("", id="dc-sources")
        with Horizontal(id="dc-actions"):
            yield Button("Run check  c", variant="primary", id="dc-run", compact=True)
            yield Button("Add source  a", id="dc-add", compact=True)
            yield Button("Cancel  x", id="dc-cancel", compact=True, disabled=True)
            yield Button("Exclude/include  space", id="dc-exclude", compact=True)
            yield Button("Threshold…  h", id="dc-threshold", compact=True)
            yield Button("Target…  f", id="dc-target", compact=True)
        with Vertical(id="dc-progress-box"):
            yield ProgressBar(id="dc-progress", total=100, show_eta=False)
            yield Static("", id="dc-progress-text")
        yield Static(Content.from_markup(
            "Columns [dim](click a header or press [b]o[/b] to sort; the plot follows the cursor)[/dim]"),
            id="dc-columns-heading", classes="dc-heading")
        yield ColumnTable(id="dc-columns", cursor_type="row", zebra_stripes=True)
        yield Static("", id="dc-column-detail")
        yield Vertical(id="dc-plot-box")

    def on_mount(self) -> None:
        table = self.query_one("#dc-columns", DataTable)
        for key, label, width in TABLE_COLUMNS:
            table.add_column(Text(label + " "), key=key, width=width)
        self.load()

    # --- workers --------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-check-load",
          description="read the data check")
    def load(self) -> None:
        post_core_result(self, lambda: self.Loaded(read_state(self.path)), self.Failed)

    # Writes are not ``exclusive``: that would cancel a write still returning when the next one
    # starts (a settings change starts the check from its own message); ``_start`` refuses a
    # second write while one runs.
    @work(thread=True, exit_on_error=False, group="data-write",
          description="run the data check")
    def run_check(self, target: str | None = None) -> None:
        from textual.worker import get_current_worker

        from workbench.design.data_check import check_data

        worker = get_current_worker()

        def progress(fraction: float, text: str) -> None:
            self.post_message(self.Progress(fraction, text))

        def checked() -> Message:
            report = check_data(self.path, target=target, progress=progress, cancel=worker.cancelled_event)
            return self.Checked(report, read_state(self.path))

        post_core_result(self, checked, self.Failed, cancelled=True, writing=True)

    @work(thread=True, exit_on_error=False, group="data-write",
          description="change the data settings")
    def config_step(self, kind: str, value: str, reason: str = "") -> None:
        """One versioned step through the core (the CLI's data exclude/include/thresholds)."""
        from workbench.design.data_check import set_excluded, set_thresholds

        def changed() -> Message:
            if kind == "thresholds":
                return self.ConfigChanged(set_thresholds(self.path, [value]))
            return self.ConfigChanged(set_excluded(self.path, value, exclude=kind == "exclude", reason=reason))

        post_core_result(self, changed, self.Failed, writing=True)

    @work(thread=True, exit_on_error=False, group="data-write",
          description="add a data source")
    def add_source(self, new: NewSource) -> None:
        from textual.worker import get_current_worker

        from workbench.design.data_sources import add_data

        worker = get_current_worker()

        def progress(line: str) -> None:
            if str(line).strip():
                self.post_message(self.Progress(None, str(line).strip()))

        def added() -> Message:
            done = add_data(self.path, new.path, name=new.name or None, cwd=self.path,
                            progress=progress, cancel=worker.cancelled_event)
            return self.Added(done, read_state(self.path))

        post_core_result(self, added, self.Failed, cancelled=True, writing=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-check-histogram",
          description="compute a column's histogram")
    def compute_histogram(self, source: SourceRow, row: ColumnRow) -> None:
        from textual.worker import get_current_worker

        try:
            histogram = histogram_from_file(self.path, source, row)
        except WorkbenchError as exc:
            self.post_message(self.HistogramReady(row.key, None, str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.HistogramReady(row.key, histogram))

    # --- messages -------------------------------------------------------------------

    def on_data_check_view_loaded(self, event: Loaded) -> None:
        self.take(event.state)

    def on_data_check_view_progress(self, event: Progress) -> None:
        bar = self.query_one("#dc-progress", ProgressBar)
        if event.fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=round(event.fraction * 100))
        self.query_one("#dc-progress-text", Static).update(Text(clip(event.text, 200)))

    def on_data_check_view_checked(self, event: Checked) -> None:
        self._done()
        report = event.report
        for message in report.messages:
            self.app.notify(message, markup=False)
        first = f": {report.reasons[0]}" if report.reasons else ""
        commit = f" (commit {report.commit[:7]})" if report.commit else ""
        self.app.notify(f"Data check: {report.verdict}{first}{commit}", markup=False,
                        severity="information" if report.go else "warning", timeout=8)
        self.take(event.state)
        step_ended(self)

    def on_data_check_view_config_changed(self, event: ConfigChanged) -> None:
        self._done()
        change = event.change
        for message in change.messages:
            self.app.notify(message, markup=False)
        done = f"(commit {change.commit[:7]})" if change.commit else "(nothing to commit)"
        self.app.notify(f"{change.summary[0].upper()}{change.summary[1:]} {done}; running the check again",
                        markup=False)
        if self._start("check"):  # the check judges by the new settings, and commits its report
            self.run_check()

    def on_data_check_view_added(self, event: Added) -> None:
        self._done()
        added = event.added
        for message in (*added.notes, *added.messages):
            self.app.notify(message, markup=False)
        what = f"{added.rows:,} rows x {added.columns} columns"
        commit = f" (commit {added.commit[:7]})" if added.commit else ""
        verb = "Tracked again" if added.replaced else "Added source"
        self.app.notify(f"{verb} {added.name!r}: {added.path}, {what}{commit}. Next: run the check (c).",
                        markup=False)
        self.take(event.state)
        step_ended(self)

    def on_data_check_view_failed(self, event: Failed) -> None:
        if event.writing:
            self._done()
        if event.cancelled:
            self.app.notify(event.message, severity="warning", markup=False)
        else:
            notify_error(self.screen, event.message)

    def on_data_check_view_histogram_ready(self, event: HistogramReady) -> None:
        if event.histogram is not None:
            self.computed[event.key] = event.histogram
        if self.highlighted_key() != event.key:
            return
        row = self.rows.get(event.key)
        if row is None:
            return
        if event.histogram is None:
            self._draw(row, None, note=event.error)
        else:
            self._draw(row, event.histogram)

    # --- showing the state ------------------------------------------------------------

    def take(self, state: DataState) -> None:
        """Show ``state``: verdict, sources, columns (keeping the cursor and the sort)."""
        self.state = state
        self.computed.clear()
        self._show_verdict()
        self._show_sources()
        self._show_columns()

    def _show_verdict(self) -> None:
        state = self.state
        assert state is not None
        box = self.query_one("#dc-verdict", Vertical)
        big = self.query_one("#dc-big", Static)
        meta = self.query_one("#dc-meta", Static)
        reasons = self.query_one("#dc-reasons", Static)
        report = state.report
        box.set_class(bool(report) and report.get("verdict") == "GO", "-go")  # type: ignore[union-attr]
        box.set_class(bool(report) and report.get("verdict") != "GO", "-nogo")  # type: ignore[union-attr]
        if report is None:
            big.update(Text("no check\nyet", style="bold"))
            hint = ("Register the data first: press [b]a[/b] to add a source."
                    if not state.sources else "Press [b]c[/b] to profile the sources and decide GO / NO-GO.")
            meta.update(Content.from_markup(hint))
            reasons.update(Text(state.note, style="yellow") if state.note else "")
            reasons.display = bool(state.note)
            return
        reasons.display = True
        verdict = str(report.get("verdict"))
        big.update(big_word(verdict))
        parts: list[Any] = [(verdict, "bold"), f"  readiness {report.get('readiness_score', '-')}/5", "\n",
                            ("target ", "dim"), str(report.get("target") or "not set"),
                            (f" ({report.get('task', '')})", "dim"),
                            ("  use case ", "dim"), str(report.get("use_case") or "none selected"), "\n",
                            ("checked ", "dim"), when(str(report.get("checked_at", "")))]
        if state.commit is not None:
            parts += ["\n", ("commit ", "dim"), (state.commit.short, "bold"), ("  by ", "dim"),
                      state.commit.author]
        meta.update(Content.assemble(*parts))
        lines: list[Any] = []
        listed = [(r, "✘ ", "$error") for r in report.get("reasons") or []]
        listed += [(w, "! ", "$warning") for w in report.get("warnings") or []]
        for i, (line, mark, style) in enumerate(listed):
            if i == MAX_LISTED:
                lines += ["\n", (f"… and {len(listed) - MAX_LISTED} more in reports/data_check.md", "dim")]
                break
            lines += ["\n" if lines else "", (mark, f"bold {style}"), (str(line), style if mark == "✘ " else "")]
        if not listed:
            lines = [("✔ every threshold holds, no warnings", "$success")]
        stale = state.stale
        if stale:
            names = ", ".join(s.path for s in stale)
            lines += ["\n", ("! ", "bold $warning"),
                      (f"the data changed since this check ({names}): press c to check again", "$warning")]
        reasons.update(Content.assemble(*lines))

    def _show_sources(self) -> None:
        state = self.state
        assert state is not None
        shown = self.query_one("#dc-sources", Static)
        if not state.sources:
            shown.update(Content.from_markup(
                "[dim]No data sources yet: press [b]a[/b] to add a CSV, TSV or Parquet file "
                "(or a folder of them).[/dim]"))
            return
        parts: list[Any] = []
        for s in state.sources:
            if parts:
                parts.append("\n")
            parts += [(s.name, "bold"), "  ", (s.path, "dim")]
            if s.rows is not None:
                parts.append(f"  {s.rows:,} rows x {s.columns} columns")
                if s.duplicate_rows:
                    parts.append((f", {s.duplicate_rows:,} duplicate rows", "$warning"))
            parts.append("\n  ")
            md5 = s.checked_md5 or s.pointer_md5
            parts += [("data version ", "dim"), f"md5 {md5[:12]}" if md5 else "not tracked"]
            if s.state == "changed" and s.pointer_md5:
                parts += [(" -> now ", "dim"), s.pointer_md5[:12]]
            if s.state == "checked":
                parts.append(("  ✔ checked", "$success"))
            elif s.state == "changed":
                parts.append(("  ! changed since the check", "bold $warning"))
            else:
                parts.append(("  · not checked yet", "$warning"))
            if not s.present:
                parts.append(("  (not in the workspace: dvc pull)", "$error"))
        shown.update(Content.assemble(*parts))

    def _show_columns(self) -> None:
        state = self.state
        assert state is not None
        table = self.query_one("#dc-columns", DataTable)
        keep = self.highlighted_key()
        table.clear()
        self.rows = {r.key: r for r in state.columns}
        for r in state.columns:
            flags = Text()
            for i, (text, style, _) in enumerate(r.flags):
                if i:
                    flags.append(", ", style="dim")
                flags.append(text, style=style)
            distinct = f"{r.distinct:,}" if r.distinct_exact else f"~{r.distinct:,}"
            missing_style = "bold red" if "mostly missing" in flags.plain else ""
            table.add_row(
                Text(r.column), Text(r.kind),
                Text(pct(r.missing_share), justify="right", style=missing_style),
                Text(distinct, justify="right"), flags, Text(r.source), key=r.key,
            )
        self._apply_sort()
        if keep is not None and keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        elif table.row_count:
            table.move_cursor(row=0, animate=False)
        # No columns (no check yet): no empty plot frame either.
        self.query_one("#dc-plot-box", Vertical).display = bool(table.row_count)
        if not table.row_count:
            self.query_one("#dc-column-detail", Static).update(Content.from_markup(
                "[dim]The columns and their distributions show here after a check.[/dim]"))
        else:
            self._show_selected()

    # --- sorting ------------------------------------------------------------------------

    def _apply_sort(self) -> None:
        table = self.query_one("#dc-columns", DataTable)
        if table.row_count:
            rows = self.rows
            column = self.sort_column

            def key(cells: tuple[Text, Text]) -> Any:
                return rows[f"{cells[1].plain}\x1f{cells[0].plain}"].sort_value(column)

            table.sort("column", "source", key=key, reverse=self.sort_reverse)
        for name, label, _ in TABLE_COLUMNS:
            # Every label keeps room for the arrow: a column does not widen for a new label.
            arrow = ("▼" if self.sort_reverse else "▲") if name == self.sort_column else " "
            table.columns[name].label = Text(label + arrow)  # type: ignore[index]
        table.refresh()

    def sort_by(self, column: str | None, reverse: bool | None = None) -> None:
        """Sort the table by ``column`` (None: the file's order), keeping the cursor's row."""
        if reverse is None:
            reverse = (not self.sort_reverse) if column == self.sort_column else column in DESCENDING_FIRST
        self.sort_column, self.sort_reverse = column, reverse
        keep = self.highlighted_key()
        self._apply_sort()
        table = self.query_one("#dc-columns", DataTable)
        if keep is not None:
            table.move_cursor(row=table.get_row_index(keep), animate=False)

    @on(DataTable.HeaderSelected, "#dc-columns")
    def _on_header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def action_sort_next(self) -> None:
        keys: list[str | None] = [None, *(k for k, _, _ in TABLE_COLUMNS)]
        nxt = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_by(nxt, reverse=nxt in DESCENDING_FIRST)
        self.app.notify(f"Columns sorted by {nxt or 'file order'}"
                        + (" (largest first)" if nxt in DESCENDING_FIRST else ""), timeout=2)

    def sorted_keys(self) -> list[str]:
        """The row keys in the order the table shows them."""
        table = self.query_one("#dc-columns", DataTable)
        return [str(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(table.row_count)]

    # --- the selected column --------------------------------------------------------------

    def highlighted_key(self) -> str | None:
        table = self.query_one("#dc-columns", DataTable)
        if table.row_count == 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - a cursor past the end right after a clear
            return None

    @on(DataTable.RowHighlighted, "#dc-columns")
    def _on_row(self) -> None:
        self._show_selected()

    @on(DataTable.RowSelected, "#dc-columns")
    def _on_row_chosen(self) -> None:
        self._show_selected()
        box = self.query_one("#dc-plot-box", Vertical)
        self.scroll_to_widget(box, animate=False)

    def _show_selected(self) -> None:
        key = self.highlighted_key()
        row = self.rows.get(key or "")
        if row is None:
            return
        self.query_one("#dc-column-detail", Static).update(self._detail(row))
        histogram = row.stats.get("histogram") or self.computed.get(row.key)
        if histogram:
            self._draw(row, histogram)
            return
        source = next((s for s in (self.state.sources if self.state else ())
                       if s.name == row.source), None)
        if source is None:
            self._draw(row, None, note=f"source {row.source} is no longer registered")
            return
        self._draw(row, None, note="computing the distribution from the data file…")
        self.compute_histogram(source, row)

    def _detail(self, row: ColumnRow) -> Content:
        s = row.stats
        parts: list[Any] = [(row.column, "bold"), (f"  {row.source} · {row.kind} · {row.role}", "dim"), "\n"]
        quantiles = s.get("quantiles") or {}
        if row.kind == "datetime":
            parts += [("range ", "dim"), f"{s.get('min') or '-'} to {s.get('max') or '-'}"]
        elif row.kind in ("numeric", "integer", "boolean") and s.get("mean") is not None:
            parts += [("min ", "dim"), number(s.get("min")), ("  median ", "dim"),
                      number(quantiles.get("p50") if isinstance(quantiles, dict) else None),
                      ("  max ", "dim"), number(s.get("max")), ("  mean ", "dim"), number(s.get("mean")),
                      ("  std ", "dim"), number(s.get("std"))]
        elif s.get("top"):
            top = ", ".join(f"{t.get('value')} ({t.get('count', 0):,})" for t in s["top"][:4])
            parts += [("top ", "dim"), top]
        parts += [("  missing ", "dim"), f"{int(s.get('missing') or 0):,}"]
        if s.get("leakage_score") is not None:
            parts += [("  leakage score ", "dim"), f"{float(s['leakage_score']):.3f}"]
        for key, label in (("identifier", "identifier: "), ("personal_data", "personal data: ")):
            if s.get(key):
                parts += ["\n", (label, "$warning"), str(s[key])]
        return Content.assemble(*parts)

    def _plot_widget(self) -> Any:
        from textual_plotext import PlotextPlot

        box = self.query_one("#dc-plot-box", Vertical)
        plots = box.query(PlotextPlot)
        if plots:
            return plots.first()
        plot = PlotextPlot(id="dc-plot")
        box.mount(plot)
        return plot

    def _draw(self, row: ColumnRow | None, histogram: dict[str, Any] | None, note: str = "") -> None:
        """Draw ``histogram`` of ``row``: bins as a histogram, categories as horizontal bars."""
        plot = self._plot_widget()
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        self.plotted = row.key if row is not None and histogram is not None else None
        if row is None or histogram is None:
            plt.title(note or "Select a column to see its distribution")
            plot.refresh()
            return
        counts = [int(c) for c in histogram.get("counts") or []]
        missing = int(histogram.get("missing") or 0)
        if histogram.get("kind") == "bins" and counts:
            edges = [float(e) for e in histogram.get("edges") or []]
            if len(edges) != len(counts) + 1:
                edges = [float(i) for i in range(len(counts) + 1)]
            centers = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
            if len(set(centers)) < len(centers):  # a single value: one bar
                centers = [float(i) for i in range(len(counts))]
            plt.bar(centers, counts, width=1, reset_ticks=False)
            labels = list(histogram.get("labels") or [])
            picks = sorted({0, len(edges) // 4, len(edges) // 2, 3 * len(edges) // 4, len(edges) - 1})
            if labels and len(labels) == len(edges):
                ticks = [str(labels[i])[:10] for i in picks]
            else:
                ticks = [number(edges[i]) for i in picks]
            plt.xticks([edges[i] for i in picks], ticks)
            title = f"{row.column}: {sum(counts):,} values in {len(counts)} bins"
        elif counts:
            # Vertical bars: plotext's horizontal bars land on the wrong rows when there is
            # one row per bar; columns are plentiful, so every bar is where its label is.
            labels = [str(v) for v in histogram.get("labels") or []]
            labels += [str(i) for i in range(len(labels), len(counts))]
            other = int(histogram.get("other") or 0)
            if other:
                labels.append("(other)")
                counts.append(other)
            if missing:
                labels.append("(missing)")
                counts.append(missing)
            width = plot.size.width or max(self.size.width - 4, 60)
            room = max(3, min(PLOT_LABEL_WIDTH, (width - 8) // len(counts) - 1))
            positions = list(range(1, len(counts) + 1))
            plt.bar(positions, counts, width=0.6, reset_ticks=False)
            plt.xticks(positions, [clip(label, room) for label in labels])
            title = f"{row.column}: top {len(histogram.get('labels') or [])} of {row.distinct:,} values"
        else:
            plt.title(f"{row.column}: no values to plot")
            plot.refresh()
            return
        if missing and histogram.get("kind") == "bins":
            title += f", {missing:,} missing"
        plt.title(title)
        plot.refresh()

    # --- actions ------------------------------------------------------------------------

    def _start(self, what: str) -> bool:
        if self.busy:
            doing = {"check": "the data check is running", "step": "a setting is being committed"}.get(
                self.busy, "a source is being added")
            self.app.notify(f"Please wait: {doing} (x cancels it)", markup=False, timeout=3)
            return False
        self.busy = what
        self.refresh_bindings()
        self.add_class("-busy")
        set_disabled(self, {"#dc-cancel": False})
        bar = self.query_one("#dc-progress", ProgressBar)
        bar.update(total=100 if what == "check" else None, progress=0)
        self.query_one("#dc-progress-text", Static).update(
            {"check": "starting the check…", "step": "committing the change…"}.get(what, "checking the file…"))
        return True

    def _done(self) -> None:
        self.busy = None
        self.refresh_bindings()
        self.remove_class("-busy")
        set_disabled(self, {"#dc-cancel": True})

    @on(Button.Pressed, "#dc-run")
    def action_run_check(self) -> None:
        if self._start("check"):
            self.run_check()

    @on(Button.Pressed, "#dc-add")
    def action_add_source(self) -> None:
        if self.busy:
            self._start("add")  # says why not
            return

        def chosen(new: NewSource | None) -> None:
            if new is not None and self._start("add"):
                self.add_source(new)

        self.app.push_screen(AddSourceScreen(self.path), chosen)

    # --- fixing a NO-GO: versioned steps from a finding, then the check again ------------

    def _cursor_row(self) -> ColumnRow | None:
        key = self.highlighted_key()
        return self.rows.get(key) if key else None

    @on(Button.Pressed, "#dc-exclude")
    def action_toggle_exclude(self) -> None:
        from screens.project.step_dialogs import ExcludeScreen

        if self.busy:
            self._start("step")  # says why not
            return
        row = self._cursor_row()
        if row is None:
            notify_error(self.screen, "no column under the cursor: run the check, then choose a column")
            return
        if row.role == "excluded":
            if self._start("step"):
                self.config_step("include", row.column)
            return
        reason = "; ".join(flag for flag, _, sev in row.flags if sev > 0)

        def chosen(answer: str | None) -> None:
            if answer is not None and self._start("step"):
                self.config_step("exclude", row.column, answer)

        self.app.push_screen(ExcludeScreen(row.column, reason), chosen)

    @on(Button.Pressed, "#dc-threshold")
    def action_threshold(self) -> None:
        from screens.project.step_dialogs import ThresholdScreen

        if self.busy:
            self._start("step")
            return
        current = dict((self.state.report or {}).get("thresholds") or {}) if self.state else {}
        row = self._cursor_row()
        flags = " ".join(flag for flag, _, _ in row.flags) if row else ""
        key = ("leakage_score" if "leakage" in flags else "max_missing_share" if "mostly missing" in flags
               else "min_rows")

        def chosen(answer: str | None) -> None:
            if answer and self._start("step"):
                self.config_step("thresholds", answer)

        self.app.push_screen(ThresholdScreen(current, key), chosen)

    @on(Button.Pressed, "#dc-target")
    def action_set_target(self) -> None:
        from screens.project.step_dialogs import TargetScreen

        if self.busy:
            self._start("step")
            return
        names = list(dict.fromkeys(r.column for r in (self.state.columns if self.state else ())))
        if not names:
            notify_error(self.screen, "no columns known yet: add a source and run the check first")
            return

        def chosen(answer: str | None) -> None:
            if answer and self._start("check"):  # check_data saves data.target in the report's commit
                self.run_check(target=answer)

        self.app.push_screen(TargetScreen(names, self.state.target if self.state else None), chosen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel shows in the footer only while a check or an add runs."""
        if action == "cancel_check":
            return bool(self.busy)
        return True

    @on(Button.Pressed, "#dc-cancel")
    def action_cancel_check(self) -> None:
        if not self.busy:
            return
        for worker in self.workers:
            if worker.node is self and worker.group == "data-write":
                worker.cancel()
        self.query_one("#dc-progress-text", Static).update("cancelling…")
