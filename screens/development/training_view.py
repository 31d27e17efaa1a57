"""The Training & experiments step: run DVC experiments with a live log, cancel them, browse history.

A run is one ``run_experiment`` (``dvc exp run``) or, with a sweep, one ``run_sweep``
(DVC's queue). A thread worker runs it in a child process (:mod:`workbench.jobs`):
the core checks the parameters with scikit-learn, and importing scikit-learn in this
process froze the event loop for 100-250 ms. DVC's output lines come back one message
each and go into a RichLog; the ProgressBar counts pipeline stages (each "Running stage" /
"is cached" / "didn't change" line is one stage of one experiment), the only progress DVC
reports. Cancel sets a plain ``threading.Event``; the runner hands it on to the core in
the child, which interrupts DVC (SIGINT, as Ctrl-C would) and puts the workspace back.
The worker then ends normally with a ``Cancelled`` message, so nothing is left running
and tests can wait for it.

What to run is parsed on the UI thread with the core's pure parsers (a typo is reported
before anything starts); the checks that need scikit-learn run in the child, in the core,
before DVC starts. The history tab is :class:`screens.development.experiments_panel.ExperimentsPanel`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import (
    Button,
    Input,
    Label,
    ProgressBar,
    RichLog,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from screens.base import StepView, notify_error, post_core_result, set_disabled, step_ended
from workbench.errors import WorkbenchError

#: A DVC output line that marks one stage of one experiment as reached.
STAGE_LINE = re.compile(r"Running stage '([^']+)'|Stage '([^']+)' (?:is cached|didn't change)")
EXPERIMENT_LINE = re.compile(r"Reproducing experiment '([^']+)'")
LOG_LINES = 5000


@dataclass(frozen=True)
class RunRequest:
    """What the user asked to run, parsed (values are text; DVC and the core parse them as YAML)."""

    set_params: dict[str, str]
    sweep: dict[str, list[str]]
    jobs: int = 1
    name: str | None = None

    @property
    def points(self) -> int:
        import math

        return math.prod(len(v) for v in self.sweep.values()) if self.sweep else 1


@dataclass(frozen=True)
class PipelineInfo:
    """The pipeline as params.yaml and dvc.yaml say (what a run starts from)."""

    params: dict[str, Any]
    stages: tuple[str, ...]


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: the experiments it made, their metrics and the ones that failed."""

    names: tuple[str, ...]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    seconds: float = 0.0


def split_words(text: str, what: str) -> list[str]:
    """Shell-like words of an input (quotes allowed around values with spaces)."""
    import shlex

    try:
        return shlex.split(text)
    except ValueError:
        raise WorkbenchError(f"{what} {text!r} does not parse: close the quote, or write "
                             "key=value pairs separated by spaces") from None


def parse_request(set_text: str, sweep_text: str, jobs_text: str, name_text: str) -> RunRequest:
    """The inputs of the Run tab as a request; one-line errors for what does not parse."""
    from workbench.development.training import SWEEP_LIMIT, parse_assignments, parse_sweeps

    fixed = parse_assignments(split_words(set_text, "-S"))
    sweep = parse_sweeps(split_words(sweep_text, "--sweep"))
    jobs_text = jobs_text.strip() or "1"
    if not jobs_text.isdigit() or int(jobs_text) < 1:
        raise WorkbenchError(f"workers {jobs_text!r} must be a whole number >= 1, e.g. 2")
    name = name_text.strip() or None
    if name and sweep:
        raise WorkbenchError("a sweep names its experiments itself: clear the name, or run one experiment")
    request = RunRequest(set_params=fixed, sweep=sweep, jobs=int(jobs_text), name=name)
    if request.points > SWEEP_LIMIT:
        raise WorkbenchError(f"the sweep has {request.points} points, above the limit of {SWEEP_LIMIT}: "
                             "sweep fewer values or run it in parts")
    return request


