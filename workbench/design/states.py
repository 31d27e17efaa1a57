"""The Design steps' states for ``status``: requirements, use cases, data availability."""

from __future__ import annotations

from workbench import paths
from workbench.project import charter_from_config
from workbench.step_state import (
    ATTENTION,
    DONE,
    TODO,
    StateFunction,
    StepContext,
    StepState,
    read_json,
)


def requirements_state(ctx: StepContext) -> StepState:
    """Done when the charter in workbench.yaml is complete."""
    charter = charter_from_config(ctx.config)
    missing = charter.missing()
    if missing:
        return StepState(ATTENTION, "charter incomplete: " + ", ".join(missing) + " missing")
    return StepState(DONE, f"success metric: {charter.success_metric}")


def use_cases_state(ctx: StepContext) -> StepState:
    """Done when a use case is selected."""
    uc = ctx.config.get("use_cases") or {}
    candidates = uc.get("candidates") or []
    selected = uc.get("selected")
    if selected:
        sel_id = selected.get("id") if isinstance(selected, dict) else selected
        name = next((c.get("name") for c in candidates if c.get("id") == sel_id), sel_id)
        return StepState(DONE, f"selected: {name}")
    if candidates:
        return StepState(ATTENTION, f"{len(candidates)} candidate(s) scored, none selected")
    return StepState(TODO, "no candidate use cases yet")


def data_availability_state(ctx: StepContext) -> StepState:
    """Done when the data check report says GO."""
    sources = (ctx.config.get("data") or {}).get("sources") or []
    report = read_json(ctx.root / paths.DATA_CHECK_REPORT)
    if report is not None:
        verdict = str(report.get("verdict", "")).upper()
        if verdict == "GO":
            return StepState(DONE, f"GO on {len(sources)} source(s)")
        reasons = report.get("reasons") or []
        return StepState(ATTENTION, "NO-GO" + (f": {reasons[0]}" if reasons else ""))
    if sources:
        return StepState(ATTENTION, f"{len(sources)} source(s) tracked, not checked yet")
    return StepState(TODO, "no data sources registered")


#: step id -> its state function, in the lifecycle's order (workbench.lifecycle.STEPS).
STATES: dict[str, StateFunction] = {
    "requirements": requirements_state,
    "use_cases": use_cases_state,
    "data_availability": data_availability_state,
}
