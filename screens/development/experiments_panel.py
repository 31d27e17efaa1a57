"""The experiment history: every DVC experiment of the project, compared, noted and promoted.

The table has one row per experiment (every branch and commit, read by
:func:`workbench.development.experiments.list_experiments` in a thread worker) and one
column per parameter and metric. Columns whose value is the same in every experiment are
hidden until ``a`` shows them (``varying_columns`` decides), so the table shows what
differs. The baseline (the commit the experiments started from) is pinned as the first
row and never sorts away. ``space`` marks rows; ``=`` compares the marked ones side by
side with their ROC / precision-recall curves overlaid (each experiment's
``plots/*.json`` read from git at its commit) and a chart of the sort metric across the
experiments in the order they were made. ``p`` promotes the highlighted experiment to a
commit on the current branch, once confirmed; the note field stores a note on the
experiment in git.
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
from textual.widgets import Button, DataTable, Input, Select, Static

from screens.base import ConfirmScreen, notify_error, post_core_result, step_ended
from workbench.development.curves import CURVES, read_curves

if TYPE_CHECKING:
    from workbench.development.experiments import Experiment

MAX_CELL = 12


def cell(value: Any) -> Text:
    """A parameter or metric as a short, right-aligned cell (numbers to 4 significant digits)."""
    if value is None:
        return Text("–", justify="right", style="dim")
    if isinstance(value, bool):
        return Text(str(value), justify="right")
    if isinstance(value, float):
        return Text(f"{value:.4g}", justify="right")
    if isinstance(value, int):
        return Text(str(value), justify="right")
    shown = str(value)
    return Text(shown if len(shown) <= MAX_CELL else shown[: MAX_CELL - 1] + "…")


def sort_value(value: Any) -> tuple[int, Any]:
    """Numbers before text, missing values last, whatever the mix in a column."""
    if value is None:
        return (2, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def short_label(key: str) -> str:
    """``model.params.C`` -> ``C``; ``split.seed`` -> ``split.seed`` (the header stays short)."""
    return key.removeprefix("model.params.")


def mark_cell(marked: bool) -> Text:
    return Text("●", style="bold") if marked else Text(" ")


class ExperimentTable(DataTable[Any]):
    """The experiments; space marks one for comparison.

    The marks live here and change as the key is handled, so a quick "space, down, space,
    =" compares exactly the rows that were marked (a message would arrive after the c).
    """

    BINDINGS = [Binding("space", "mark", "Mark")]

    class Marked(Message):
        """The marks changed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.marked: set[str] = set()

    def action_mark(self) -> None:
        if not self.row_count:
            return
        name = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        if name is None:
            return
        self.marked ^= {name}
        self.update_cell(name, "mark", mark_cell(name in self.marked))
        self.post_message(self.Marked())


