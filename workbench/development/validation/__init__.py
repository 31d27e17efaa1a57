"""Testing & validation: judge one model against the gates in ``workbench.yaml``.

:func:`validate` reads the model (the workspace model that ``dvc.lock`` records, or a
named DVC experiment read from its git ref and the DVC cache), runs every gate, writes
``reports/validation.json`` + ``reports/validation.md`` and commits them as the
``validation`` step. ``passed`` is true when no gate fails (a skipped gate does not
fail). The registry reads the report through :mod:`workbench.versioning.evidence`.

The gates (``gates:`` in workbench.yaml; written with these defaults on the first
validation when the section is absent; every key may be edited by hand)::

    gates:
      success_metric: {enabled: true}               # the charter's success metric and its targets
      baseline: {metric: recall, margin: 0.05}      # beat scikit-learn's dummy model by a margin
      no_regression: {tolerance: 0.02}              # no metric worse than production by more than 2%
      slices: {column: age_group, metric: recall, floor: 0.85, min_rows: 20}
      fairness: {column: age_group, metric: recall, max_difference: 0.1, min_rows: 20}
      reproducibility: {enabled: true}              # retrain: the same metrics, exactly

Every gate also takes ``enabled: false`` (reported as skipped). Why each gate works the
way it does:

- *baseline*: the ``dummy`` family with the same preprocessing, fitted on the same
  train split and scored by the same ``evaluate`` stage, so the comparison differs in
  the model alone.
- *no_regression*: the production model is the version GTO's registry puts in the
  ``production`` stage (``model#production#N`` tags); its model bytes are read as the
  tagged commit's ``dvc.lock`` records them (DVC cache, else remote) and both models are
  scored by the evaluate stage on the same, current test rows in one run, so a new test
  split cannot pass for a regression or fail a good retrain. The tolerance is relative
  (0.02: no metric more than 2% worse) and knows each metric's direction; it may be set
  per metric (``no_regression: {tolerance: 0.02, per_metric: {rmse: 0.05}}``). With no
  production version the gate is skipped; a production model that predicts another
  target, or needs columns the test rows lack, is shown but not judged.
- *slices* and *fairness*: the column may be anything in the data, not only a feature
  (sensitive columns are kept out of the features on purpose), so the test rows are
  found again with the prepare stage's own seeded split and checked against the
  prepared test file. Slices with fewer than ``min_rows`` rows, or where the metric is
  undefined (recall without positives), are shown but not judged. The fairness gap is
  fairlearn's ``MetricFrame(...).difference()`` over the judged groups.
- *reproducibility*: the prepare, train and evaluate stages run again in a temporary
  folder on the same params and the same data (the bytes ``dvc.lock`` records), in a
  subprocess (it can be cancelled, and it never holds the TUI's interpreter), and every
  metric must be equal. The dummy baseline runs in the same subprocess.

Bad input (an unknown experiment, no model, a gate setting that does not parse, a slice
or sensitive column that is not in the data) raises :class:`WorkbenchError` before
anything is written.
"""

from __future__ import annotations

from workbench.development.validation.gates import production_model
from workbench.development.validation.report import read_validation, render_markdown
from workbench.development.validation.run import validate
from workbench.development.validation.settings import (
    GATE_KEYS,
    GATE_NAMES,
    GATE_TITLES,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    MODEL_GATE,
    REGISTRY_ARTIFACT,
    SLICE_METRICS,
    STAGE_FILES,
    WORKBENCH_CMD,
    GateResult,
    Progress,
    ValidationResult,
    check_gates,
    default_gates,
    metric_direction,
)
from workbench.development.validation.snapshot import list_experiments

__all__ = [
    "Progress",
    "GATE_NAMES",
    "MODEL_GATE",
    "GATE_TITLES",
    "GATE_KEYS",
    "LOWER_IS_BETTER",
    "SLICE_METRICS",
    "REGISTRY_ARTIFACT",
    "STAGE_FILES",
    "WORKBENCH_CMD",
    "GateResult",
    "ValidationResult",
    "default_gates",
    "check_gates",
    "HIGHER_IS_BETTER",
    "metric_direction",
    "list_experiments",
    "production_model",
    "read_validation",
    "render_markdown",
    "validate",
]
