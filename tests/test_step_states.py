"""Each lifecycle step says its own state: one function per step, registered in lifecycle order."""

from __future__ import annotations

from workbench.lifecycle import PHASES, STEPS, steps_in


def test_every_step_has_a_state_function_in_its_phase_in_lifecycle_order() -> None:
    from workbench.design.states import STATES as design
    from workbench.development.states import STATES as development
    from workbench.operations.states import STATES as operations
    from workbench.status import STEP_STATES

    by_phase = dict(zip(PHASES, (design, development, operations), strict=True))
    for phase, states in by_phase.items():
        assert tuple(states) == tuple(s.id for s in steps_in(phase)), phase
    assert tuple(STEP_STATES) == tuple(s.id for s in STEPS)
