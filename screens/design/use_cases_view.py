"""The use-case prioritization step: ranked candidates, live weights, a bar chart, select one.

Typing a weight re-ranks on every keystroke with the pure ``rank(config, check,
weights=...)`` on the loaded config: nothing is written until "Save weights". A weight
that does not parse keeps the last good ranking and says why under the weights, instead
of a notification per keystroke. Every save (weights, scores, add, select) runs its core
call in a thread worker, then re-reads the project in the same worker so the view and
the live ranking start again from what is committed.
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
from textual.widgets import Button, DataTable, Input, Label, Static

from screens.base import StepView, notify_error, post_core_result, quiet_cursors, step_ended
from workbench.errors import WorkbenchError
from workbench.textfmt import clip

if TYPE_CHECKING:
    from workbench.design.use_cases import DataCheckResult, RankedUseCase, UseCasesSaved

CRITERIA: tuple[str, ...] = (
    "business_value",
    "feasibility",
    "data_readiness",
    "risk",
    "time_to_value",
)
SHORT = {
    "business_value": "Value",
    "feasibility": "Feas",
    "data_readiness": "Data",
    "risk": "Risk",
    "time_to_value": "Time",
}
WEIGHT_LABELS = {
    "business_value": "Business value",
    "feasibility": "Feasibility",
    "data_readiness": "Data readiness",
    "risk": "Risk/ethics ↓",
    "time_to_value": "Time to value",
}
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "#"),
    ("name", "Use case"),
    ("score", "Score"),
    *((c, SHORT[c]) for c in CRITERIA),
    ("source", "Readiness"),
)
NAME_WIDTH = 19


def weight_text(value: float) -> str:
    return f"{value:g}"


# --- modals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUseCase:
    """What the add form returns."""

    id: str
    name: str
    description: str


class AddUseCaseScreen(ModalScreen["NewUseCase | None"]):
    """A small form for a new candidate: id (a slug), name, description."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "add", "Add")]

    def compose(self) -> ComposeResult:
        with Vertical(id="uc-add-box", classes="uc-modal"):
            yield Static("Add a candidate use case", classes="view-title")
            yield Label("Id (a slug, like card-fraud-scoring)")
            yield Input(id="uc-add-id", placeholder="card-fraud-scoring", compact=True)
            yield Label("Name")
            yield Input(id="uc-add-name", placeholder="Real-time card fraud scoring", compact=True)
            yield Label("Description")
            yield Input(id="uc-add-description", placeholder="one or two sentences", compact=True)
            yield Static(
                "All five scores start at 3; change them in the table after adding.", classes="hint"
            )
            with Horizontal(classes="uc-modal-buttons"):
                yield Button("Add", variant="primary", id="uc-add-ok", compact=True)
                yield Button("Cancel", id="uc-add-cancel", compact=True)

    def on_mount(self) -> None:
        quiet_cursors(self)  # type: ignore[arg-type]
        self.query_one("#uc-add-id", Input).focus()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "uc-add-description":
            self.action_add()
        else:
            self.focus_next()

    @on(Button.Pressed, "#uc-add-ok")
    def action_add(self) -> None:
        from workbench.design.use_cases import validate_slug

        raw_id = self.query_one("#uc-add-id", Input).value.strip()
        name = " ".join(self.query_one("#uc-add-name", Input).value.split())
        try:
            cid = validate_slug(raw_id)
        except WorkbenchError as exc:
            notify_error(self, str(exc))
            self.query_one("#uc-add-id", Input).focus()
            return
        if not name:
            notify_error(self, f"use case {cid!r} has no name: give it a short name")
            self.query_one("#uc-add-name", Input).focus()
            return
        self.dismiss(NewUseCase(cid, name, self.query_one("#uc-add-description", Input).value))

    @on(Button.Pressed, "#uc-add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class SelectUseCaseScreen(ModalScreen["str | None"]):
    """Ask why this use case is the one to pursue; a reason is required (it goes on record)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, use_case: RankedUseCase) -> None:
        super().__init__()
        self.use_case = use_case

    def compose(self) -> ComposeResult:
        uc = self.use_case
        with Vertical(id="uc-select-box", classes="uc-modal"):
            yield Static(
                Content.from_markup("Select [b]$name[/b] to pursue", name=uc.name),
                classes="view-title",
            )
            yield Static(
                Content.assemble(
                    (f"#{uc.rank}  ", "bold"),
                    (f"weighted score {uc.weighted_score:.2f}", ""),
                    ("\n", ""),
                    (uc.description, "$text-muted"),
                )
            )
            yield Label("Why this one? Required: it is recorded with your name and role.")
            yield Input(
                id="uc-reason", placeholder="e.g. highest value, data is ready", compact=True
            )
            with Horizontal(classes="uc-modal-buttons"):
                yield Button("Select", variant="primary", id="uc-select-ok", compact=True)
                yield Button("Cancel", id="uc-select-cancel", compact=True)

    def on_mount(self) -> None:
        quiet_cursors(self)  # type: ignore[arg-type]
        self.query_one("#uc-reason", Input).focus()

    @on(Input.Submitted, "#uc-reason")
    @on(Button.Pressed, "#uc-select-ok")
    def action_select(self) -> None:
        reason = " ".join(self.query_one("#uc-reason", Input).value.split())
        if not reason:
            notify_error(
                self,
                f"selecting {self.use_case.id!r} needs a reason: "
                "say why this one, so the decision is on record",
            )
            self.query_one("#uc-reason", Input).focus()
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#uc-select-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


# --- the view ----------------------------------------------------------------------------


class WeightsRow(Horizontal):
    """The five weight inputs; ctrl+s here saves the weights."""

    BINDINGS = [Binding("ctrl+s", "save_weights", "Save weights")]

    def action_save_weights(self) -> None:
        self.post_message(UseCasesView.SaveWeights())


class ScoresRow(Horizontal):
    """The highlighted candidate's five scores; ctrl+s (or enter) here saves them."""

    BINDINGS = [Binding("ctrl+s", "save_scores", "Save scores")]

    def action_save_scores(self) -> None:
        self.post_message(UseCasesView.SaveScores())


class UseCasesView(StepView, VerticalScroll):
    """Ranked candidates with live weights, the weighted-score chart, scoring, add and select."""

    STEP_ID = "use_cases"
    STATE_ID = "#uc-state"

    can_focus = False  # tab from the sidebar lands on the first field, not the scroll box

    BINDINGS = [
        Binding("a", "add", "Add use case"),
        Binding("e", "edit_scores", "Edit scores"),
        Binding("u", "select", "Select…"),
        Binding("w", "save_weights", "Save weights", show=False),
        Binding("o", "sort_next", "Sort"),
        Binding("escape", "back_to_table", "Table", show=False),
    ]

    @dataclass
    class Loaded(Message):
        """The project's config and last data check, read from disk."""

        config: dict[str, Any]
        check: DataCheckResult | None

    @dataclass
    class Saved(Message):
        """A core change's result, plus the config re-read after it."""

        result: UseCasesSaved
        config: dict[str, Any]
        check: DataCheckResult | None

    class SaveWeights(Message):
        """The weights row asks for a save."""

    class SaveScores(Message):
        """The scores row asks for a save."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.config: dict[str, Any] | None = None
        self.check: DataCheckResult | None = None
        self.ranking: list[RankedUseCase] = []
        self.stored_weights: dict[str, float] = {}
        self.sort_column = "rank"
        self.sort_reverse = False
        self.busy = False
        self._cursor_to: str | None = None  # a row to highlight after the next reload

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(
            Content.from_markup("[b]Use-case prioritization[/b]  [dim]Design[/dim]"),
            classes="view-title",
        )
        yield Static("Reading the candidates…", id="uc-state", classes="hint")
        yield Static("", id="uc-selected")
        yield Static(
            Content.from_markup(
                "[b]Weights[/b] [dim](relative; the ranking follows as you type — "
                "w or ctrl+s saves them)[/dim]"
            ),
            classes="uc-heading",
        )
        with WeightsRow(id="uc-weights"):
            for c in CRITERIA:
                with Vertical(classes="uc-field"):
                    yield Label(WEIGHT_LABELS[c])
                    yield Input(id=f"uc-w-{c}", type="number", compact=True, select_on_focus=True)
        yield Static("", id="uc-weights-note", classes="hint")
        table: DataTable[Any] = DataTable(id="uc-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="uc-detail")
        with ScoresRow(id="uc-scores"):
            yield Label("Scores 1-5:", id="uc-scores-label")
            for c in CRITERIA:
                with Vertical(classes="uc-field"):
                    yield Label(SHORT[c] + (" ↓" if c == "risk" else ""))  # 1 = least risk
                    yield Input(
                        id=f"uc-s-{c}",
                        restrict=r"[1-5]?",
                        max_length=1,
                        compact=True,
                        select_on_focus=True,
                    )
            yield Button("Save scores", id="uc-scores-save", compact=True)
        with Horizontal(classes="uc-buttons"):
            yield Button("Add use case  a", id="uc-add", compact=True)
            yield Button("Select…  s", variant="primary", id="uc-select", compact=True)
            yield Button("Save weights  w", id="uc-save-weights", compact=True)
        yield Vertical(id="uc-chart-box")

    def on_mount(self) -> None:
        table = self.query_one("#uc-table", DataTable)
        for key, label in TABLE_COLUMNS:
            table.add_column(f"{label} ", key=key)
        self.quiet_inputs()
        self.load()

    # --- workers --------------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="use-cases-load",
        description="read the use cases",
    )
    def load(self) -> None:
        post_core_result(self, lambda: self.Loaded(*self._read()), self.Failed)

    def _read(self) -> tuple[dict[str, Any], DataCheckResult | None]:
        from workbench.design.use_cases import read_data_check
        from workbench.project import Project

        return Project(self.path).read_config(), read_data_check(self.path)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="use-cases-save",
        description="save a use-case change",
    )
    def change(self, action: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        from workbench.design import use_cases as uc

        call = {
            "weights": uc.set_weights,
            "score": uc.score_use_case,
            "add": uc.add_use_case,
            "select": uc.select_use_case,
        }[action]
        def saved() -> Message:
            result = call(self.path, *args, **kwargs)
            return self.Saved(result, *self._read())

        post_core_result(self, saved, self.Failed)

    def _start(self, action: str, *args: Any, **kwargs: Any) -> None:
        if self.busy:
            self.app.notify("Still saving the last change…", markup=False, timeout=3)
            return
        self.busy = True
        self.change(action, args, kwargs)

    # --- messages -------------------------------------------------------------------

    def on_use_cases_view_loaded(self, event: Loaded) -> None:
        self._take(event.config, event.check)

    def on_use_cases_view_saved(self, event: Saved) -> None:
        self.busy = False
        result = event.result
        for message in result.messages:
            self.app.notify(message, markup=False)
        if result.commit is None:
            self.app.notify("Nothing changed", markup=False)
        else:
            self.app.notify(f"Saved: {result.summary} (commit {result.commit[:7]})", markup=False)
        self._take(event.config, event.check)
        if result.commit is not None:
            step_ended(self)

    def on_step_view_failed(self, event: StepView.Failed) -> None:
        self.busy = False
        notify_error(self.screen, event.message)

    def _take(self, config: dict[str, Any], check: DataCheckResult | None) -> None:
        """Start again from what is stored: weights in the inputs, ranking, chart, selection."""
        from workbench.design.use_cases import weights_from_config

        self.config, self.check = config, check
        try:
            self.stored_weights = weights_from_config(config)
        except WorkbenchError as exc:
            notify_error(self.screen, str(exc))
            return
        for c in CRITERIA:
            field = self.query_one(f"#uc-w-{c}", Input)
            with field.prevent(Input.Changed):
                field.value = weight_text(self.stored_weights[c])
        self.rerank()
        self._show_selection()

    # --- ranking ----------------------------------------------------------------------

    def typed_weights(self) -> dict[str, str]:
        return {c: self.query_one(f"#uc-w-{c}", Input).value for c in CRITERIA}

    def rerank(self) -> None:
        """Rank with the weights as typed (pure, nothing saved); a bad weight keeps the last ranking."""
        from workbench.design.use_cases import normalise, parse_weight, rank

        if self.config is None:
            return
        note = self.query_one("#uc-weights-note", Static)
        typed = self.typed_weights()
        try:
            ranking = rank(self.config, self.check, weights=typed)
            used = normalise({c: parse_weight(c, v) for c, v in typed.items()})
        except WorkbenchError as exc:
            note.update(Content.assemble(("✘ ", "bold $error"), (str(exc), "$error")))
            return
        self.ranking = ranking
        share = "  ".join(f"{SHORT[c]} {used[c]:.0%}" for c in CRITERIA)
        unsaved = any(float(typed[c]) != self.stored_weights.get(c) for c in CRITERIA)
        parts: list[Any] = [(f"= {share}  (risk enters as 6 - risk)", "")]
        if unsaved:
            parts.append(("  Unsaved weights.", "bold $warning"))
        note.update(Content.assemble(*parts))
        self._show_table()
        self._show_chart()

    @on(Input.Changed, "#uc-weights Input")
    def _on_weight_typed(self) -> None:
        self.rerank()

    def _show_table(self) -> None:
        table = self.query_one("#uc-table", DataTable)
        current = self.highlighted()
        keep = self._cursor_to or (current.id if current else None)
        self._cursor_to = None
        table.clear()
        for r in self.ranking:
            mark = Text("✔", style="bold green") if r.selected else Text(" ")
            rank_cell = Text.assemble(mark, f"{r.rank:>2}")
            cells = [
                Text(
                    str(r.scores[c])
                    + (
                        "*" if c == "data_readiness" and r.data_readiness_source != "manual" else ""
                    ),
                    justify="right",
                )
                for c in CRITERIA
            ]
            table.add_row(
                rank_cell,
                clip(r.name, NAME_WIDTH),
                Text(f"{r.weighted_score:.2f}", justify="right", style="bold"),
                *cells,
                r.data_readiness_source,
                key=r.id,
            )
        self._apply_sort()
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self._show_detail()

    @staticmethod
    def _cell_key(column: str):  # type: ignore[no-untyped-def]
        """Sort on what a cell means: numbers as numbers (cells are Text, with marks)."""

        def key(cell: Any) -> Any:
            plain = getattr(cell, "plain", str(cell)).strip()
            if column == "rank":
                return int(plain.lstrip("✔ "))
            if column == "score":
                return float(plain)
            if column in CRITERIA:
                return int(plain.rstrip("*"))
            return plain.casefold()

        return key

    def _apply_sort(self) -> None:
        table = self.query_one("#uc-table", DataTable)
        if table.row_count:
            table.sort(
                self.sort_column, key=self._cell_key(self.sort_column), reverse=self.sort_reverse
            )
        for key, label in TABLE_COLUMNS:
            # Every label keeps room for the arrow: a column does not widen for a new label.
            arrow = ("▼" if self.sort_reverse else "▲") if key == self.sort_column else " "
            table.columns[key].label = Text(label + arrow)  # type: ignore[index]
        table.refresh()

    @on(DataTable.HeaderSelected, "#uc-table")
    def _on_header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column = key
            self.sort_reverse = key in ("score", *CRITERIA)
        self._resort()

    def action_sort_next(self) -> None:
        keys = [k for k, _ in TABLE_COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_reverse = self.sort_column in ("score", *CRITERIA)
        self._resort()

    def _resort(self) -> None:
        table = self.query_one("#uc-table", DataTable)
        current = self.highlighted()
        self._apply_sort()
        if current is not None:
            table.move_cursor(row=table.get_row_index(current.id), animate=False)

    def _show_chart(self) -> None:
        from textual_plotext import PlotextPlot

        box = self.query_one("#uc-chart-box", Vertical)
        plots = box.query(PlotextPlot)
        if plots:
            plot = plots.first()
        else:
            plot = PlotextPlot(id="uc-chart")
            box.mount(plot)
        plot.styles.height = max(9, 2 * len(self.ranking) + 4)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if not self.ranking:
            plt.title("No use cases to chart yet")
            plot.refresh()
            return
        rows = self.ranking[::-1]  # plotext draws the first bar at the bottom
        plt.bar(
            [f"{r.rank}. {r.id}" for r in rows],
            [r.weighted_score for r in rows],
            orientation="horizontal",
            width=0.6,
        )
        plt.xlim(0, 5)
        plt.xticks([0, 1, 2, 3, 4, 5])
        plt.title("Weighted score (1-5)")
        plot.refresh()

    # --- the highlighted candidate ----------------------------------------------------

    def highlighted(self) -> RankedUseCase | None:
        table = self.query_one("#uc-table", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - a cursor past the end after a clear
            return None
        return next((r for r in self.ranking if r.id == key), None)

    @on(DataTable.RowHighlighted, "#uc-table")
    def _on_row(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        r = self.highlighted()
        detail = self.query_one("#uc-detail", Static)
        if r is None:
            detail.update(
                Content.from_markup(
                    "[dim]No candidate use cases yet: press [b]a[/b] to add one.[/dim]"
                )
            )
            for c in CRITERIA:
                self.query_one(f"#uc-s-{c}", Input).value = ""
            return
        parts: list[Any] = [(r.name, "bold"), (f"  ({r.id})", "$text-muted")]
        if r.description:
            parts += [("\n", ""), (r.description, "")]
        if r.data_readiness_source != "manual":
            parts += [
                ("\n", ""),
                (
                    f"* data readiness {r.scores['data_readiness']} comes from the "
                    f"last data check; your manual score is "
                    f"{r.manual_data_readiness}.",
                    "$text-muted",
                ),
            ]
        detail.update(Content.assemble(*parts))
        for c in CRITERIA:
            value = r.manual_data_readiness if c == "data_readiness" else r.scores[c]
            field = self.query_one(f"#uc-s-{c}", Input)
            if self.app.focused is not field:
                field.value = str(value)

    def _show_selection(self) -> None:
        from workbench.design.use_cases import selection_from_config

        shown = self.query_one("#uc-selected", Static)
        sel = selection_from_config(self.config or {})
        if sel is None:
            shown.update(
                Content.from_markup(
                    "[dim]No use case selected yet: highlight one and press [b]u[/b].[/dim]"
                )
            )
            return
        name = next((r.name for r in self.ranking if r.id == sel.id), sel.id)
        parts: list[Any] = [("Selected: ", "bold"), (f"✔ {name}", "bold $success"), "\n"]
        if sel.by:
            parts += [("by ", "$text-muted"), sel.by + (f" ({sel.role})" if sel.role else "")]
        if sel.at:
            parts += [(" on ", "$text-muted"), sel.at.replace("T", " ")[:16]]
        if sel.reason:
            parts += [(" — why: ", "$text-muted"), sel.reason]
        shown.update(Content.assemble(*parts))

    # --- actions ------------------------------------------------------------------------

    def action_back_to_table(self) -> None:
        self.query_one("#uc-table", DataTable).focus()

    def action_edit_scores(self) -> None:
        if self.highlighted() is None:
            notify_error(self.screen, "no use case to score: press a to add one first")
            return
        self.query_one(f"#uc-s-{CRITERIA[0]}", Input).focus()

    @on(Input.Submitted, "#uc-scores Input")
    @on(Button.Pressed, "#uc-scores-save")
    def on_use_cases_view_save_scores(self, event: Message | None = None) -> None:
        if event is not None:
            event.stop()
        r = self.highlighted()
        if r is None:
            return
        scores = {c: self.query_one(f"#uc-s-{c}", Input).value.strip() for c in CRITERIA}
        self._start("score", r.id, **scores)

    @on(Button.Pressed, "#uc-save-weights")
    def action_save_weights(self) -> None:
        self._start("weights", **self.typed_weights())

    def on_use_cases_view_save_weights(self, event: SaveWeights) -> None:
        event.stop()
        self.action_save_weights()

    @on(Button.Pressed, "#uc-add")
    def action_add(self) -> None:
        def added(new: NewUseCase | None) -> None:
            if new is not None:
                self._cursor_to = new.id
                self._start("add", new.id, new.name, description=new.description)

        self.app.push_screen(AddUseCaseScreen(), added)

    @on(Button.Pressed, "#uc-select")
    def action_select(self) -> None:
        r = self.highlighted()
        if r is None:
            notify_error(self.screen, "no use case to select: press a to add one first")
            return

        def chosen(reason: str | None) -> None:
            if reason:
                self._start("select", r.id, reason)

        self.app.push_screen(SelectUseCaseScreen(r), chosen)
