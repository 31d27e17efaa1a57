"""The Data engineering step: target, features and types, split, preprocessing, model -> a DVC pipeline.

The form starts from what is committed: the current ``params.yaml`` when there is one,
else the data's columns with their inferred types (identifier, sensitive, time and
excluded columns left out, as ``configure_pipeline`` would). Reading the data and
inferring types needs pandas, and the save (one ``configure_pipeline`` call, so one
commit) needs scikit-learn: both run from thread workers in a child process
(:mod:`workbench.jobs`), because importing them here froze the event loop for
100-250 ms. Everything the core
checks (features naming missing columns, a target with one class, an unknown
hyperparameter...) comes back as the core's one-line message and nothing is written.

A feature that ``params.yaml`` names but the data no longer has stays in the table,
marked "not in the data", so the user sees why a save is refused instead of the view
silently dropping it.
"""

from __future__ import annotations

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
from textual.widgets import Button, Collapsible, DataTable, Input, Label, Select, Static

from screens.base import StepView, notify_error, post_core_result, step_ended
from workbench.development.data_view import ColumnInfo, DataView, data_view_from
from workbench.development.pipeline import (  # pandas-free at import time
    CATEGORICAL_IMPUTE,
    FEATURE_TYPES,
    NUMERIC_IMPUTE,
    NUMERIC_SCALE,
    SPLIT_METHODS,
)
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.development.pipeline import PipelineResult

FEATURE_COLUMNS = (("use", "Use"), ("column", "Column"), ("type", "Type"), ("missing", "Missing"),
                   ("unique", "Unique"), ("note", "Note"))


def format_assignments(params: dict[str, Any]) -> str:
    """``{"C": 1.0, "max_iter": 1000}`` -> ``C=1.0 max_iter=1000`` (values as YAML, null for None)."""
    import json

    def text(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, str):
            return value if " " not in value else json.dumps(value)
        return json.dumps(value).replace(" ", "")

    return " ".join(f"{k}={text(v)}" for k, v in params.items())


def parse_hyperparameters(text: str) -> dict[str, Any]:
    """``C=0.5 max_iter=200`` -> ``{"C": 0.5, "max_iter": 200}``; one-line errors for bad pairs."""
    import shlex

    from workbench.development.training import parse_assignments, yaml_value

    try:
        items = shlex.split(text)
    except ValueError:
        raise WorkbenchError(f"hyperparameters {text!r} do not parse: write key=value pairs "
                             "separated by spaces, e.g. C=0.5 max_iter=200") from None
    pairs = parse_assignments(items, what="hyperparameter")
    if any("." in k for k in pairs):
        bad = next(k for k in pairs if "." in k)
        raise WorkbenchError(f"hyperparameter {bad!r} is a dotted key: write just the name, e.g. C=0.5")
    return {k: yaml_value(v) for k, v in pairs.items()}


def pipeline_summary(params: dict[str, Any]) -> str:
    """One paragraph about a params.yaml: target, features by type, split, model."""
    features = params.get("features") or {}
    kinds: dict[str, int] = {}
    for kind in features.values():
        kinds[str(kind)] = kinds.get(str(kind), 0) + 1
    split = params.get("split") or {}
    model = params.get("model") or {}
    how = f"{split.get('method', '?')} split, test share {split.get('test_size', '?')}, seed {split.get('seed', '?')}"
    if split.get("time_column"):
        how += f", ordered by {split['time_column']}"
    hyper = format_assignments(model.get("params") or {}) or "defaults"
    return (f"predict {params.get('target', '?')} ({params.get('task', '?')}) from {len(features)} features "
            f"({', '.join(f'{n} {k}' for k, n in kinds.items())})\n"
            f"{how}\n{model.get('name', '?')} ({hyper})\n"
            "stages: prepare -> train -> evaluate (dvc.yaml)")


