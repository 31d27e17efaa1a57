"""The lifecycle the workbench guides: three phases, ten steps.

The ids are stable: they appear in commit trailers (``Workbench-Step``), in
``status --json`` and in the command palette. Titles are what people read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One lifecycle step."""

    id: str
    title: str
    phase: str
    summary: str
    default_role: str
    command: str


PHASES: tuple[str, ...] = ("Design", "Development", "Operations")

STEPS: tuple[Step, ...] = (
    Step("requirements", "Requirements", "Design",
         "Charter: problem, success metric, constraints, team and roles.",
         "business_owner", "mlops-workbench charter"),
    Step("use_cases", "Use-case prioritization", "Design",
         "Score candidate use cases on weighted criteria, rank them, select one.",
         "business_owner", "mlops-workbench usecase rank"),
    Step("data_availability", "Data availability", "Design",
         "Register data sources; profile, quality, label coverage; GO / NO-GO.",
         "data_scientist", "mlops-workbench data check"),
    Step("data_engineering", "Data engineering", "Development",
         "Target, features, split and preprocessing as a DVC pipeline.",
         "data_scientist", "mlops-workbench pipeline"),
    Step("training", "Training & experiments", "Development",
         "scikit-learn models trained as DVC experiments; history, compare, plots.",
         "data_scientist", "mlops-workbench train"),
    Step("validation", "Testing & validation", "Development",
         "Gates: success metric, baseline, slices, fairness, no regression.",
         "ml_engineer", "mlops-workbench validate"),
    Step("review", "Review & governance", "Development",
         "Model card and a recorded sign-off by a reviewer.",
         "business_owner", "mlops-workbench review"),
    Step("deployment", "Deployment", "Operations",
         "Registry versions and stages, serving bundle, prediction service, batch scoring.",
         "ml_engineer", "mlops-workbench model list"),
    Step("ci_cd", "CI/CD", "Operations",
         "A generated CI workflow and a headless check with exit codes.",
         "ml_engineer", "mlops-workbench ci init"),
    Step("monitoring", "Monitoring & triggering", "Operations",
         "Drift and performance on new data; retraining through the same gates.",
         "ml_engineer", "mlops-workbench monitor"),
)

#: Steps that are not lifecycle stages but still make commits.
EXTRA_STEP_TITLES: dict[str, str] = {"project": "Project"}

STEP_BY_ID: dict[str, Step] = {step.id: step for step in STEPS}


def step_title(step_id: str) -> str:
    """The human title of a step id (the id itself when unknown)."""
    if step_id in STEP_BY_ID:
        return STEP_BY_ID[step_id].title
    return EXTRA_STEP_TITLES.get(step_id, step_id)


def steps_in(phase: str) -> tuple[Step, ...]:
    """The steps of one phase, in order."""
    return tuple(step for step in STEPS if step.phase == phase)