class ExperimentsPanel(VerticalScroll):
    """All experiments with sortable params and metrics, notes, compare with curves, promote."""

    can_focus = False

    BINDINGS = [
        Binding("l", "toggle_columns", "All columns"),
        Binding("equals_sign", "compare", "Compare", key_display="="),
        Binding("p", "promote", "Promote"),
        Binding("o", "sort_next", "Sort", show=False),
    ]

    @dataclass
    class Loaded(Message):
        experiments: list[Experiment]
        params: list[str]
        metrics: list[str]
        varying_params: list[str]
        varying_metrics: list[str]

    @dataclass
    class Failed(Message):
        message: str

    @dataclass
    class Done(Message):
        """A note or a promotion was written: a one-line summary, then the history reloads."""

        text: str
        promoted: bool = False

    @dataclass
    class Curves(Message):
        kind: str
        curves: dict[str, list[tuple[float, float]]]

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.experiments: list[Experiment] = []
        self.params: list[str] = []
        self.metrics: list[str] = []
        self.varying: tuple[list[str], list[str]] = ([], [])
        self.show_all = False
        self.sort_column: str | None = None
        self.sort_reverse = True
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Static("Reading the experiments…", id="exp-summary", classes="hint")
        yield ExperimentTable(id="exp-table", cursor_type="row", zebra_stripes=True, fixed_rows=1)
        with Horizontal(classes="exp-row"):
            yield Input(id="exp-note", compact=True, placeholder="a note on the highlighted experiment "
                        "(enter saves it in git)")
            yield Button("Save note", id="exp-note-save", compact=True)
        with Horizontal(classes="exp-row"):
            yield Button("All columns  a", id="exp-columns", compact=True)
            yield Button("Compare  c", id="exp-compare-button", compact=True)
            yield Button("Promote  p", id="exp-promote", variant="primary", compact=True)
        with Vertical(id="exp-compare"):
            yield Static("", id="exp-compare-title", classes="hint")
            yield DataTable(id="exp-side", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="exp-row"):
                yield Select(((CURVES[k][3], k) for k in CURVES), id="exp-curve-kind", value="roc",
                             allow_blank=False, compact=True)
            yield Horizontal(id="exp-charts")

    @property
    def marked(self) -> set[str]:
        """The experiments marked for comparison (kept by the table, see :class:`ExperimentTable`)."""
        return self.query_one("#exp-table", ExperimentTable).marked

    def on_mount(self) -> None:
        if getattr(self.app, "testing", False):
            for widget in self.query(Input):
                widget.cursor_blink = False
        self.reload()

    def reload(self) -> None:
        self.load()

    # --- workers --------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="experiments-load",
          description="read the experiment history")
    def load(self) -> None:
        from textual.worker import get_current_worker

        try:
            from workbench.development.experiments import list_experiments, varying_columns
        except ImportError:  # a core without the history yet: say so instead of failing the view
            self.post_message(self.Failed("the experiment history needs workbench.development.experiments, "
                                          "which this version does not have: see 'dvc exp show'"))
            return

        def loaded() -> Message:
            exps = list_experiments(self.path, cancel=get_current_worker().cancelled_event)
            varying_params, varying_metrics = varying_columns(exps)
            params = sorted({k for e in exps for k in e.params}, key=lambda k: (not k.startswith("model."), k))
            metrics = sorted({k for e in exps for k in e.metrics})
            return self.Loaded(list(exps), params, metrics, list(varying_params), list(varying_metrics))

        post_core_result(self, loaded, self.Failed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="experiments-write",
          description="write a note or promote an experiment")
    def write(self, action: str, name: str, text: str = "") -> None:
        from workbench.development import experiments as ex
        from workbench.development.promotion import promote_experiment

        def done() -> Message:
            if action == "note":
                ex.set_note(self.path, name, text)
                return self.Done(f"Note saved on {name}" if text.strip() else f"Note removed from {name}")
            commit = promote_experiment(self.path, name)
            return self.Done(f"Promoted {name} to a commit on the branch ({commit[:7]})", promoted=True)

        post_core_result(self, done, self.Failed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="experiments-curves",
          description="read the experiments' curves from git")
    def load_curves(self, kind: str, revs: dict[str, str]) -> None:
        post_core_result(self, lambda: self.Curves(kind, read_curves(self.path, revs, kind)), self.Failed)

    # --- messages -------------------------------------------------------------------

    def on_experiments_panel_loaded(self, event: Loaded) -> None:
        self.experiments = event.experiments
        self.params, self.metrics = event.params, event.metrics
        self.varying = (event.varying_params, event.varying_metrics)
        names = {e.name for e in self.experiments}
        self.marked.intersection_update(names)
        if self.sort_column is None and self.metrics:
            self.sort_column = self.metrics[0]
        self._show_table()
        if self.query_one("#exp-compare").has_class("shown"):
            self._show_compare()

    def on_experiments_panel_failed(self, event: Failed) -> None:
        self.busy = False
        notify_error(self.screen, event.message)
        if not self.experiments:
            self.query_one("#exp-summary", Static).update(
                Content.assemble(("Cannot read the experiments: ", "bold $error"), event.message))

    def on_experiments_panel_done(self, event: Done) -> None:
        self.busy = False
        self.app.notify(event.text, markup=False)
        if event.promoted:
            step_ended(self)
        self.reload()

    # --- the table --------------------------------------------------------------------

    def columns(self) -> tuple[list[str], list[str]]:
        """The parameter and metric columns on show (all, or those that differ)."""
        if self.show_all:
            return self.params, self.metrics
        vp, vm = self.varying
        return [k for k in self.params if k in vp], [k for k in self.metrics if k in vm]

    def ordered(self) -> list[Experiment]:
        """The baseline(s) first, then the rest sorted by the sort column."""
        base = [e for e in self.experiments if e.is_baseline]
        rest = [e for e in self.experiments if not e.is_baseline]
        key = self.sort_column
        if key in ("name", "created"):
            rest.sort(key=lambda e: getattr(e, key), reverse=self.sort_reverse)
        elif key:
            present = [e for e in rest if key in e.metrics or key in e.params]
            missing = [e for e in rest if e not in present]
            present.sort(key=lambda e: sort_value(e.metrics.get(key, e.params.get(key))),
                         reverse=self.sort_reverse)
            rest = present + missing
        return base + rest

    def _show_table(self) -> None:
        table = self.query_one("#exp-table", DataTable)
        keep = self.highlighted()
        params, metrics = self.columns()
        table.clear(columns=True)
        arrow = " ▼" if self.sort_reverse else " ▲"
        table.add_column(" ", key="mark")
        for key, label in (("name", "Experiment"), ("created", "Created")):
            table.add_column(label + (arrow if key == self.sort_column else ""), key=key)
        for key in params:
            table.add_column(short_label(key) + (arrow if key == self.sort_column else ""), key=key)
        for key in metrics:
            table.add_column(Text(key + (arrow if key == self.sort_column else ""), style="bold"), key=key)
        table.add_column("Note", key="note")
        for e in self.ordered():
            mark = mark_cell(e.name in self.marked)
            name = Text(e.name, style="bold" if e.is_baseline else "")
            if e.is_baseline:
                name.append(" (baseline)", style="dim")
            table.add_row(mark, name, e.created.replace("T", " ")[:16],
                          *[cell(e.params.get(k)) for k in params],
                          *[cell(e.metrics.get(k)) for k in metrics],
                          Text(e.note.splitlines()[0] if e.note else "", style="italic"), key=e.name)
        table.fixed_rows = sum(1 for e in self.experiments if e.is_baseline)
        if keep and keep in {e.name for e in self.experiments}:
            table.move_cursor(row=table.get_row_index(keep))
        self._show_summary()

    def _show_summary(self) -> None:
        params, metrics = self.columns()
        hidden = len(self.params) + len(self.metrics) - len(params) - len(metrics)
        base = next((e for e in self.experiments if e.is_baseline), None)
        count = sum(1 for e in self.experiments if not e.is_baseline)
        self.query_one("#exp-summary", Static).update(Content.assemble(
            (f"{count} experiment{'s' * (count != 1)}", "bold"),
            f"; baseline {base.name} pinned on top" if base else "",
            f"; {hidden} unchanged column{'s' * (hidden != 1)} hidden (a shows them)" if hidden and not self.show_all
            else ("; all columns shown (a hides unchanged ones)" if self.show_all else ""),
            f"; {len(self.marked)} marked" if self.marked else "",
            ("\nspace marks, c compares the marked, click a header or o to sort, p promotes", "dim"),
        ))
        self.query_one("#exp-columns", Button).label = "Changed columns  a" if self.show_all else "All columns  a"

    def highlighted(self) -> str | None:
        table = self.query_one("#exp-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def experiment(self, name: str | None) -> Experiment | None:
        return next((e for e in self.experiments if e.name == name), None)

    @on(DataTable.RowHighlighted, "#exp-table")
    def _on_row(self) -> None:
        exp = self.experiment(self.highlighted())
        self.query_one("#exp-note", Input).value = exp.note if exp else ""

    @on(DataTable.HeaderSelected, "#exp-table")
    def _on_header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in ("mark", "note"):
            return
        self.sort_reverse = not self.sort_reverse if key == self.sort_column else key not in ("name",)
        self.sort_column = key
        self._show_table()

    def action_sort_next(self) -> None:
        params, metrics = self.columns()
        keys = ["name", "created", *params, *metrics]
        at = keys.index(self.sort_column) if self.sort_column in keys else -1
        self.sort_column = keys[(at + 1) % len(keys)]
        self.sort_reverse = self.sort_column != "name"
        self._show_table()

    @on(ExperimentTable.Marked)
    def _on_marked(self, event: ExperimentTable.Marked) -> None:
        event.stop()
        self._show_summary()
        if self.query_one("#exp-compare").has_class("shown") and len(self.marked) >= 2:
            self._show_compare()

    @on(Button.Pressed, "#exp-columns")
    def action_toggle_columns(self) -> None:
        self.show_all = not self.show_all
        self._show_table()

    @on(Button.Pressed, "#exp-note-save")
    @on(Input.Submitted, "#exp-note")
    def _on_note(self, event: Message) -> None:
        event.stop()
        name = self.highlighted()
        if name is None or self.busy:
            return
        self.busy = True
        self.write("note", name, self.query_one("#exp-note", Input).value)

    @on(Button.Pressed, "#exp-promote")
    def action_promote(self) -> None:
        exp = self.experiment(self.highlighted())
        if exp is None or self.busy:
            return
        if exp.is_baseline:
            notify_error(self.screen, f"{exp.name} is the baseline, already a commit: choose an experiment")
            return
        base = next((e for e in self.experiments if e.is_baseline and e.rev == exp.baseline), None)
        changed = ", ".join(f"{k}={v}" for k, v in exp.params.items()
                            if base is None or base.params.get(k) != v) or "no params changed"

        def answered(yes: bool | None) -> None:
            if not yes or self.busy:
                return
            self.busy = True
            self.app.notify(f"Promoting {exp.name}…", markup=False, timeout=3)
            self.write("promote", exp.name)

        self.app.push_screen(ConfirmScreen(
            f"Promote experiment {exp.name}?",
            f"One commit on this branch with its params ({changed}), dvc.lock, metrics and plots; "
            "its model goes to the DVC remote. Validate and review the new model before it is released.",
            "Promote"), answered)

    # --- compare ------------------------------------------------------------------------

    @on(Button.Pressed, "#exp-compare-button")
    def action_compare(self) -> None:
        chosen = [e for e in self.ordered() if e.name in self.marked]
        if len(chosen) < 2:
            notify_error(self.screen, "mark at least two experiments with space to compare them")
            return
        self.query_one("#exp-compare").add_class("shown")
        self._show_compare()

    def _show_compare(self) -> None:
        chosen = [e for e in self.ordered() if e.name in self.marked]
        side = self.query_one("#exp-side", DataTable)
        side.clear(columns=True)
        side.add_column("", key="key")
        for e in chosen:
            side.add_column(e.name, key=e.name)
        params, metrics = self.columns()
        for key in [*params, *metrics]:
            values = [e.metrics.get(key, e.params.get(key)) for e in chosen]
            style = "bold" if key in metrics else ""
            side.add_row(Text(short_label(key), style=style), *[cell(v) for v in values], key=key)
        self.query_one("#exp-compare-title", Static).update(
            f"{len(chosen)} experiments side by side; curves overlaid from each one's plots at its commit")
        kind = str(self.query_one("#exp-curve-kind", Select).value)
        self.load_curves(kind, {e.name: e.rev for e in chosen})

    @on(Select.Changed, "#exp-curve-kind")
    def _on_curve_kind(self) -> None:
        if self.query_one("#exp-compare").has_class("shown"):
            self._show_compare()

    def on_experiments_panel_curves(self, event: Curves) -> None:
        from textual_plotext import PlotextPlot

        box = self.query_one("#exp-charts", Horizontal)
        plots = list(box.query(PlotextPlot))
        if len(plots) < 2:
            box.remove_children()
            plots = [PlotextPlot(id="exp-curve-plot"), PlotextPlot(id="exp-metric-plot")]
            box.mount(*plots)
        curve, trend = plots
        _, _, _, title, xlabel, ylabel = CURVES[event.kind]
        plt = curve.plt
        plt.clear_data()
        plt.clear_figure()
        if event.curves:
            for name, points in event.curves.items():
                plt.plot([p[0] for p in points], [p[1] for p in points], label=name, marker="braille")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        plt.title(title if event.curves else f"{title}: no plot data in these experiments")
        plt.xlabel(xlabel)
        plt.ylabel(ylabel)
        curve.refresh()
        self._show_trend(trend)

    def _show_trend(self, plot: Any) -> None:
        """The sort metric (or the first metric) across all experiments, oldest first."""
        metric = self.sort_column if self.sort_column in self.metrics else (self.metrics[0] if self.metrics else None)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        exps = sorted((e for e in self.experiments if metric and metric in e.metrics), key=lambda e: e.created)
        if metric and exps:
            xs = list(range(1, len(exps) + 1))
            plt.plot(xs, [e.metrics[metric] for e in exps], marker="braille")
            marked = [(i, e) for i, e in zip(xs, exps, strict=True) if e.name in self.marked]
            if marked:
                plt.scatter([i for i, _ in marked], [e.metrics[metric] for _, e in marked], marker="●")
            plt.xticks(xs if len(xs) <= 12 else xs[:: max(1, len(xs) // 12)])
        plt.title(f"{metric} over experiments (oldest first; ● marked)" if metric else "no metrics yet")
        plot.refresh()
