"""The registry of step views: one widget per lifecycle step id.

The project screen never names a step view. It asks :func:`make_step_view` for the
step the user chose and shows whatever comes back, so a new view is one line here:

    STEP_VIEWS["use_cases"] = lazy_view("screens.design.use_cases_view", "UseCasesView")

A factory takes the project path and returns a widget (a step view is a
:class:`screens.base.StepView`). Two optional hooks let a view follow the project
without knowing the screen:

- ``show_status(status: ProjectStatus)`` is called whenever the status is (re)computed;
- ``reload()`` is called when the user presses ``r`` (refresh).

Every lifecycle step has its view.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from textual.widget import Widget

StepViewFactory = Callable[[Path], Widget]

#: step id -> factory of its view (see the module docstring).
STEP_VIEWS: dict[str, StepViewFactory] = {}

def lazy_view(module: str, name: str) -> StepViewFactory:
    """A factory that imports ``module`` only when the view is first opened (keeps startup light)."""

    def factory(path: Path) -> Widget:
        return getattr(importlib.import_module(module), name)(path)

    return factory


def make_step_view(step_id: str, path: Path) -> Widget:
    """The registered view of ``step_id`` (every lifecycle step has one)."""
    return STEP_VIEWS[step_id](path)


STEP_VIEWS["requirements"] = lazy_view("screens.design.requirements_view", "RequirementsView")
STEP_VIEWS["use_cases"] = lazy_view("screens.design.use_cases_view", "UseCasesView")
STEP_VIEWS["data_availability"] = lazy_view("screens.design.data_check_view", "DataCheckView")
STEP_VIEWS["data_engineering"] = lazy_view("screens.development.data_engineering_view", "DataEngineeringView")
STEP_VIEWS["training"] = lazy_view("screens.development.training_view", "TrainingView")
STEP_VIEWS["validation"] = lazy_view("screens.development.validation_view", "ValidationView")
STEP_VIEWS["review"] = lazy_view("screens.development.review_view", "ReviewView")
STEP_VIEWS["deployment"] = lazy_view("screens.operations.deployment_view", "DeploymentView")
STEP_VIEWS["ci_cd"] = lazy_view("screens.operations.cicd_view", "CiCdView")
STEP_VIEWS["monitoring"] = lazy_view("screens.operations.monitoring_view", "MonitoringView")
