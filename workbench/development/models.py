"""Model families by name, and hyperparameters checked before a run starts.

A name maps to a scikit-learn estimator class; the class is imported only when a
model is built or checked (scikit-learn costs about 1.3 s to import).

Two levels of checking, so that a single ``train`` does not pay that import:

- Names (:func:`check_param_names`): against :data:`PARAM_NAMES`, a table of each
  family's ``get_params()`` keys. No scikit-learn import; a test asserts the table equals
  the installed scikit-learn, so it cannot drift. A typo is an error before DVC starts.
- Values (:func:`check_params`): the estimator's own ``_parameter_constraints``, so
  scikit-learn's one-line explanation of a wrong type or range. The ``pipeline`` step,
  every sweep point and the ``train`` stage itself (``build_estimator``) check values;
  a single ``train`` run checks names in the parent and leaves values to the stage,
  which fails in one line before fitting anything (see
  :func:`workbench.development.training.run_experiment`). Inside :func:`names_only`
  ``check_params`` checks names and the few values :data:`CHEAP_CHECKS` can judge
  without scikit-learn (a count that is not a whole number, a negative rate, ...).
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
from collections.abc import Iterator
from typing import Any

from workbench.errors import WorkbenchError

#: task -> model name -> (module, class)
MODELS: dict[str, dict[str, tuple[str, str]]] = {
    "classification": {
        "dummy": ("sklearn.dummy", "DummyClassifier"),
        "logistic_regression": ("sklearn.linear_model", "LogisticRegression"),
        "ridge": ("sklearn.linear_model", "RidgeClassifier"),
        "random_forest": ("sklearn.ensemble", "RandomForestClassifier"),
        "hist_gradient_boosting": ("sklearn.ensemble", "HistGradientBoostingClassifier"),
    },
    "regression": {
        "dummy": ("sklearn.dummy", "DummyRegressor"),
        "linear_regression": ("sklearn.linear_model", "LinearRegression"),
        "ridge": ("sklearn.linear_model", "Ridge"),
        "random_forest": ("sklearn.ensemble", "RandomForestRegressor"),
        "hist_gradient_boosting": ("sklearn.ensemble", "HistGradientBoostingRegressor"),
    },
}

#: Starting hyperparameters written into params.yaml by the pipeline step.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "dummy": {},
    "logistic_regression": {"C": 1.0, "max_iter": 1000},
    "linear_regression": {},
    "ridge": {"alpha": 1.0},
    "random_forest": {"n_estimators": 100, "max_depth": None},
    "hist_gradient_boosting": {"learning_rate": 0.1, "max_iter": 100},
}


#: Each estimator class's hyperparameter names: its ``get_params()`` keys in the installed
#: scikit-learn (``tests/test_exp_history.py`` checks the table against it).
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "DummyClassifier": ("constant", "random_state", "strategy"),
    "LogisticRegression": ("C", "class_weight", "dual", "fit_intercept", "intercept_scaling", "l1_ratio",
                           "max_iter", "n_jobs", "penalty", "random_state", "solver", "tol", "verbose",
                           "warm_start"),
    "RidgeClassifier": ("alpha", "class_weight", "copy_X", "fit_intercept", "max_iter", "positive",
                        "random_state", "solver", "tol"),
    "RandomForestClassifier": ("bootstrap", "ccp_alpha", "class_weight", "criterion", "max_depth",
                               "max_features", "max_leaf_nodes", "max_samples", "min_impurity_decrease",
                               "min_samples_leaf", "min_samples_split", "min_weight_fraction_leaf",
                               "monotonic_cst", "n_estimators", "n_jobs", "oob_score", "random_state",
                               "verbose", "warm_start"),
    "HistGradientBoostingClassifier": ("categorical_features", "class_weight", "early_stopping",
                                       "interaction_cst", "l2_regularization", "learning_rate", "loss",
                                       "max_bins", "max_depth", "max_features", "max_iter",
                                       "max_leaf_nodes", "min_samples_leaf", "monotonic_cst",
                                       "n_iter_no_change", "random_state", "scoring", "tol",
                                       "validation_fraction", "verbose", "warm_start"),
    "DummyRegressor": ("constant", "quantile", "strategy"),
    "LinearRegression": ("copy_X", "fit_intercept", "n_jobs", "positive", "tol"),
    "Ridge": ("alpha", "copy_X", "fit_intercept", "max_iter", "positive", "random_state", "solver", "tol"),
    "RandomForestRegressor": ("bootstrap", "ccp_alpha", "criterion", "max_depth", "max_features",
                              "max_leaf_nodes", "max_samples", "min_impurity_decrease", "min_samples_leaf",
                              "min_samples_split", "min_weight_fraction_leaf", "monotonic_cst",
                              "n_estimators", "n_jobs", "oob_score", "random_state", "verbose",
                              "warm_start"),
    "HistGradientBoostingRegressor": ("categorical_features", "early_stopping", "interaction_cst",
                                      "l2_regularization", "learning_rate", "loss", "max_bins", "max_depth",
                                      "max_features", "max_iter", "max_leaf_nodes", "min_samples_leaf",
                                      "monotonic_cst", "n_iter_no_change", "quantile", "random_state",
                                      "scoring", "tol", "validation_fraction", "verbose", "warm_start"),
}

#: Values checked without scikit-learn (inside :func:`names_only`, so in a single ``train``):
#: name -> (kind, minimum, minimum allowed, None allowed). Each rule is no stricter than the
#: estimator's own ``_parameter_constraints`` for every family that has the name
#: (``tests/test_train_families.py`` probes them against the installed scikit-learn).
CHEAP_CHECKS: dict[str, tuple[str, float | None, bool, bool]] = {
    "C": ("number", 0, False, False),
    "alpha": ("number", 0, True, False),
    "learning_rate": ("number", 0, False, False),
    "l2_regularization": ("number", 0, True, False),
    "tol": ("number", 0, True, False),
    "n_estimators": ("integer", 1, True, False),
    "max_iter": ("integer", 0, True, True),
    "max_depth": ("integer", 1, True, True),
    "max_leaf_nodes": ("integer", 2, True, True),
    "fit_intercept": ("boolean", None, True, False),
}


def _cheap_value_error(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for hyperparameter ``key`` by :data:`CHEAP_CHECKS`, or None."""
    rule = CHEAP_CHECKS.get(key)
    if rule is None or isinstance(value, list | tuple | dict) and key == "alpha":
        return None  # alpha may be one value per target (array-like): scikit-learn checks it
    kind, low, inclusive, none_ok = rule
    if value is None:
        return None if none_ok else f"a {kind}, not null"
    if kind == "boolean":
        return None if isinstance(value, bool) else "true or false"
    number = isinstance(value, int | float)  # scikit-learn takes a bool as a number too
    if kind == "integer" and not (number and isinstance(value, int)):
        what = "an integer" + (f" of at least {low:g}" if low is not None else "")
        return what + (" or null" if none_ok else "")
    if not number:
        return "a number" + (f" {'>=' if inclusive else '>'} {low:g}" if low is not None else "")
    if low is not None and (value < low or (value == low and not inclusive)):
        return f"{'at least' if inclusive else 'above'} {low:g}" + (" or null" if none_ok else "")
    return None


