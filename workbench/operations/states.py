"""The Operations steps' states for ``status``: deployment, CI/CD, monitoring."""

from __future__ import annotations

from workbench.step_state import (
    ATTENTION,
    DONE,
    TODO,
    StateFunction,
    StepContext,
    StepState,
    read_json,
)


def deployment_state(ctx: StepContext) -> StepState:
    """Done when a registered version is in production (a GTO tag)."""
    if any("#production" in t for t in ctx.tags):
        return StepState(DONE, "a version is in production")
    if any("@v" in t for t in ctx.tags):
        return StepState(ATTENTION, "registered, not in production")
    return StepState(TODO, "no registered model")


def ci_cd_state(ctx: StepContext) -> StepState:
    """Done when the CI workflow was generated."""
    if (ctx.root / ".github" / "workflows" / "mlops-workbench.yml").exists():
        return StepState(DONE, "CI workflow generated")
    return StepState(TODO, "no CI workflow")


def monitoring_state(ctx: StepContext) -> StepState:
    """Done when the latest monitoring report is healthy; retraining is the way out of one that is not."""
    if not (ctx.root / "monitoring").is_dir():  # no report; skip importing the monitoring module
        return StepState(TODO, "no monitoring report")
    from workbench.operations.monitoring import latest_report

    newest = latest_report(ctx.root)
    if newest is None:
        return StepState(TODO, "no monitoring report")
    latest = read_json(newest) or {}
    if latest.get("action_recommended"):
        # the way out of a report that recommends action
        return StepState(ATTENTION, "drift: action recommended", "mlops-workbench retrain")
    return StepState(DONE, "healthy")


#: step id -> its state function, in the lifecycle's order (workbench.lifecycle.STEPS).
STATES: dict[str, StateFunction] = {
    "deployment": deployment_state,
    "ci_cd": ci_cd_state,
    "monitoring": monitoring_state,
}
