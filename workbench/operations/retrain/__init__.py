"""Retraining: new labelled data becomes a candidate (an experiment), a validation, a proposal.

``retrain(project)`` is ``mlops-workbench retrain``. It never promotes anything: promotion
stays a decision people take through the same gates as the first model (review, register,
promote), so the result ends with the exact commands to run, not with a new stage. And a
candidate never reaches the branch by itself: the new data version lives in the
candidate's DVC experiment (``refs/exps``) until ``exp promote`` commits it together with
the ``dvc.lock``, metrics and model it produced, so HEAD always reproduces.

Usage::

    mlops-workbench retrain [--data PATH] [--name EXP] [--allow-duplicates] [--json] [-q] [--role ROLE] [-C PATH]
    mlops-workbench retrain discard EXP [--json] [-C PATH]

What it does, in order (everything is checked before anything is written):

1. **The new data.** ``--data PATH`` (a CSV, TSV or Parquet file with the target column
   filled in), or else the batch of the latest monitoring report when that batch has
   labels (``monitoring/batches/...`` or a file inside the project, tracked by DVC). Rows
   without a label are left out (with a note); no labelled row at all, a missing target
   column, and columns missing, extra or of another type than the training source's are
   refused in one line that names them. Rows that are already in the source (the same
   value in every column) are counted, said and left out (``--allow-duplicates`` appends
   them anyway); when every row is already there, retraining is refused. Data whose bytes
   were added before (its md5 is in the history of the source's pointer) is refused too.
   The pipeline's own files (``params.yaml``, ``dvc.yaml``, ``dvc.lock``, the metrics and
   plots, the source's pointer) must be as HEAD has them: the candidate is HEAD's pipeline
   on the new data, and retraining puts these files back afterwards.
2. **A new version of the training data, in the workspace only.** The rows are appended
   to the training source (the last of ``sources`` in params.yaml, the file the pipeline's
   ``prepare`` stage reads): a CSV/TSV keeps its bytes and gets the new lines after them, a
   Parquet file is rewritten with the same schema; atomically, then ``dvc add`` (the data
   object goes to the DVC cache) and ``dvc push`` of it to the remote. Nothing is committed.
3. **An experiment** on it: ``dvc exp run`` with the changed pointer inside the experiment
   (:func:`workbench.development.training.run_experiment`, ``include=[pointer]``; named
   ``--name`` or ``retrain-vK``, K counting the versions of the source). The experiment
   commit holds the pointer, ``dvc.lock``, metrics and plots; a git note on it
   (``refs/notes/workbench``) says where the rows came from, and ``exp promote`` copies it
   into the promotion commit.
4. **The workspace back to HEAD**: the pointer, the data and the pipeline's outputs are put
   back as HEAD has them (``git restore`` of those files, ``dvc checkout``), whatever the
   verdict: ``git status`` is as before the run.
5. **Validation** of that experiment with every gate, ``no_regression`` against the
   version GTO's registry has in production (:func:`workbench.development.validation.validate`,
   which commits ``reports/validation.json`` + ``.md`` as ``validate EXPERIMENT`` does).
6. **A proposal** when it passes: the commands that promote the candidate through review
   and registry (``exp promote`` first, which commits pointer + dvc.lock + outputs
   together). When a gate fails, a second commit (a ``monitoring`` step, "retraining
   candidate ... rejected") puts the validation report back to the one HEAD's model had,
   so the report, ``status`` and ``check`` keep judging the model HEAD holds; the
   rejected report stays in the history (the validation commit), the experiment in
   ``refs/exps``, the data object in the DVC cache and remote. ``retrain discard EXP``
   removes the experiment (``dvc exp remove``).

A journal (``<git dir>/mlops-workbench/retrain.json``) records a run while it goes: a
``retrain`` killed at any moment is finished by the next ``retrain`` (or ``retrain discard``):
the workspace goes back to HEAD, and a failed validation left at HEAD gets its rejection
commit.

Exit codes: 0 the candidate passes the gates (promotion proposed), 1 a gate fails (named),
2 unusable input (one line on stderr; nothing written, nothing committed), 75 the project is
busy, 130 cancelled (Ctrl-C; the workspace is put back).

JSON (schema 1), ``retrain --json``::

    {"schema": 1,
     "data": {"source": "data/x.csv", "pointer": "data/x.csv.dvc", "version": K,
              "md5_before": str, "md5": str, "rows_before": n, "rows_added": n, "rows_unlabelled": n,
              "rows_duplicate": n, "from": "PATH", "from_report": "2026-06-01-1" | null,
              "commit": null, "in_remote": bool},
     "experiment": "retrain-v2", "experiment_commit": str,
     "metrics": {"accuracy": 0.96, ...},
     "validation": {"passed": bool, "failed_gates": ["no_regression", ...], "commit": str | null,
                    "gates": [{"name", "passed", "why"}]},
     "proposal": ["mlops-workbench exp promote retrain-v2", ...],   # [] when a gate fails
     "rejected": null | {"commit": str, "kept": [str], "discard": "mlops-workbench retrain discard retrain-v2"},
     "messages": [str]}

The policy, in workbench.yaml (default ``manual``)::

    retraining:
      policy: manual      # monitor prints a suggestion to run 'mlops-workbench retrain'
      # policy: automatic # a monitor that recommends action, on a labelled batch, retrains
      #                   # up to validation (never promotion)

:func:`after_monitor` is what ``monitor`` calls after a report that recommends action.
"""

from __future__ import annotations

from workbench.operations.retrain.journal import recover_interrupted_retrain
from workbench.operations.retrain.plan import plan_retraining
from workbench.operations.retrain.results import SCHEMA, Discarded, NewDataVersion, RetrainResult
from workbench.operations.retrain.run import (
    AfterMonitor,
    after_monitor,
    discard_candidate,
    proposal,
    retrain,
)
from workbench.operations.retrain.settings import DEFAULT_POLICY, POLICIES, retraining_policy

__all__ = ["DEFAULT_POLICY", "POLICIES", "SCHEMA", "AfterMonitor", "Discarded", "NewDataVersion", "RetrainResult",
           "after_monitor", "discard_candidate", "plan_retraining", "proposal", "recover_interrupted_retrain",
           "retrain", "retraining_policy"]