def read_pipeline(path: Path) -> PipelineInfo:
    """params.yaml and the stage names of dvc.yaml (no pandas, no DVC)."""
    import yaml

    from workbench.development.stages import read_params

    params = read_params(path)
    dvc_file = path / "dvc.yaml"
    stages: tuple[str, ...] = ()
    if dvc_file.is_file():
        try:
            data = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            raise WorkbenchError("dvc.yaml is not valid YAML: fix it or run 'mlops-workbench pipeline' "
                                 "again") from None
        stages = tuple((data.get("stages") or {}) if isinstance(data, dict) else ())
    if not stages:
        raise WorkbenchError("dvc.yaml has no stages: write the pipeline first in Data engineering "
                             "(or 'mlops-workbench pipeline')")
    return PipelineInfo(params=params, stages=stages)


def flat_params(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"params": {"C": 1}}}`` -> ``{"model.params.C": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_params(value, name + "."))
        else:
            out[name] = value
    return out


class RunBody(VerticalScroll):
    """The Run tab's scrolling body; tab goes straight to its first input."""

    can_focus = False


class TrainingView(StepView, Vertical):
    """Run an experiment or a sweep with a live log and progress; the history in the next tab."""

    STEP_ID = "training"
    STATE_ID = "#tr-state"

    can_focus = False

    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("x", "cancel_run", "Cancel run"),
        Binding("escape", "cancel_run", "Cancel run", show=False),
    ]

    @dataclass
    class Loaded(Message):
        """params.yaml and the stages of dvc.yaml."""

        info: PipelineInfo

    @dataclass
    class LoadFailed(Message):
        """No pipeline yet (or an unreadable one): a one-line reason."""

        message: str

    @dataclass
    class Line(Message):
        """One line of DVC's output."""

        text: str

    @dataclass
    class Finished(Message):
        """The run ended with experiments."""

        outcome: RunOutcome

    @dataclass
    class Cancelled(Message):
        """The run was cancelled; DVC was stopped and the workspace put back."""

        message: str

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.info: PipelineInfo | None = None
        self.running = False
        self.cancel_event = threading.Event()
        self._stage_count = 3
        self._points = 1
        self._experiment_index = -1
        self._stages_seen = 0

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Content.from_markup("[b]Training & experiments[/b]  [dim]Development[/dim]"),
                     classes="view-title")
        yield Static("Reading the pipeline…", id="tr-state", classes="hint")
        with TabbedContent(id="tr-tabs", initial="tr-run-tab"):
            with TabPane("Run", id="tr-run-tab"), RunBody(id="tr-run-body"):
                yield Static("", id="tr-params")
                with Horizontal(classes="tr-row"):
                    yield Label("Model")
                    yield Select([], id="tr-family", prompt="model family", compact=True)
                with Horizontal(classes="tr-row", id="tr-hyper-row"):
                    yield Label("Hyperparameters")
                    yield Horizontal(id="tr-hyper")
                with Horizontal(classes="tr-row"):
                    yield Label("More")
                    yield Input(id="tr-hp-more", compact=True, placeholder="other hyperparameters: key=value ...")
                yield Static("", id="tr-hyper-error")
                yield Static("", id="tr-hyper-keys", classes="hint")
                with Horizontal(classes="tr-row"):
                    yield Label("Set (-S)")
                    yield Input(id="tr-set", compact=True,
                                placeholder="key=value ..., e.g. model.params.C=0.5 split.seed=7")
                with Horizontal(classes="tr-row"):
                    yield Label("Sweep")
                    yield Input(id="tr-sweep", compact=True,
                                placeholder="optional grid: model.params.C=0.1,1,10 ...")
                    yield Label("workers", classes="tr-sub")
                    yield Input("1", id="tr-jobs", compact=True, restrict=r"\d*", select_on_focus=True)
                with Horizontal(classes="tr-row"):
                    yield Label("Name")
                    yield Input(id="tr-name", compact=True, placeholder="optional (DVC picks one)")
                yield Static("", id="tr-plan", classes="hint")
                with Horizontal(id="tr-actions"):
                    yield Button("Run  ctrl+r", variant="primary", id="tr-run", compact=True)
                    yield Button("Cancel  x", variant="error", id="tr-cancel", compact=True,
                                 disabled=True)
                with Horizontal(id="tr-progress-row"):
                    yield ProgressBar(id="tr-progress", total=1, show_eta=False)  # idle: empty, not animating
                    yield Static("", id="tr-stage", classes="hint")
                yield RichLog(id="tr-log", max_lines=LOG_LINES, wrap=True, markup=False,
                              highlight=False)
                yield Static("", id="tr-result")
            with TabPane("Experiments", id="tr-history-tab"):
                yield from self._history_panel()

    def _history_panel(self) -> ComposeResult:
        from screens.development.experiments_panel import ExperimentsPanel

        yield ExperimentsPanel(self.path, id="tr-history")

    def on_mount(self) -> None:
        self.quiet_inputs()
        self._show_plan()
        self.load()

    def on_unmount(self) -> None:
        self.cancel_event.set()  # leaving the app mid-run stops DVC instead of orphaning it

    # --- hooks from the project screen ----------------------------------------------

    def reload(self) -> None:
        self.load()
        self._reload_history()

    def _reload_history(self) -> None:
        for panel in self.query("#tr-history"):
            reload = getattr(panel, "reload", None)
            if callable(reload):
                reload()

    # --- workers --------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="training-load",
          description="read the pipeline")
    def load(self) -> None:
        post_core_result(self, lambda: self.Loaded(read_pipeline(self.path)), self.LoadFailed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="training-run",
          description="run a DVC experiment")
    def run_training(self, request: RunRequest, cancel: threading.Event) -> None:
        from workbench.jobs import run_in_child

        def progress(line: str) -> None:
            self.post_message(self.Line(line))

        def finished() -> Message:
            done = run_in_child(
                "train", self.path,
                {"set_params": request.set_params, "sweep": request.sweep, "jobs": request.jobs,
                 "name": request.name},
                progress=progress, cancel=cancel,
            )
            return self.Finished(RunOutcome(
                names=tuple(done["names"]), metrics=dict(done["metrics"]), failed=tuple(done["failed"]),
                seconds=float(done["seconds"])))

        post_core_result(self, finished, self.Failed, cancelled=self.Cancelled)

    # --- messages -------------------------------------------------------------------

    async def on_training_view_loaded(self, event: Loaded) -> None:
        self.info = event.info
        params = event.info.params
        model = params.get("model") or {}
        hyper = "  ".join(f"{k}={v}" for k, v in (model.get("params") or {}).items()) or "defaults"
        split = params.get("split") or {}
        flat = flat_params(params)
        keys = [k for k in flat if k.startswith("model.")] + ["split.seed", "split.test_size"]
        self.query_one("#tr-params", Static).update(Content.assemble(
            ("Runs start from params.yaml: ", "bold"), (str(model.get("name", "?")), "bold $accent"),
            f" ({hyper}), {split.get('method', '?')} split, seed {split.get('seed', '?')}; "
            f"stages {' -> '.join(event.info.stages)}\n",
            ("Keys: ", "dim"), (", ".join(keys[:8]) + ", preprocessing.… (any key of params.yaml)", "dim"),
        ))
        self._stage_count = max(1, len(event.info.stages))
        await self._fill_form(str(model.get("name") or ""), dict(model.get("params") or {}))

    # --- the model form: family and hyperparameters ------------------------------------

    async def _fill_form(self, family: str, params: dict[str, Any]) -> None:
        """The family Select (the task's families) and one Input per hyperparameter, prefilled."""
        from workbench.development.models import model_names

        task = str((self.info.params if self.info else {}).get("task") or "")
        families = list(model_names(task))
        if family and family not in families:
            families.append(family)
        select = self.query_one("#tr-family", Select)
        self._shown_family = family  # the Changed message the Select posts for this is not a switch
        select.set_options([(f, f) for f in families])
        if family:
            select.value = family
        await self._show_hyper(family, params)

    async def _show_hyper(self, family: str, params: dict[str, Any]) -> None:
        from workbench.development.models import MODELS, PARAM_NAMES

        box = self.query_one("#tr-hyper", Horizontal)
        await box.remove_children()
        task = str((self.info.params if self.info else {}).get("task") or "")
        cls = (MODELS.get(task) or {}).get(family, ("", ""))[1]
        valid = sorted(PARAM_NAMES.get(cls, ()))
        widgets: list[Any] = []
        for key, value in params.items():
            widgets += [Label(key), Input("null" if value is None else str(value), id=f"tr-hp-{key}",
                                          compact=True, name=key, select_on_focus=True)]
        others = [k for k in valid if k not in params]
        more = self.query_one("#tr-hp-more", Input)
        more.value = ""
        more.remove_class("-invalid")
        more.placeholder = ("other hyperparameters, key=value: " + ", ".join(others[:5])
                            + (", …" if len(others) > 5 else "")) if others else "no other hyperparameters"
        await box.mount_all(widgets)
        if getattr(self.app, "testing", False):
            for widget in widgets:
                if isinstance(widget, Input):
                    widget.cursor_blink = False
        self.query_one("#tr-hyper-error", Static).update("")
        self.query_one("#tr-hyper-keys", Static).update(
            Content.assemble((f"{family} takes: ", "dim"), (", ".join(valid), "dim")) if valid else "")

    @on(Select.Changed, "#tr-family")
    async def _family_changed(self, event: Select.Changed) -> None:
        from workbench.development.models import family_defaults

        if self.info is None or event.value is Select.NULL or event.value == getattr(self, "_shown_family", None):
            return
        model = self.info.params.get("model") or {}
        family = str(event.value)
        same = family == model.get("name")
        self._shown_family = family
        await self._show_hyper(family, dict(model.get("params") or {}) if same else family_defaults(family))
        self._show_plan()

    def form_params(self) -> dict[str, str]:
        """The -S assignments the form asks for: the family when switched, then the hyperparameters
        that differ from params.yaml (all of them for a new family); checked like the core does
        before DVC starts (names, and the values it can judge without scikit-learn)."""
        from workbench.development.models import check_param_names, check_values_cheaply
        from workbench.development.training import parse_assignments, yaml_value

        if self.info is None or not self.query("#tr-family"):
            return {}
        model = self.info.params.get("model") or {}
        task = str(self.info.params.get("task") or "")
        value = self.query_one("#tr-family", Select).value
        family = str(value) if value is not Select.NULL else str(model.get("name") or "")
        switched = family != model.get("name")
        current = dict(model.get("params") or {})
        out: dict[str, str] = {"model.name": family} if switched else {}
        hyper: dict[str, Any] = {}
        fields = [*self.query("#tr-hyper Input").results(Input), self.query_one("#tr-hp-more", Input)]
        for field_ in fields:
            field_.remove_class("-invalid")
        for field_ in fields:
            raw = field_.value.strip()
            if field_.id == "tr-hp-more":
                try:
                    extra = parse_assignments(split_words(raw, "more"), what="hyperparameter")
                except WorkbenchError:
                    field_.add_class("-invalid")
                    raise
                pairs = [(k.removeprefix("model.params."), v) for k, v in extra.items()]
            else:
                if not raw:
                    continue
                pairs = [(str(field_.name), raw)]
            for key, text_value in pairs:
                parsed = yaml_value(text_value)
                try:
                    check_param_names(task, family, {key: parsed})
                    check_values_cheaply(family, {key: parsed})
                except WorkbenchError:
                    field_.add_class("-invalid")
                    raise
                hyper[key] = parsed
                if switched or key not in current or current[key] != parsed:
                    out[f"model.params.{key}"] = text_value
        return out

    def _mark_field(self, message: str) -> None:
        """Show a core refusal about a hyperparameter at its field."""
        match = re.search(r"model\.params\.(\w+)|hyperparameter '(\w+)'|model '\w+': (?:The )?'(\w+)'", message)
        key = next((g for g in match.groups() if g), None) if match else None
        fields = self.query(f"#tr-hp-{key}") if key else []
        target = fields[0] if fields else (self.query("#tr-hp-more") or [None])[0]
        if target is not None and ("model" in message or "hyperparameter" in message):
            target.add_class("-invalid")
            self.query_one("#tr-hyper-error", Static).update(Content.assemble(("✘ ", "bold $error"),
                                                                              (message, "$error")))

    def on_training_view_load_failed(self, event: LoadFailed) -> None:
        self.info = None
        self.query_one("#tr-params", Static).update(
            Content.assemble(("No pipeline to run: ", "bold $warning"), event.message))

    def on_training_view_line(self, event: Line) -> None:
        line = event.text.rstrip()
        if not line or self.cancel_event.is_set():
            return  # once cancelled, DVC's reaction to the interrupt is not the user's log
        self.query_one("#tr-log", RichLog).write(Text(line))
        started = EXPERIMENT_LINE.search(line)
        if started:
            self._experiment_index += 1
            self._stages_seen = 0
            self.query_one("#tr-stage", Static).update(
                f"experiment {started.group(1)} ({self._experiment_index + 1}/{self._points})")
            return
        stage = STAGE_LINE.search(line)
        if stage:
            self._stages_seen = min(self._stages_seen + 1, self._stage_count)
            index = max(self._experiment_index, 0)
            bar = self.query_one("#tr-progress", ProgressBar)
            bar.update(progress=index * self._stage_count + self._stages_seen)
            self.query_one("#tr-stage", Static).update(
                f"stage {stage.group(1) or stage.group(2)} ({self._stages_seen}/{self._stage_count})"
                + (f", experiment {index + 1}/{self._points}" if self._points > 1 else ""))

    def on_training_view_finished(self, event: Finished) -> None:
        self._end_run()
        outcome = event.outcome
        bar = self.query_one("#tr-progress", ProgressBar)
        bar.update(progress=bar.total or 0)
        lines: list[Any] = []
        for name in outcome.names:
            metrics = outcome.metrics.get(name, {})
            shown = "  ".join(f"{k}={v:.4f}" for k, v in metrics.items())
            lines += [(name, "bold $accent"), f"  {shown}\n"]
        if outcome.failed:
            lines += [("failed: ", "bold $error"), ", ".join(outcome.failed), "\n"]
        count = len(outcome.names)
        summary = (f"{count} experiment{'s' * (count != 1)} in {outcome.seconds:.1f} s"
                   + (f", {len(outcome.failed)} failed" if outcome.failed else ""))
        lines.append((summary, "dim"))
        self.query_one("#tr-result", Static).update(Content.assemble(*lines))
        self.query_one("#tr-stage", Static).update("done")
        if outcome.failed:
            notify_error(self.screen, f"{summary}: {', '.join(outcome.failed)} failed (see the log)")
        else:
            first = outcome.names[0] if outcome.names else ""
            self.app.notify(f"{summary}: {first}" + (" …" if count > 1 else ""), markup=False)
        self.load()  # dvc exp run applied the experiment's params to the workspace
        self._reload_history()
        step_ended(self)

    def on_step_view_failed(self, event: StepView.Failed) -> None:
        self._end_run()
        notify_error(self.screen, event.message)
        self._mark_field(event.message)
        self.query_one("#tr-stage", Static).update("failed")
        self.query_one("#tr-result", Static).update(
            Content.assemble(("Not run: ", "bold $error"), event.message))

    def on_training_view_cancelled(self, event: Cancelled) -> None:
        self._end_run()
        self.app.notify(event.message, severity="warning", markup=False)
        self.query_one("#tr-stage", Static).update("cancelled")
        self.query_one("#tr-result", Static).update(
            Content.assemble(("Cancelled: ", "bold $warning"), event.message))

    # --- actions --------------------------------------------------------------------

    @on(Input.Changed, "#tr-set, #tr-sweep, #tr-jobs, #tr-name, #tr-hyper Input, #tr-hp-more")
    def _show_plan(self) -> None:
        plan = self.query_one("#tr-plan", Static)
        try:
            request = self._request()
        except WorkbenchError as exc:
            plan.update(Content.assemble(("✘ ", "bold $error"), (str(exc), "$error")))
            if self.query("#tr-hyper .-invalid, #tr-hp-more.-invalid"):
                self.query_one("#tr-hyper-error", Static).update(
                    Content.assemble(("✘ ", "bold $error"), (str(exc), "$error")))
            return
        if self.query("#tr-hyper-error") and not self.query("#tr-hyper .-invalid, #tr-hp-more.-invalid"):
            self.query_one("#tr-hyper-error", Static).update("")
        if request.sweep:
            text = (f"a grid of {request.points} experiment{'s' * (request.points != 1)} "
                    f"through DVC's queue with {request.jobs} worker{'s' * (request.jobs != 1)}")
        else:
            text = "one experiment (dvc exp run) in the workspace"
        if request.set_params:
            text += ", with " + " ".join(f"{k}={v}" for k, v in request.set_params.items())
        plan.update(text)

    def _request(self) -> RunRequest:
        import dataclasses

        form = self.form_params()
        request = parse_request(
            self.query_one("#tr-set", Input).value, self.query_one("#tr-sweep", Input).value,
            self.query_one("#tr-jobs", Input).value, self.query_one("#tr-name", Input).value,
        )
        if not form:
            return request
        # what is typed in -S or swept wins over the form
        fixed = {k: v for k, v in form.items() if k not in request.sweep}
        return dataclasses.replace(request, set_params={**fixed, **request.set_params})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return True if self.running else None  # shown only while a run can be cancelled
        return True

    @on(Button.Pressed, "#tr-run")
    @on(Input.Submitted, "#tr-set, #tr-sweep, #tr-jobs, #tr-name, #tr-hyper Input, #tr-hp-more")
    def action_run(self) -> None:
        if self.running:
            self.app.notify("An experiment is already running: cancel it (x) or wait.",
                            markup=False, timeout=3)
            return
        if self.info is None:
            notify_error(self.screen, "there is no pipeline to run yet: write it in Data engineering "
                                      "(or 'mlops-workbench pipeline')")
            return
        try:
            request = self._request()
        except WorkbenchError as exc:
            notify_error(self.screen, str(exc))
            self._mark_field(str(exc))
            return
        self.running = True
        self.cancel_event = threading.Event()
        self._points = request.points
        self._experiment_index = -1
        self._stages_seen = 0
        log = self.query_one("#tr-log", RichLog)
        log.clear()
        log.write(Text("$ dvc exp run" + (" --queue" if request.sweep else "")
                       + "".join(f" -S {k}={v}" for k, v in request.set_params.items())
                       + "".join(f" -S {k}={','.join(v)}" for k, v in request.sweep.items()),
                       style="bold"))
        self.query_one("#tr-progress", ProgressBar).update(total=self._stage_count * request.points,
                                                           progress=0)
        self.query_one("#tr-stage", Static).update("checking the parameters…")
        self.query_one("#tr-result", Static).update("")
        set_disabled(self, {"#tr-run": True, "#tr-cancel": False})
        self.refresh_bindings()
        self.run_training(request, self.cancel_event)

    @on(Button.Pressed, "#tr-cancel")
    def action_cancel_run(self) -> None:
        if not self.running or self.cancel_event.is_set():
            return
        self.cancel_event.set()
        self.query_one("#tr-stage", Static).update("cancelling: stopping DVC…")
        set_disabled(self, {"#tr-cancel": True})

    def _end_run(self) -> None:
        self.running = False
        set_disabled(self, {"#tr-run": False, "#tr-cancel": True})
        self.refresh_bindings()
