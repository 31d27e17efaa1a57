"""The registry of step views: one widget per lifecycle step id, added by later issues.

The project screen never names a step view. It asks :func:`make_step_view` for the
step the user chose and shows whatever comes back, so a new view is one line here:

    STEP_VIEWS["use_cases"] = lazy_view("screens.use_cases_view", "UseCasesView")

A factory takes the project path and returns a widget. Two optional hooks let a
view follow the project without knowing the screen:

- ``show_status(status: ProjectStatus)`` is called whenever the status is (re)computed;
- ``reload()`` is called when the user presses ``r`` (refresh).

Steps without a registered view get :class:`PlaceholderStepView`: the step's title,
summary, state and detail, and the headless command that does the step today.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from workbench.lifecycle import STEP_BY_ID

if TYPE_CHECKING:
    from workbench.status import ProjectStatus

StepViewFactory = Callable[[Path], Widget]

#: step id -> factory of its view (see the module docstring).
STEP_VIEWS: dict[str, StepViewFactory] = {}

STATE_MARKS: dict[str, tuple[str, str]] = {
    "done": ("✔", "$success"),
    "attention": ("!", "$warning"),
    "todo": ("·", "$text-muted"),
}
STATE_WORDS = {"done": "done", "attention": "needs attention", "todo": "to do"}


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one an ellipsis when it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def state_line(status: ProjectStatus, step_id: str, *, width: int | None = None) -> Content | None:
    """A view's one-line state ("✔ done  detail"), the detail cut to ``width``; None if no such step."""
    mine = next((s for s in status.steps if s.id == step_id), None)
    if mine is None:
        return None
    mark, style = STATE_MARKS[mine.state]
    detail = mine.detail or ""
    if width is not None:
        detail = clip(detail, width)
    return Content.assemble((f"{mark} {STATE_WORDS[mine.state]}", style), ("  ", ""), (detail, "dim"))


def lazy_view(module: str, name: str) -> StepViewFactory:
    """A factory that imports ``module`` only when the view is first opened (keeps startup light)."""

    def factory(path: Path) -> Widget:
        try:
            view_module = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            return PlaceholderStepView(step_id_of(module), path)
        return getattr(view_module, name)(path)

    factory.module = module  # type: ignore[attr-defined]
    return factory


def step_id_of(module: str) -> str:
    """The step a registered (but not yet installed) view module belongs to."""
    return next((step for step, factory in STEP_VIEWS.items()
                 if getattr(factory, "module", None) == module), "project")


def make_step_view(step_id: str, path: Path) -> Widget:
    """The registered view of ``step_id``, or the placeholder."""
    factory = STEP_VIEWS.get(step_id)
    if factory is None:
        return PlaceholderStepView(step_id, path)
    return factory(path)


class PlaceholderStepView(VerticalScroll):
    """A step whose screen is not built yet: what it is, where it stands, how to do it headless."""

    def __init__(self, step_id: str, path: Path) -> None:
        super().__init__(classes="step-view")
        self.step_id = step_id
        self.path = path

    def compose(self) -> ComposeResult:
        step = STEP_BY_ID[self.step_id]
        yield Static(Content.from_markup("[b]$title[/b]  [dim]$phase[/dim]", title=step.title,
                                         phase=step.phase), classes="view-title")
        yield Static(step.summary, classes="step-summary")
        yield Static("", id="step-state", classes="step-state")
        yield Static(
            Content.from_markup("Do this step from a terminal today:\n  [b $accent]$ $command[/]",
                                command=step.command),
            classes="step-command",
        )
        yield Static(Content.from_markup("[dim]This step's own screen comes in a later version of "
                                         "the workbench.[/dim]"), classes="hint")

    def show_status(self, status: ProjectStatus) -> None:
        mine = next((s for s in status.steps if s.id == self.step_id), None)
        if mine is None:
            return
        mark, style = STATE_MARKS[mine.state]
        self.query_one("#step-state", Static).update(
            Content.assemble("State: ", (f"{mark} {STATE_WORDS[mine.state]}", style),
                             "\n", ("Detail: ", ""), mine.detail or "-")
        )

STEP_VIEWS["requirements"] = lazy_view("screens.requirements_view", "RequirementsView")
STEP_VIEWS["use_cases"] = lazy_view("screens.use_cases_view", "UseCasesView")
STEP_VIEWS["data_availability"] = lazy_view("screens.data_check_view", "DataCheckView")
STEP_VIEWS["data_engineering"] = lazy_view("screens.data_engineering_view", "DataEngineeringView")
STEP_VIEWS["training"] = lazy_view("screens.training_view", "TrainingView")
STEP_VIEWS["validation"] = lazy_view("screens.validation_view", "ValidationView")
STEP_VIEWS["review"] = lazy_view("screens.review_view", "ReviewView")
STEP_VIEWS["deployment"] = lazy_view("screens.deployment_view", "DeploymentView")
STEP_VIEWS["ci_cd"] = lazy_view("screens.cicd_view", "CiCdView")
STEP_VIEWS["monitoring"] = lazy_view("screens.monitoring_view", "MonitoringView")
