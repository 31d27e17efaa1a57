"""Model families by name, and hyperparameters checked before a run starts.

A name maps to a scikit-learn estimator class; the class is imported only when a
model is built or checked (scikit-learn costs about 1.4 s to import). Checking uses
the estimator itself: the names come from ``get_params()`` and the values go through
scikit-learn's own ``_parameter_constraints``, so the workbench never keeps a second
copy of what scikit-learn accepts and a typo is an error, not a silent default.
"""

from __future__ import annotations

import difflib
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


def model_names(task: str) -> tuple[str, ...]:
    """The model names available for ``task``."""
    return tuple(MODELS.get(task, {}))


def estimator_class(task: str, name: str) -> type:
    """The scikit-learn class for a model name; a one-line error naming the known ones."""
    if task not in MODELS:
        raise WorkbenchError(f"task {task!r} is not supported: use 'classification' or 'regression'")
    if name not in MODELS[task]:
        raise WorkbenchError(
            f"model {name!r} is not a {task} model: use one of {', '.join(MODELS[task])}"
        )
    import importlib

    module, cls = MODELS[task][name]
    return getattr(importlib.import_module(module), cls)


def check_params(task: str, name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Validate hyperparameters for a model against the estimator; return them unchanged.

    Unknown names raise an error listing the valid ones (with a close match first);
    values of the wrong type or range raise scikit-learn's own one-line explanation.
    """
    cls = estimator_class(task, name)
    params = dict(params or {})
    valid = cls().get_params()
    unknown = [k for k in params if k not in valid]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(valid), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise WorkbenchError(
            f"model {name!r} has no hyperparameter {key!r}{hint}: "
            f"valid ones are {', '.join(sorted(valid))}"
        )
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
