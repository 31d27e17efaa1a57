"""The Development steps' states for ``status``: data engineering, training, validation, review."""

from __future__ import annotations

from workbench import paths
from workbench.step_state import (
    ATTENTION,
    DONE,
    OTHER_MODEL,
    TODO,
    StateFunction,
    StepContext,
    StepState,
    read_json,
)


def data_engineering_state(ctx: StepContext) -> StepState:
    """Done when the pipeline (dvc.yaml and params.yaml) exists."""
    if (ctx.root / "dvc.yaml").exists() and (ctx.root / "params.yaml").exists():
        return StepState(DONE, "pipeline in dvc.yaml")
    return StepState(TODO, "no pipeline yet")


def training_state(ctx: StepContext) -> StepState:
    """Done when a model was trained; attention while the workspace holds an uncommitted experiment."""
    if ctx.held is not None:  # a run's outputs that no commit holds
        return StepState(ATTENTION, ctx.held.describe(), ctx.held.promote_command)
    if (ctx.root / paths.METRICS_FILE).exists() or (ctx.root / "dvc.lock").exists():
        return StepState(DONE, "trained; see the experiment history")
    return StepState(TODO, "no experiments yet")


def validation_state(ctx: StepContext) -> StepState:
    """Done when the validation report is about the workspace model and every gate passes."""
    report = read_json(ctx.root / paths.VALIDATION_REPORT)
    if report is None:
        return StepState(TODO, "not validated")
    if (report.get("model") or {}).get("digest") != ctx.model():
        return StepState(ATTENTION, OTHER_MODEL["validation"])
    return StepState(DONE, "all gates pass") if report.get("passed") else StepState(ATTENTION, "a gate fails")


def review_state(ctx: StepContext) -> StepState:
    """Done when the workspace model is approved."""
    report = read_json(ctx.root / paths.REVIEW_FILE)
    if report is None:
        return StepState(TODO, "no sign-off yet")
    if report.get("model_digest") != ctx.model():
        return StepState(ATTENTION, OTHER_MODEL["review"])
    return StepState(DONE, "approved") if report.get("decision") == "approved" else StepState(ATTENTION, "rejected")


#: step id -> its state function, in the lifecycle's order (workbench.lifecycle.STEPS).
STATES: dict[str, StateFunction] = {
    "data_engineering": data_engineering_state,
    "training": training_state,
    "validation": validation_state,
    "review": review_state,
}
