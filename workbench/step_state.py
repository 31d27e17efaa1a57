"""What every step's state function gets and gives back (see :mod:`workbench.status`).

Each phase keeps its steps' notion of "done" beside them (``workbench/design/states.py``,
``development/states.py``, ``operations/states.py``): one function per step, taking a
:class:`StepContext` and returning a :class:`StepState`. ``status`` walks the lifecycle
(:data:`workbench.lifecycle.STEPS`) and asks each step for its state. Everything here is
light (no pandas, no DVC): ``status`` must stay cheap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from workbench.project import Project

DONE, ATTENTION, TODO = "done", "attention", "todo"
#: The detail of a validation or review whose report is about another model than the
#: workspace's (an experiment promoted, a model retrained since): the step is to do again.
OTHER_MODEL = {
    "validation": "the report is for another model: validate the current one",
    "review": "the sign-off is for another model: review the current one",
}


class StepState(NamedTuple):
    """A step's state, a one-line reason, and the command to show when not the step's own."""

    state: str
    detail: str
    command: str | None = None


@dataclass(frozen=True)
class StepContext:
    """What the state functions read, gathered once per ``status``.

    ``model()`` is the workspace model's digest (dvc.lock read once, when first needed);
    ``held`` the experiment the workspace holds uncommitted (``HeldExperiment``) or None.
    """

    project: Project
    config: dict[str, Any]
    tags: list[str]
    model: Callable[[], str | None]
    held: Any = None

    @property
    def root(self) -> Path:
        return self.project.path


StateFunction = Callable[[StepContext], StepState]


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