class FeatureTable(DataTable[Any]):
    """The data's columns; space includes/excludes one, k changes its type (each change is announced: it is what ctrl+s commits)."""

    BINDINGS = [
        Binding("space", "toggle", "Use/skip"),
        Binding("k", "next_type", "Change type"),
    ]

    @dataclass
    class Toggle(Message):
        """Space was pressed on a column (its name, taken when the key was pressed)."""

        name: str

    @dataclass
    class NextType(Message):
        """k was pressed on a column."""

        name: str

    def _row(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def action_toggle(self) -> None:
        if (name := self._row()) is not None:
            self.post_message(self.Toggle(name))

    def action_next_type(self) -> None:
        if (name := self._row()) is not None:
            self.post_message(self.NextType(name))


class DataEngineeringView(StepView, VerticalScroll):
    """Target, features with types, split, preprocessing and model; save writes the pipeline."""

    STEP_ID = "data_engineering"
    STATE_ID = "#de-state"

    can_focus = False

    BINDINGS = [
        Binding("ctrl+s", "save", "Save pipeline"),
        Binding("ctrl+z", "revert", "Revert", show=False),
    ]

    @dataclass
    class Loaded(Message):
        """The data's columns and the committed pipeline."""

        data: DataView

    @dataclass
    class Saved(Message):
        """configure_pipeline's result, and the data view read again after it."""

        result: PipelineResult
        data: DataView

    @dataclass
    class Failed(Message):
        """A one-line error from reading the data or saving the pipeline."""

        message: str
        saving: bool = False

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.data: DataView | None = None
        #: column -> [included, type]; the order is the data's, then missing features.
        self.features: dict[str, list[Any]] = {}
        self.saving = False
        self._model_shown: str | None = None  # the model whose hyperparameters the input holds

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]Data engineering[/b]  [dim]Development[/dim]"),
                     classes="view-title")
        yield Static("Reading the data…", id="de-state", classes="hint")
        yield Static("", id="de-pipeline")
        with Collapsible(title="params.yaml", id="de-params-box", collapsed=True):
            yield Static("", id="de-params-text")
        with Horizontal(classes="de-row"):
            yield Label("Target", classes="de-label")
            yield Select([], id="de-target", compact=True, prompt="choose the column to predict")
            yield Static("", id="de-task", classes="hint")
        yield Label("Features", classes="de-label")
        yield FeatureTable(id="de-features", cursor_type="row", zebra_stripes=True)
        yield Static("", id="de-features-note", classes="hint")
        with Horizontal(classes="de-row"):
            yield Label("Split", classes="de-label")
            yield Select(((m, m) for m in SPLIT_METHODS), id="de-split", compact=True,
                         allow_blank=False, value="stratified")
            yield Label("test share")
            yield Input("0.2", id="de-test-size", type="number", compact=True, select_on_focus=True)
            yield Label("seed")
            yield Input("42", id="de-seed", type="integer", compact=True, select_on_focus=True)
        with Horizontal(classes="de-row"):
            yield Label("Time column", classes="de-label")
            yield Select([], id="de-time-column", compact=True, prompt="none")
            yield Label("(orders a time split)")
        with Horizontal(classes="de-row"):
            yield Label("Numeric", classes="de-label")
            yield Select(((f"impute {v}", v) for v in NUMERIC_IMPUTE), id="de-num-impute",
                         compact=True, allow_blank=False, value="median")
            yield Label("")
            yield Select(((f"scale {v}", v) for v in NUMERIC_SCALE), id="de-num-scale",
                         compact=True, allow_blank=False, value="standard")
        with Horizontal(classes="de-row"):
            yield Label("Categorical", classes="de-label")
            yield Select(((f"impute {v}", v) for v in CATEGORICAL_IMPUTE), id="de-cat-impute",
                         compact=True, allow_blank=False, value="most_frequent")
            yield Label("encode one-hot")
        with Horizontal(classes="de-row"):
            yield Label("Text (TF-IDF)", classes="de-label")
            yield Label("max features")
            yield Input("5000", id="de-tfidf-max", compact=True, restrict=r"\d*", select_on_focus=True)
            yield Label("n-grams")
            yield Input("1,2", id="de-tfidf-ngrams", compact=True, restrict=r"[\d, ]*",
                        select_on_focus=True)
        with Horizontal(classes="de-row"):
            yield Label("Model", classes="de-label")
            yield Select([], id="de-model", compact=True, prompt="choose a model family")
        with Horizontal(classes="de-row"):
            yield Label("Hyperparameters", classes="de-label")
            yield Input(id="de-hyper", compact=True, placeholder="key=value ..., e.g. C=0.5 max_iter=200")
        with Horizontal(id="de-actions"):
            yield Button("Save pipeline  ctrl+s", variant="primary", id="de-save", compact=True)
            yield Button("Revert", id="de-revert", compact=True)
        yield Static("", id="de-result", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one("#de-features", DataTable)
        for key, label in FEATURE_COLUMNS:
            table.add_column(label, key=key)
        self.quiet_inputs()
        self.load()

    # --- workers --------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-engineering-load",
          description="read the data and the pipeline")
    def load(self) -> None:
        from workbench.jobs import run_in_child

        post_core_result(self, lambda: self.Loaded(data_view_from(run_in_child("data_view", self.path))),
                         self.Failed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-engineering-save",
          description="write the pipeline")
    def save(self, choices: dict[str, Any]) -> None:
        from workbench.development.pipeline import PipelineResult
        from workbench.jobs import run_in_child

        def saved() -> Message:
            done = run_in_child("configure_pipeline", self.path, choices)
            raw = done["result"]
            result = PipelineResult(commit=raw["commit"], params=raw["params"], task=raw["task"],
                                    summary=raw["summary"], messages=tuple(raw["messages"]))
            return self.Saved(result, data_view_from(done["data"]))

        post_core_result(self, saved, self.Failed, saving=True)

    # --- messages -------------------------------------------------------------------

    def on_data_engineering_view_loaded(self, event: Loaded) -> None:
        self.fill(event.data)

    def on_data_engineering_view_saved(self, event: Saved) -> None:
        self.saving = False
        result = event.result
        for message in result.messages:
            self.app.notify(message, markup=False)
        if result.commit is None:
            text = f"Pipeline unchanged: {result.summary}"
        else:
            text = f"Pipeline saved: {result.summary} (commit {result.commit[:7]})"
        self.app.notify(text, markup=False)
        self.query_one("#de-result", Static).update(Text(text))
        self.fill(event.data)
        if result.commit is not None:
            step_ended(self)

    def on_data_engineering_view_failed(self, event: Failed) -> None:
        notify_error(self.screen, event.message)
        if event.saving:
            self.saving = False
            self.query_one("#de-result", Static).update(Text(f"Not saved: {event.message}"))
        else:
            self.query_one("#de-pipeline", Static).update(
                Content.assemble(("Cannot read the data: ", "bold $error"), event.message))

    # --- the form -------------------------------------------------------------------

    def fill(self, data: DataView) -> None:
        """Show the data and the committed pipeline (it becomes what Revert goes back to)."""
        self.data = data
        self._fill(data)

    def _fill(self, data: DataView) -> None:
        params = data.params or {}
        names = [c.name for c in data.columns]
        target = params.get("target") or data.default_target
        if target not in names:
            target = None
        target_select = self.query_one("#de-target", Select)
        target_select.set_options((n, n) for n in names)
        if target:
            target_select.value = target
        self.query_one("#de-task", Static).update(f"{data.task} task (charter)")

        self.features = {}
        chosen = params.get("features") if isinstance(params.get("features"), dict) else None
        for col in data.columns:
            if chosen is not None:
                self.features[col.name] = [col.name in chosen, str(chosen.get(col.name) or col.inferred)]
            else:
                self.features[col.name] = [not col.role and col.name != target, col.inferred]
        for name, kind in (chosen or {}).items():
            if name not in self.features:
                self.features[name] = [True, str(kind)]  # named by params.yaml, gone from the data
        self._show_features()

        split = params.get("split") or {}
        method = split.get("method") or ("stratified" if data.task == "classification" else "random")
        self.query_one("#de-split", Select).value = method if method in SPLIT_METHODS else "random"
        self.query_one("#de-test-size", Input).value = str(split.get("test_size", 0.2))
        self.query_one("#de-seed", Input).value = str(split.get("seed", 42))
        time_select = self.query_one("#de-time-column", Select)
        time_select.set_options((n, n) for n in names)
        time_column = split.get("time_column") or data.default_time_column
        if time_column in names:
            time_select.value = time_column

        prep = params.get("preprocessing") or {}
        numeric = prep.get("numeric") or {}
        categorical = prep.get("categorical") or {}
        tfidf = (prep.get("text") or {}).get("tfidf") or {}
        self._set_select("#de-num-impute", numeric.get("impute"), "median")
        self._set_select("#de-num-scale", numeric.get("scale"), "standard")
        self._set_select("#de-cat-impute", categorical.get("impute"), "most_frequent")
        max_features = tfidf.get("max_features", 5000)
        self.query_one("#de-tfidf-max", Input).value = "" if max_features is None else str(max_features)
        ngrams = tfidf.get("ngram_range") or [1, 2]
        self.query_one("#de-tfidf-ngrams", Input).value = ",".join(str(n) for n in ngrams)

        model_select = self.query_one("#de-model", Select)
        model_select.set_options((n, n) for n in data.model_names)
        model = params.get("model") or {}
        name = model.get("name") or ("logistic_regression" if data.task == "classification" else "ridge")
        if name in data.model_names:
            model_select.value = name
        hyper = model.get("params") if model else data.default_params.get(str(name), {})
        self.query_one("#de-hyper", Input).value = format_assignments(hyper or {})
        self._model_shown = str(name)

        pipeline = self.query_one("#de-pipeline", Static)
        box = self.query_one("#de-params-box", Collapsible)
        if data.params is not None:
            pipeline.update(Content.assemble(("Current pipeline (params.yaml, dvc.yaml)\n", "bold"),
                                             pipeline_summary(data.params)))
            self.query_one("#de-params-text", Static).update(Text(data.params_text))
            box.display = True
        else:
            pipeline.update(Content.assemble(
                ("No pipeline yet. ", "bold"),
                f"{data.rows} rows, {len(data.columns)} columns; types are inferred from the data. "
                "Choose, then save: params.yaml and dvc.yaml are written in one commit."))
            box.display = False

    def _set_select(self, selector: str, value: Any, default: str) -> None:
        select = self.query_one(selector, Select)
        try:
            select.value = value if value is not None else default
        except Exception:  # a value this version of the form does not offer
            select.value = default

    def _column(self, name: str) -> ColumnInfo | None:
        if self.data is None:
            return None
        return next((c for c in self.data.columns if c.name == name), None)

    def _target(self) -> str | None:
        value = self.query_one("#de-target", Select).value
        return None if value == Select.NULL else str(value)

    def _show_features(self, cursor: str | None = None) -> None:
        table = self.query_one("#de-features", DataTable)
        keep = cursor
        if keep is None and table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        target = self._target()
        for name, (used, kind) in self.features.items():
            col = self._column(name)
            if col is None:
                note = Text("not in the data", style="bold red")
                missing, unique = "-", "-"
            else:
                words = ["target" if name == target else col.role]
                if kind != col.inferred:
                    words.append(f"inferred {col.inferred}")
                note = Text(", ".join(w for w in words if w),
                            style="yellow" if name == target else "dim")
                missing = f"{col.missing_share:.0%}" if col.missing_share else "0%"
                unique = str(col.unique)
            mark = Text("✔", style="bold green") if used else Text("·", style="dim")
            table.add_row(mark, name, Text(kind, style="bold" if used else "dim"), missing, unique,
                          note, key=name)
        if keep is not None and keep in self.features:
            table.move_cursor(row=table.get_row_index(keep))
        used = [n for n, (u, _) in self.features.items() if u]
        kinds: dict[str, int] = {}
        for name in used:
            kinds[self.features[name][1]] = kinds.get(self.features[name][1], 0) + 1
        self.query_one("#de-features-note", Static).update(
            f"{len(used)} of {len(self.features)} columns used"
            + (f" ({', '.join(f'{n} {k}' for k, n in kinds.items())})" if kinds else "")
            + "  ·  space: use/skip  k: change type")

    @on(DataTable.RowSelected, "#de-features")
    def _on_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter changes nothing here (it used to toggle a column silently): space does, and says so."""
        event.stop()

    @on(FeatureTable.Toggle)
    def _on_toggle(self, event: FeatureTable.Toggle) -> None:
        event.stop()
        name = event.name
        if name not in self.features:
            return
        if name == self._target() and not self.features[name][0]:
            notify_error(self.screen, f"{name!r} is the target: it cannot also be a feature")
            return
        self.features[name][0] = not self.features[name][0]
        self._show_features(cursor=name)
        self._announce_change(f"{name}: {'used' if self.features[name][0] else 'skipped'}")

    def _announce_change(self, what: str) -> None:
        """A change to what ctrl+s will commit is said, at once, in a notification."""
        self.app.notify(f"{what} — not saved yet: ctrl+s commits the pipeline, ctrl+z reverts",
                        markup=False, timeout=4)

    @on(FeatureTable.NextType)
    def _on_next_type(self, event: FeatureTable.NextType) -> None:
        event.stop()
        name = event.name
        if name not in self.features:
            return
        kind = self.features[name][1]
        self.features[name][1] = FEATURE_TYPES[(FEATURE_TYPES.index(kind) + 1) % len(FEATURE_TYPES)] \
            if kind in FEATURE_TYPES else FEATURE_TYPES[0]
        self._show_features(cursor=name)
        self._announce_change(f"{name}: type {self.features[name][1]}")

    @on(Select.Changed, "#de-target")
    def _on_target(self, event: Select.Changed) -> None:
        target = self._target()
        if target in self.features and self.features[target][0]:
            self.features[target][0] = False  # the target is never a feature
        self._show_features()

    @on(Select.Changed, "#de-model")
    def _on_model(self, event: Select.Changed) -> None:
        if self.data is None or event.value == Select.NULL or str(event.value) == self._model_shown:
            return
        name = str(event.value)
        self._model_shown = name
        model = (self.data.params or {}).get("model") or {}
        hyper = model.get("params") if model.get("name") == name else self.data.default_params.get(name, {})
        self.query_one("#de-hyper", Input).value = format_assignments(hyper or {})

    def choices(self) -> dict[str, Any]:
        """The keyword arguments for ``configure_pipeline``; a one-line error for what does not parse."""
        target = self._target()
        if target is None:
            raise WorkbenchError("no target column: choose the column to predict")
        features = {name: kind for name, (used, kind) in self.features.items() if used}
        if not features:
            raise WorkbenchError("no features chosen: press space on the columns to use")
        test_text = self.query_one("#de-test-size", Input).value.strip()
        try:
            test_size = float(test_text)
        except ValueError:
            raise WorkbenchError(f"test share {test_text!r} is not a number: use a share like 0.2") from None
        seed_text = self.query_one("#de-seed", Input).value.strip()
        try:
            seed = int(seed_text)
        except ValueError:
            raise WorkbenchError(f"seed {seed_text!r} is not a whole number: use e.g. 42") from None
        time_value = self.query_one("#de-time-column", Select).value
        split = {"method": str(self.query_one("#de-split", Select).value), "test_size": test_size,
                 "seed": seed, "time_column": None if time_value == Select.NULL else str(time_value)}
        max_text = self.query_one("#de-tfidf-max", Input).value.strip()
        ngram_text = self.query_one("#de-tfidf-ngrams", Input).value
        ngrams = [int(p) for p in ngram_text.replace(" ", ",").split(",") if p.strip().isdigit()]
        preprocessing = {
            "numeric": {"impute": str(self.query_one("#de-num-impute", Select).value),
                        "scale": str(self.query_one("#de-num-scale", Select).value)},
            "categorical": {"impute": str(self.query_one("#de-cat-impute", Select).value)},
            "text": {"tfidf": {"max_features": int(max_text) if max_text else None,
                               "ngram_range": ngrams}},
        }
        model_value = self.query_one("#de-model", Select).value
        if model_value == Select.NULL:
            raise WorkbenchError("no model chosen: pick a model family")
        model = {"name": str(model_value),
                 "params": parse_hyperparameters(self.query_one("#de-hyper", Input).value)}
        return {"target": target, "features": features, "split": split,
                "preprocessing": preprocessing, "model": model}

    @on(Button.Pressed, "#de-save")
    def action_save(self) -> None:
        if self.saving:
            self.app.notify("Still saving the pipeline…", markup=False, timeout=3)
            return
        if self.data is None:
            return
        try:
            choices = self.choices()
        except WorkbenchError as exc:
            notify_error(self.screen, str(exc))
            self.query_one("#de-result", Static).update(Text(f"Not saved: {exc}"))
            return
        self.saving = True
        self.query_one("#de-result", Static).update("Checking the choices against the data and saving…")
        self.save(choices)

    @on(Button.Pressed, "#de-revert")
    def action_revert(self) -> None:
        if self.data is not None:
            self.fill(self.data)
            self.query_one("#de-result", Static).update("Reverted to the committed pipeline.")