def check_values_cheaply(name: str, params: dict[str, Any]) -> None:
    """The values :data:`CHEAP_CHECKS` knows, checked without importing scikit-learn."""
    for key, value in params.items():
        wrong = _cheap_value_error(str(key), value)
        if wrong:
            raise WorkbenchError(f"model.params.{key}={value!r} is not valid for {name}: it must be {wrong}")


def family_defaults(name: str) -> dict[str, Any]:
    """The hyperparameters a family starts from (what switching ``model.name`` resets to)."""
    return dict(DEFAULT_PARAMS.get(name, {}))


_CHECK_VALUES: contextvars.ContextVar[bool] = contextvars.ContextVar("check_values", default=True)


@contextlib.contextmanager
def names_only() -> Iterator[None]:
    """Within this block :func:`check_params` checks names only (no scikit-learn import)."""
    token = _CHECK_VALUES.set(False)
    try:
        yield
    finally:
        _CHECK_VALUES.reset(token)


def model_names(task: str) -> tuple[str, ...]:
    """The model names available for ``task``."""
    return tuple(MODELS.get(task, {}))


def _class_name(task: str, name: str) -> tuple[str, str]:
    if task not in MODELS:
        raise WorkbenchError(f"task {task!r} is not supported: use 'classification' or 'regression'")
    if name not in MODELS[task]:
        raise WorkbenchError(
            f"model {name!r} is not a {task} model: use one of {', '.join(MODELS[task])}"
        )
    return MODELS[task][name]


def estimator_class(task: str, name: str) -> type:
    """The scikit-learn class for a model name; a one-line error naming the known ones."""
    import importlib

    module, cls = _class_name(task, name)
    return getattr(importlib.import_module(module), cls)


def check_param_names(task: str, name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The model exists and every hyperparameter name is one it has (no scikit-learn import).

    Unknown names raise an error listing the valid ones (with a close match first).
    """
    _, cls_name = _class_name(task, name)
    params = dict(params or {})
    valid = PARAM_NAMES[cls_name]
    unknown = [k for k in params if k not in valid]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(valid), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise WorkbenchError(
            f"model {name!r} has no hyperparameter {key!r}{hint}: "
            f"valid ones are {', '.join(sorted(valid))}"
        )
    return params


def check_params(task: str, name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Validate hyperparameters for a model; return them unchanged.

    Names are checked as in :func:`check_param_names`; values of the wrong type or range
    raise scikit-learn's own one-line explanation (skipped inside :func:`names_only`).
    """
    params = check_param_names(task, name, params)
    if not _CHECK_VALUES.get():
        check_values_cheaply(name, params)
        return params
    cls = estimator_class(task, name)
    estimator = cls(**params)
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        text = " ".join(str(exc).split())
        raise WorkbenchError(f"model {name!r}: {text} Fix it in params.yaml or with -S model.params.KEY=VALUE") from None
    return params


def build_estimator(task: str, name: str, params: dict[str, Any] | None, seed: int) -> Any:
    """An estimator with ``params``; ``random_state`` comes from the seed unless params set it."""
    cls = estimator_class(task, name)
    params = check_params(task, name, params)
    if "random_state" in cls().get_params() and params.get("random_state") is None:
        params["random_state"] = seed
    return cls(**params)
