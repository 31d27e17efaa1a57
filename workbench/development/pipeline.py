"""Data engineering: target, features, split and preprocessing as a DVC pipeline.

``configure_pipeline`` checks the choices against the data, then writes ``params.yaml``
and ``dvc.yaml`` (stages ``prepare`` -> ``train`` -> ``evaluate``) in one commit of the
``data_engineering`` step. Nothing is written when a check fails.

Why the stage commands are ``mlops-workbench stage NAME``
---------------------------------------------------------
The command must work from ``dvc repro`` / ``dvc exp run`` typed in a shell, on any
clone, on a teammate's machine and in CI. An absolute interpreter path
(``/home/me/.venv/bin/python -m workbench``) would be committed into ``dvc.yaml`` and
break every other checkout; ``python -m workbench`` depends on which ``python`` is first
on PATH, exactly like the console script does. So the cmd is the console script,
resolved through PATH the way every tool in an activated virtual environment is: the
rule for a team is "activate the venv, then run dvc". When the workbench itself starts
DVC (``train``, the TUI) it puts the folder of its own interpreter first on PATH for
that subprocess (see :func:`workbench.development.training.stage_path_env`), so it
works even when the venv is not activated. A team may replace a stage's ``cmd`` with
its own script as long as it writes the same files (see
:mod:`workbench.development.stages`).

Every random choice is seeded from ``split.seed``; model hyperparameters live under
``model.params`` so ``dvc exp run -S model.params.C=0.5`` changes exactly one of them.

What the step decides for the user is said, not done quietly: the columns left out of the
default features and why (:func:`workbench.design.exclusions.feature_exclusions` — the
same rule the data check uses: ``data.exclude_columns``, ids, and the personal data,
identifiers and leakage suspects of the last data check), the positive class of a binary
target and why, that a target with more than two classes has none (its metrics are
macro- and weighted-averaged), and the split. They are printed (``PipelineResult.choices``)
and written into the commit body. A flagged column becomes a feature only when named in
``allow_flagged``; it is then listed under ``flagged_features`` in ``params.yaml`` (and on
the model card). A target given here is saved as ``data.target`` in the same commit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.design.exclusions import str_list
from workbench.errors import WorkbenchError
from workbench.project import Project

FEATURE_TYPES = ("numeric", "categorical", "text", "datetime")
SPLIT_METHODS = ("random", "stratified", "time")
NUMERIC_IMPUTE = ("median", "mean", "none")
NUMERIC_SCALE = ("standard", "none")
CATEGORICAL_IMPUTE = ("most_frequent", "constant")
CATEGORICAL_ENCODE = ("onehot",)
DEFAULT_PREPROCESSING: dict[str, Any] = {
    "numeric": {"impute": "median", "scale": "standard"},
    "categorical": {"impute": "most_frequent", "encode": "onehot"},
    "text": {"tfidf": {"max_features": 5000, "ngram_range": [1, 2]}},
}
PIPELINE_FILES = ("params.yaml", "dvc.yaml")
STAGE_CMD = "mlops-workbench stage {}"


@dataclass(frozen=True)
class PipelineResult:
    """What the data engineering step wrote."""

    commit: str | None
    params: dict[str, Any]
    task: str
    summary: str
    messages: tuple[str, ...] = field(default_factory=tuple)
    #: what the step chose for the user (left-out features, positive class, split), one line each
    choices: tuple[str, ...] = field(default_factory=tuple)

    @property
    def features(self) -> dict[str, str]:
        return dict(self.params["features"])


# --- checks -----------------------------------------------------------------------


def _names(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def infer_type(series: Any) -> str:
    """A feature type guessed from a column: numbers, dates, long free text, else categories."""
    import warnings

    import pandas as pd
    from pandas.api import types as t

    if t.is_bool_dtype(series):
        return "categorical"
    if t.is_numeric_dtype(series):
        return "numeric"
    if t.is_datetime64_any_dtype(series):
        return "datetime"
    values = series.dropna().astype(str)
    if values.empty:
        return "categorical"
    sample = values.head(200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    if parsed.notna().mean() > 0.95 and sample.str.contains(r"\d{4}-\d{2}-\d{2}|\d+/\d+/\d+").mean() > 0.95:
        return "datetime"
    words = sample.str.split().str.len().mean()
    if words >= 4 and values.nunique() > 0.5 * len(values):
        return "text"
    return "categorical"


def check_split(split: dict[str, Any], task: str, columns: list[str] | None = None) -> dict[str, Any]:
    """Validate the split settings; return them complete."""
    method = split.get("method") or ("stratified" if task == "classification" else "random")
    if method not in SPLIT_METHODS:
        raise WorkbenchError(f"split method {method!r} is not known: use one of {', '.join(SPLIT_METHODS)}")
    if method == "stratified" and task != "classification":
        raise WorkbenchError("a stratified split needs a classification task: use --split random or time")
    test_size = split.get("test_size", 0.2)
    if isinstance(test_size, bool) or not isinstance(test_size, int | float) or not 0 < test_size < 1:
        raise WorkbenchError(f"test size {test_size!r} must be a share between 0 and 1, e.g. 0.2")
    seed = split.get("seed", 42)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise WorkbenchError(f"seed {seed!r} must be a whole number >= 0, e.g. 42")
    time_column = split.get("time_column")
    if method == "time":
        if not time_column:
            raise WorkbenchError("a time split needs a time column: give --time-column NAME")
        if columns is not None and time_column not in columns:
            raise WorkbenchError(f"time column {time_column!r} is not in the data: use one of {_names(columns)}")
    return {"method": method, "test_size": float(test_size), "seed": int(seed),
            "time_column": time_column if method == "time" else None}


def check_preprocessing(prep: dict[str, Any] | None) -> dict[str, Any]:
    """Validate the per-type preprocessing; fill in the defaults."""
    out = copy.deepcopy(DEFAULT_PREPROCESSING)
    for kind, settings in (prep or {}).items():
        if kind not in out:
            raise WorkbenchError(f"preprocessing for {kind!r} is not known: use numeric, categorical or text")
        if not isinstance(settings, dict):
            raise WorkbenchError(f"preprocessing.{kind} must be a mapping, e.g. {out[kind]}")
        for key, value in settings.items():
            if key not in out[kind]:
                raise WorkbenchError(f"preprocessing.{kind} has no setting {key!r}: use {', '.join(out[kind])}")
            if key == "tfidf":
                if not isinstance(value, dict):
                    raise WorkbenchError("preprocessing.text.tfidf must be a mapping with max_features, ngram_range")
                bad = [k for k in value if k not in out["text"]["tfidf"]]
                if bad:
                    raise WorkbenchError(f"preprocessing.text.tfidf has no setting {bad[0]!r}: use max_features, ngram_range")
                out[kind][key].update(value)
            else:
                out[kind][key] = value
    choices = {("numeric", "impute"): NUMERIC_IMPUTE, ("numeric", "scale"): NUMERIC_SCALE,
               ("categorical", "impute"): CATEGORICAL_IMPUTE, ("categorical", "encode"): CATEGORICAL_ENCODE}
    for (kind, key), allowed in choices.items():
        if out[kind][key] not in allowed:
            raise WorkbenchError(f"preprocessing.{kind}.{key} {out[kind][key]!r} is not known: use one of {', '.join(allowed)}")
    tfidf = out["text"]["tfidf"]
    mf = tfidf["max_features"]
    if mf is not None and (isinstance(mf, bool) or not isinstance(mf, int) or mf < 1):
        raise WorkbenchError(f"preprocessing.text.tfidf.max_features {mf!r} must be a whole number >= 1 or null")
    ng = tfidf["ngram_range"]
    if (not isinstance(ng, list | tuple) or len(ng) != 2 or not all(isinstance(v, int) and v >= 1 for v in ng)
            or ng[0] > ng[1]):
        raise WorkbenchError(f"preprocessing.text.tfidf.ngram_range {ng!r} must be two whole numbers like [1, 2]")
    tfidf["ngram_range"] = list(ng)
    return out


def check_model(task: str, model: dict[str, Any]) -> dict[str, Any]:
    """Validate the model name and hyperparameters against scikit-learn."""
    from workbench.development.models import check_params

    if not isinstance(model, dict) or not model.get("name"):
        raise WorkbenchError("the model has no name: give --model NAME")
    params = model.get("params") or {}
    if not isinstance(params, dict):
        raise WorkbenchError("model.params must be a mapping of hyperparameters, e.g. {C: 1.0}")
    return {"name": str(model["name"]), "params": check_params(task, str(model["name"]), params)}


def check_params_structure(params: dict[str, Any]) -> dict[str, Any]:
    """Check a whole params.yaml without reading data (used before every experiment)."""
    task = params.get("task")
    if task not in ("classification", "regression"):
        raise WorkbenchError(f"params.yaml task {task!r} is not known: use classification or regression")
    features = params.get("features")
    if not isinstance(features, dict) or not features:
        raise WorkbenchError("params.yaml has no features: run 'mlops-workbench pipeline' again")
    for name, kind in features.items():
        if kind not in FEATURE_TYPES:
            raise WorkbenchError(f"feature {name!r} has type {kind!r}: use one of {', '.join(FEATURE_TYPES)}")
    check_split(params.get("split") or {}, task)
    check_preprocessing(params.get("preprocessing"))
    check_model(task, params.get("model") or {})
    return params


def set_key(params: dict[str, Any], key: str, value: Any, *, allow_new_under: tuple[str, ...] = ()) -> None:
    """Set a dotted key (``model.params.C``) in params; unknown keys are errors unless under
    one of ``allow_new_under`` (new hyperparameters are checked by scikit-learn)."""
    parts = key.split(".")
    node = params
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
            raise WorkbenchError(f"params.yaml has no section {'.'.join(parts[:i + 1])!r}: "
                                 f"use keys like model.params.C, split.seed, model.name")
        node = node[part]
    prefix = ".".join(parts[:-1])
    if parts[-1] not in node and prefix not in allow_new_under:
        raise WorkbenchError(f"params.yaml has no key {key!r}: valid keys here are "
                             f"{', '.join(f'{prefix}.{k}' if prefix else k for k in node)}")
    node[parts[-1]] = value


# --- writing --------------------------------------------------------------------


def build_dvc_yaml(params: dict[str, Any]) -> dict[str, Any]:
    """The dvc.yaml for the params (the plots a task has depend on the task)."""
    from workbench.development import stages as s

    classification = params["task"] == "classification"

    def plot(name: str, **props: Any) -> dict[str, Any]:
        return {s.PLOT_FILES[name]: {"cache": False, **props}}

    plots = []
    if classification:
        plots += [
            plot("roc", template="simple", x="fpr", y="tpr", title="ROC",
                 x_label="false positive rate", y_label="true positive rate"),
            plot("prc", template="simple", x="recall", y="precision", title="Precision-recall"),
            plot("confusion", template="confusion", x="actual", y="predicted", title="Confusion matrix"),
        ]
    plots += [
        plot("predictions", template="scatter", x="actual", y="predicted", title="Predicted vs actual"),
        plot("importance", template="bar_horizontal", x="importance", y="feature",
             title="Feature importance"),
    ]
    sources = [str(x.get("path") if isinstance(x, dict) else x) for x in params["sources"]]
    return {"stages": {
        "prepare": {
            "cmd": STAGE_CMD.format("prepare"),
            "deps": sources,
            "params": ["sources", "target", "features", "split"],
            "outs": [s.TRAIN_FILE, s.TEST_FILE],
        },
        "train": {
            "cmd": STAGE_CMD.format("train"),
            "deps": [s.TRAIN_FILE],
            "params": ["task", "target", "features", "preprocessing", "model", "split.seed"],
            "outs": [s.MODEL_FILE],
        },
        "evaluate": {
            "cmd": STAGE_CMD.format("evaluate"),
            # the train split too: reports/reference.json profiles it for drift monitoring
            "deps": [s.TEST_FILE, s.MODEL_FILE, s.TRAIN_FILE],
            "params": ["task", "target", "features", "positive_class", "split.seed"],
            "metrics": [{s.METRICS_FILE: {"cache": False}}],
            "plots": plots,
            "outs": [{s.ENV_FILE: {"cache": False}}, {s.REFERENCE_FILE: {"cache": False}}],
        },
    }}


def _positive_class(labels: Any) -> tuple[Any, str]:
    """The positive class of a binary target and why it was chosen."""
    classes = sorted(labels.unique().tolist(), key=str)
    if set(classes) == {0, 1}:
        return 1, "1 of the labels 0/1"
    if set(classes) == {False, True}:
        return True, "True of the labels False/True"
    counts = labels.value_counts()
    named = [c for c in classes if str(c).strip().lower() in _POSITIVE_NAMES]
    if len(named) == 1:
        value = named[0]
        why = f"{value!r}: its name says positive"
    else:
        value = counts.sort_index(key=lambda i: i.astype(str)).idxmin()
        value = value.item() if hasattr(value, "item") else value
        why = f"{value!r}: the rarer class ({int(counts[value]):,} of {int(counts.sum()):,} rows)"
    value = value.item() if hasattr(value, "item") else value
    return value, why


_POSITIVE_NAMES = ("1", "true", "yes", "y", "positive", "pos", "fraud", "churn", "t")


def _target_and_data(root: Path, sources: list[dict[str, str]], target: str | None) -> tuple[str, Any, list[str]]:
    """(target, the sources' rows, their column names): refused when there is no target or the data lacks it."""
    from workbench.design.exclusions import unknown_column_error
    from workbench.development.stages import read_sources

    if not target:
        raise WorkbenchError("no target column: give --target NAME (or set data.target in workbench.yaml)")
    frame = read_sources(root, sources)
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise unknown_column_error("target", target, columns, "give --target NAME")
    return target, frame, columns


def _refuse_allowed(allowed: list[str], columns: list[str], flagged: dict[str, str]) -> None:
    """One line when an ``--allow-flagged`` column is not in the data or is not flagged."""
    from workbench.design.exclusions import unknown_column_error

    for name in allowed:
        if name not in columns:
            raise unknown_column_error("--allow-flagged column", name, columns, "nothing was written")
        if name not in flagged:
            raise WorkbenchError(f"--allow-flagged {name}: {name!r} is not flagged (by the data check or "
                                 "data.exclude_columns): leave it out of --allow-flagged")


def _left_out(data: dict[str, Any], time_col: Any, flagged: dict[str, str], allowed: list[str],
              target: str) -> dict[str, str]:
    """The columns kept out of the default features, each with why: sensitive, the time column, flagged."""
    left_out: dict[str, str] = {}
    for col in str_list(data.get("sensitive_columns")):
        left_out[col] = "a sensitive column (data.sensitive_columns), for the fairness gates"
    if time_col:
        left_out[str(time_col)] = "the time column (data.time_column)"
    left_out.update({c: why for c, why in flagged.items() if c not in allowed})
    left_out.pop(target, None)
    return left_out


def _given_features(frame: Any, columns: list[str], target: str, features: dict[str, str] | list[str],
                    left_out: dict[str, str], flagged: dict[str, str], allowed: list[str],
                    source: str) -> dict[str, str]:
    """The features as given (types inferred where none is given), refused when unknown, the target or flagged."""
    given = dict(features) if isinstance(features, dict) else {f: None for f in features}
    missing = [f for f in given if f not in columns]
    if missing:
        import difflib

        near = {m: (difflib.get_close_matches(m, columns, n=1)
                    or [c for c in columns if c.casefold() == m.casefold()]) for m in missing}
        hint = "; ".join(f"did you mean {v[0]!r} for {m!r}?" for m, v in near.items() if v)
        raise WorkbenchError(
            f"feature(s) {', '.join(missing)} not in the data: use columns of {source} "
            f"such as {_names([c for c in columns if c != target and c not in left_out], 8)}"
            + (f" ({hint})" if hint else "")
        )
    if target in given:
        raise WorkbenchError(f"the target {target!r} cannot also be a feature: remove it from --features")
    refused = [f for f in given if f in flagged and f not in allowed]
    if refused:
        f = refused[0]
        raise WorkbenchError(
            f"feature {f!r} is {flagged[f]}: leave it out, or pass --allow-flagged {f} to use it "
            "anyway (recorded in the commit and on the model card)")
    return {f: (t or infer_type(frame[f])) for f, t in given.items()}


def _features(frame: Any, columns: list[str], target: str, features: dict[str, str] | list[str] | None,
              left_out: dict[str, str], flagged: dict[str, str], allowed: list[str],
              source: str) -> tuple[dict[str, str], dict[str, str]]:
    """(the features and their types, the columns left out): every column not left out, or those given."""
    if features is None:
        chosen = {c: infer_type(frame[c]) for c in columns if c != target and c not in left_out}
    else:
        chosen = _given_features(frame, columns, target, features, left_out, flagged, allowed, source)
        left_out = {c: why for c, why in left_out.items() if c not in chosen}
    if not chosen:
        raise WorkbenchError("no features left: give --features a,b,c")
    for name, kind in chosen.items():
        if kind not in FEATURE_TYPES:
            raise WorkbenchError(f"feature {name!r} has type {kind!r}: use one of {', '.join(FEATURE_TYPES)}")
    return chosen, left_out


def _model_choice(task: str, model: dict[str, Any] | None) -> dict[str, Any]:
    """``{"name", "params"}`` as given, the task's default family and its default params filling the gaps."""
    from workbench.development.models import DEFAULT_PARAMS

    model_in = dict(model or {})
    name = model_in.get("name") or ("logistic_regression" if task == "classification" else "ridge")
    params = model_in["params"] if "params" in model_in else dict(DEFAULT_PARAMS.get(str(name), {}))
    return {"name": name, "params": dict(params or {})}


def _split_choice(split: dict[str, Any], given: bool) -> str:
    """The split, for people: method, test share, seed, and what the method means."""
    why = {"stratified": "every class keeps its share in train and test",
           "random": "rows drawn at random", "time": f"the newest rows by {split['time_column']}"}
    default = "" if given else " (the default for this task)"
    return (f"split: {split['method']}{default}, test share {split['test_size']:g}, "
            f"seed {split['seed']}: {why.get(split['method'], '')}")


def _target_choice(task: str, target: str, labels: Any) -> tuple[Any, list[str]]:
    """(positive class or None, what was chosen for people): the target checked for the task."""
    choices: list[str] = []
    positive: Any = None
    if task == "classification":
        classes = sorted(labels.unique().tolist(), key=str)
        if len(classes) < 2:
            only = classes[0] if classes else "nothing"
            raise WorkbenchError(
                f"target {target!r} has one class ({only!r}) in {len(labels)} rows: a classifier needs "
                "at least two; choose another target or add data with both outcomes"
            )
        if len(classes) == 2:
            positive, why = _positive_class(labels)
            choices.append(f"positive class: {why}; precision, recall and f1 are for it "
                           f"(change it with -S positive_class=VALUE)")
        else:
            shown = ", ".join(str(c) for c in classes[:8]) + (", ..." if len(classes) > 8 else "")
            choices.append(f"{len(classes)} classes ({shown}): no positive class; precision, recall and f1 "
                           "are macro averages (every class counts the same), *_weighted weigh classes by "
                           "their rows, roc_auc is one-vs-rest")
    else:
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(labels):
            raise WorkbenchError(f"target {target!r} is not numeric, but the task is regression: "
                                 "choose a numeric target or set the charter task to classification")
    return positive, choices


def _checked_params(params: dict[str, Any], task: str, columns: list[str],
                    overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``params`` with the overrides applied, then the model, split and preprocessing checked again."""
    from workbench.development.models import MODELS

    name = params["model"]["name"]
    if task in MODELS and str(name) not in MODELS[task]:
        check_model(task, params["model"])  # the one-line "use one of" error
    for key, value in (overrides or {}).items():
        set_key(params, key, value, allow_new_under=("model.params",))
    params["model"] = check_model(task, params["model"])
    params["split"] = check_split(params["split"], task, columns)
    params["preprocessing"] = check_preprocessing(params["preprocessing"])
    return params


def _data_check_notes(config: dict[str, Any], report: dict[str, Any] | None, target: str) -> list[str]:
    """What people should know about the data check the feature choice relied on."""
    from workbench.design.exclusions import report_is_stale

    if report is None:
        return ["no data check yet: run 'mlops-workbench data check' so its findings (personal data, "
                "leakage) keep such columns out of the features"]
    if report.get("target") != target:
        return [f"the last data check judged target {report.get('target')!r}, not {target!r}: run "
                f"'mlops-workbench data check --target {target}' so its leakage findings are about it"]
    if report_is_stale(config, report):
        return ["the last data check was judged with other excluded columns than workbench.yaml has "
                "now: run 'mlops-workbench data check' again"]
    return []


def _summary(target: str, chosen: dict[str, str], params: dict[str, Any]) -> str:
    """The commit's summary: the target, how many features of each type, the split, the model family."""
    kinds = {k: sum(1 for t in chosen.values() if t == k) for k in FEATURE_TYPES}
    return (f"predict {target} from {len(chosen)} features "
            f"({', '.join(f'{n} {k}' for k, n in kinds.items() if n)}), "
            f"{params['split']['method']} split, {params['model']['name']}")


def _pipeline_texts(params: dict[str, Any]) -> tuple[str, str]:
    """(params.yaml, dvc.yaml) as written, each with its header comment."""
    import yaml

    header = ("# Written by mlops-workbench (data engineering). Edit freely or with\n"
              "# 'dvc exp run -S key=value'; every random choice is seeded from split.seed.\n")
    params_text = header + yaml.safe_dump(params, sort_keys=False, allow_unicode=True, width=88)
    dvc_text = ("# Written by mlops-workbench. A stage's cmd may be replaced by your own script\n"
                "# as long as it writes the same outs (see workbench/development/stages.py).\n"
                + yaml.safe_dump(build_dvc_yaml(params), sort_keys=False, allow_unicode=True, width=88))
    return params_text, dvc_text


def configure_pipeline(
    project_path: str | Path,
    *,
    target: str | None = None,
    features: dict[str, str] | list[str] | None = None,
    split: dict[str, Any] | None = None,
    preprocessing: dict[str, Any] | None = None,
    model: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    allow_flagged: list[str] | tuple[str, ...] = (),
    role: str | None = None,
) -> PipelineResult:
    """Check the choices against the data, then write params.yaml + dvc.yaml in one commit.

    ``features`` maps column -> type; a list of names infers the types; None takes every
    column but the target, the time and sensitive columns and the columns
    :func:`~workbench.design.exclusions.feature_exclusions` flags. A flagged column is a
    feature only when it is in ``allow_flagged`` (recorded). ``overrides`` are dotted keys
    applied last (``{"model.params.C": 0.5}``). A ``target`` that differs from
    ``data.target`` is saved in workbench.yaml in the same commit.
    """
    from workbench.design.exclusions import feature_exclusions, read_last_report
    from workbench.project import CONFIG_NAME, dump_config
    from workbench.versioning.step import begin_step

    project = Project(project_path)
    config = project.read_config()
    task = str((config.get("charter") or {}).get("task") or "classification")
    data = config.get("data") or {}
    sources = configured_sources(config)
    target, frame, columns = _target_and_data(project.path, sources, target or data.get("target"))
    report = read_last_report(project.path)
    flagged = feature_exclusions(config, report, target)
    allowed = list(dict.fromkeys(str(a).strip() for a in allow_flagged if str(a).strip()))
    _refuse_allowed(allowed, columns, flagged)
    split_in = dict(split or {})
    time_col = split_in.get("time_column") or data.get("time_column")
    left_out = _left_out(data, time_col, flagged, allowed, target)
    chosen, left_out = _features(frame, columns, target, features, left_out, flagged, allowed, sources[0]["path"])
    used_flagged = {c: flagged[c] for c in chosen if c in flagged}
    positive, choices = _target_choice(task, target, frame[target].dropna())
    choices += [f"left out {col}: {why}" for col, why in left_out.items() if col in columns]
    choices += [f"feature {col} is {why}: used because --allow-flagged {col} was given"
                for col, why in used_flagged.items()]
    split_in.setdefault("time_column", time_col)
    params: dict[str, Any] = {
        "task": task,
        "target": target,
        "positive_class": positive,
        "sources": sources,
        "features": chosen,
        "split": check_split(split_in, task, columns),
        "preprocessing": check_preprocessing(preprocessing),
        "model": _model_choice(task, model),
    }
    if used_flagged:
        params["flagged_features"] = dict(used_flagged)
    params = _checked_params(params, task, columns, overrides)
    split_out = params["split"]
    choices.append(_split_choice(split_out, bool((split or {}).get("method"))))

    params_text, dvc_text = _pipeline_texts(params)
    summary = _summary(target, chosen, params)
    save_target = data.get("target") != target
    notes = _data_check_notes(config, report, target)
    paths = list(PIPELINE_FILES) + ([CONFIG_NAME] if save_target else [])
    with begin_step(project.path, "data_engineering", paths=paths, role=role,
                    summary=summary) as step:
        if save_target:
            config.setdefault("data", {})["target"] = target
            step.write_text(CONFIG_NAME, dump_config(config))
            choices.append(f"target {target} saved as data.target in workbench.yaml")
        step.write_text("params.yaml", params_text)
        step.write_text("dvc.yaml", dvc_text)
        step.body = (f"Target: {target} ({task})\nFeatures: {', '.join(chosen)}\n"
                     f"Split: {split_out}\nModel: {params['model']}\n\nChoices:\n"
                     + "\n".join(f"- {c}" for c in choices))
    return PipelineResult(commit=step.commit, params=params, task=task, summary=summary,
                          messages=tuple([*notes, *step.messages]), choices=tuple(choices))


def configured_sources(config: dict[str, Any]) -> list[dict[str, str]]:
    """workbench.yaml's data sources as ``{"path", "format"}``; refused in one line when there are none."""
    data = config.get("data") or {}
    sources = [{"path": s["path"], "format": s.get("format") or "csv"}
               for s in data.get("sources") or [] if isinstance(s, dict) and s.get("path")]
    if not sources:
        raise WorkbenchError("the project has no data sources: register data first with 'mlops-workbench data add PATH'")
    return sources
