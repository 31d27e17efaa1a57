"""One typed schema for ``workbench.yaml`` and ``params.yaml`` (pydantic v2).

People edit both files by hand, so every key the workbench reads is checked when the file
is loaded, and the first wrong one is reported as one line that names the key, what it
holds and what it should hold::

    workbench.yaml: use_cases.candidates holds 'abc' (text); it should be a list of use cases

Unknown keys are allowed and kept as written (``extra="allow"``): the schema only checks,
the loaders go on returning the plain dicts, and reading never rewrites a file. Keys are
optional with the defaults the code already uses, so a file written by an older workbench
reads as before. Values are strict where the code reading them is (``7`` is not a column
name, ``"1000"`` is not a row count); numbers that the use-case and gate parsers accept as
text (``"0.3"``) stay accepted there.

:func:`check_workbench_config` and :func:`check_params` are called by
:meth:`workbench.project.Project.read_config` and
:func:`workbench.development.stages.read_params`.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import WorkbenchError

# --- value kinds --------------------------------------------------------------------------

Text = Annotated[str, Field(strict=True)]
ColumnName = Annotated[str, Field(strict=True, description="a column name (text; quote a numeric name: '7')")]
ColumnList = Annotated[list[ColumnName] | ColumnName,  # one name alone is read as a list of one
                       Field(description="a list of column names, like [customer_id]")]
Count = Annotated[int, Field(strict=True, ge=0, description="a whole number >= 0")]
Share = Annotated[float, Field(strict=True, ge=0, le=1, description="a number from 0 to 1")]
NonNegative = Annotated[float, Field(strict=True, ge=0, description="a number >= 0")]
LaxNumber = Annotated[float, Field(strict=False, description="a number")]  # the parsers accept "0.3"


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


# --- workbench.yaml -------------------------------------------------------------------------


class ProjectSection(_Section):
    name: Text | None = Field(None, description="the project's name (text)")
    description: Text | None = Field(None, description="one line of text")


class TeamMemberEntry(_Section):
    name: Text | None = Field(None, description="the member's name (text)")
    email: Text | None = Field(None, description="an e-mail address (text)")
    role: Text | None = Field(None, description="a role: business_owner, data_scientist, ml_engineer or researcher")


class Constraints(_Section):
    latency_ms: Annotated[int, Field(strict=True, gt=0)] | None = Field(
        None, description="a whole number of milliseconds > 0, or null")
    interpretability: Text | None = Field(None, description="text")
    privacy: Text | None = Field(None, description="text")


class CharterSection(_Section):
    problem: Text | None = Field(None, description="the problem statement (text)")
    business_owner: Text | None = Field(None, description="a name (text)")
    success_metric: Text | None = Field(None, description="text like 'recall >= 0.80'")
    task: Literal["classification", "regression"] = Field(
        "classification", description="classification or regression")
    constraints: Constraints | None = Field(None, description="a mapping (latency_ms, interpretability, privacy)")
    team: list[TeamMemberEntry] | None = Field(None, description="a list of team members (name, email, role)")


class UseCase(_Section):
    id: Annotated[str, Field(strict=False)] | None = Field(None, description="a slug like card-fraud-scoring")
    name: Annotated[str, Field(strict=False)] | None = Field(None, description="text")
    description: Annotated[str, Field(strict=False)] | None = Field(None, description="text")
    scores: dict[str, LaxNumber] | None = Field(None, description="a mapping criterion -> score 1-5")


class Selection(_Section):
    id: Annotated[str, Field(strict=False)] | None = Field(None, description="a use-case id")


class UseCasesSection(_Section):
    weights: dict[str, LaxNumber] | None = Field(None, description="a mapping criterion -> weight")
    candidates: list[UseCase] | None = Field(None, description="a list of use cases")
    selected: Annotated[str, Field(strict=True)] | Selection | None = Field(
        None, description="a use-case id or the recorded selection (id, by, reason...)")


class Source(_Section):
    name: Annotated[str, Field(strict=False)] | None = Field(None, description="the source's name (text)")
    path: Text | None = Field(None, description="a project-relative path (text)")
    format: Literal["csv", "tsv", "parquet"] | None = Field(None, description="csv, tsv or parquet")
    encoding: Text | None = Field(None, description="an encoding name (text), like latin-1")
    delimiter: Annotated[str, Field(strict=True, min_length=1, max_length=1)] | None = Field(
        None, description="one character, like ';'")
    decimal: Annotated[str, Field(strict=True, min_length=1, max_length=1)] | None = Field(
        None, description="one character, like ','")


class Thresholds(_Section):
    min_rows: NonNegative | None = Field(None, description="a number of rows >= 0")
    max_target_missing_share: Share | None = None
    min_positives: NonNegative | None = Field(None, description="a number of rows >= 0")
    max_missing_share: Share | None = None
    leakage_score: Share | None = None
    max_age_days: NonNegative | None = Field(None, description="a number of days >= 0")
    # every other threshold is a number too (the data check reads them as numbers)
    __pydantic_extra__: dict[str, NonNegative | None]


class DataSection(_Section):
    sources: list[Source] | None = Field(None, description="a list of sources (name, path, format)")
    target: ColumnName | None = Field(None, description="the target column's name (text), or null")
    time_column: ColumnName | None = Field(None, description="a column name (text), or null")
    id_columns: ColumnList | None = None
    sensitive_columns: ColumnList | None = None
    exclude_columns: ColumnList | None = None
    thresholds: Thresholds | None = Field(None, description="a mapping like {min_rows: 1000, ...}")


class GateSettings(_Section):
    model_config = ConfigDict(extra="allow", strict=False)  # validation's check_gates reads the rest

    enabled: Annotated[bool, Field(strict=True)] | None = Field(None, description="true or false")


class NoRegression(GateSettings):
    tolerance: LaxNumber | dict[str, LaxNumber] | None = Field(
        None, description="a number, or a mapping metric -> number (like {rmse: 0.05})")


class Gates(_Section):
    success_metric: Annotated[bool, Field(strict=True)] | GateSettings | None = Field(
        None, description="true/false or a mapping of settings")
    baseline: Annotated[bool, Field(strict=True)] | GateSettings | None = Field(
        None, description="true/false or a mapping of settings")
    no_regression: Annotated[bool, Field(strict=True)] | NoRegression | None = Field(
        None, description="true/false or a mapping of settings (tolerance: a number or metric -> number)")
    slices: Annotated[bool, Field(strict=True)] | GateSettings | None = Field(
        None, description="true/false or a mapping of settings")
    fairness: Annotated[bool, Field(strict=True)] | GateSettings | None = Field(
        None, description="true/false or a mapping of settings")
    reproducibility: Annotated[bool, Field(strict=True)] | GateSettings | None = Field(
        None, description="true/false or a mapping of settings")


class Monitoring(_Section):
    # monitoring_settings reads each as a number >= 0; other keys are left alone
    drift_share: NonNegative | None = None
    min_rows: NonNegative | None = Field(None, description="a number of rows >= 0")
    max_metric_drop: NonNegative | None = None
    max_error_increase: NonNegative | None = None
    max_missing_share: NonNegative | None = None
    min_positives: NonNegative | None = None
    max_target_missing_share: NonNegative | None = None
    leakage_score: NonNegative | None = None


class Retraining(_Section):
    policy: Annotated[str, Field(strict=True, pattern=r"(?i)^\s*(manual|automatic)\s*$")] | None = Field(
        None, description="manual or automatic")


class Governance(_Section):
    independent_review: Annotated[bool, Field(strict=True)] = Field(False, description="true or false")
    approvals: Annotated[int, Field(strict=True, ge=1)] = Field(1, description="a whole number >= 1")


class Registry(_Section):
    artifact: Text | None = Field(None, description="the artifact's name (text)")
    name: Text | None = Field(None, description="the artifact's name (text)")


class Ci(_Section):
    install: Text | None = Field(None, description="a shell command (text)")


class WorkbenchConfig(_Section):
    schema_version: Annotated[int, Field(strict=True)] = Field(1, description="a whole number")
    project: ProjectSection | None = Field(None, description="a mapping (name, description)")
    charter: CharterSection = Field(description="a mapping (problem, business_owner, success_metric...)")
    use_cases: UseCasesSection | None = Field(None, description="a mapping (weights, candidates, selected)")
    data: DataSection | None = Field(None, description="a mapping (sources, target, id_columns...)")
    gates: Gates | None = Field(None, description="a mapping of gates, like {baseline: {margin: 0.05}}")
    monitoring: Monitoring | None = Field(None, description="a mapping like {drift_share: 0.5}")
    retraining: Retraining | None = Field(None, description="a mapping like {policy: manual}")
    governance: Governance | None = Field(None, description="a mapping like {independent_review: true, approvals: 2}")
    registry: Registry | None = Field(None, description="a mapping like {artifact: model}")
    ci: Ci | None = Field(None, description="a mapping like {install: 'pip install ...'}")


# --- params.yaml ------------------------------------------------------------------------------


class ParamsSource(_Section):
    path: Text = Field(description="a project-relative path (text)")
    format: Literal["csv", "tsv", "parquet"] | None = Field(None, description="csv, tsv or parquet")


class Split(_Section):
    method: Literal["random", "stratified", "time"] | None = Field(None, description="random, stratified or time")
    test_size: Annotated[float, Field(strict=True, gt=0, lt=1)] | None = Field(
        None, description="a number between 0 and 1, like 0.2")
    seed: Annotated[int, Field(strict=True)] | None = Field(None, description="a whole number")
    time_column: ColumnName | None = Field(None, description="a column name (text), or null")


class NumericPrep(_Section):
    impute: Literal["median", "mean", "none"] | None = Field(None, description="median, mean or none")
    scale: Literal["standard", "none"] | None = Field(None, description="standard or none")


class CategoricalPrep(_Section):
    impute: Literal["most_frequent", "constant"] | None = Field(None, description="most_frequent or constant")
    encode: Literal["onehot"] | None = Field(None, description="onehot")


class Tfidf(_Section):
    max_features: Annotated[int, Field(strict=True, gt=0)] | None = Field(
        None, description="a whole number > 0, or null")
    ngram_range: Annotated[list[Annotated[int, Field(strict=True, ge=1)]], Field(min_length=2, max_length=2)] | None = (
        Field(None, description="two whole numbers, like [1, 2]"))


class TextPrep(_Section):
    tfidf: Tfidf | None = Field(None, description="a mapping (max_features, ngram_range)")


class Preprocessing(_Section):
    numeric: NumericPrep | None = Field(None, description="a mapping (impute, scale)")
    categorical: CategoricalPrep | None = Field(None, description="a mapping (impute, encode)")
    text: TextPrep | None = Field(None, description="a mapping (tfidf)")


class ModelParams(_Section):
    name: Text | None = Field(None, description="a model family, like logistic_regression")
    params: dict[str, Any] | None = Field(None, description="a mapping of hyperparameters, like {C: 1.0}")


class Params(_Section):
    task: Literal["classification", "regression"] | None = Field(None, description="classification or regression")
    target: ColumnName | None = Field(None, description="the target column's name (text)")
    positive_class: str | int | float | bool | None = Field(
        None, description="a class label (text, a number or true/false)")
    sources: list[Text | ParamsSource] | None = Field(None, description="a list of sources (path, format)")
    features: dict[str, Literal["numeric", "categorical", "text", "datetime"]] | None = Field(
        None, description="a mapping column -> numeric, categorical, text or datetime")
    split: Split | None = Field(None, description="a mapping (method, test_size, seed, time_column)")
    preprocessing: Preprocessing | None = Field(None, description="a mapping (numeric, categorical, text)")
    model: ModelParams | None = Field(None, description="a mapping (name, params)")


# --- the one-line error -----------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _strip_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _unwrap(annotation: Any) -> Any:
    """The annotation without Annotated[...] and without a None branch."""
    annotation = _strip_none(annotation)
    while typing.get_origin(annotation) is Annotated:
        annotation = _strip_none(typing.get_args(annotation)[0])
    return annotation


def _describe(annotation: Any) -> str:
    annotation = _strip_none(annotation)
    if typing.get_origin(annotation) is Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if getattr(meta, "description", None):
                return str(meta.description)
    ann = _unwrap(annotation)
    origin = typing.get_origin(ann)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(ann))
    if origin is list:
        return "a list"
    if origin is dict or (isinstance(ann, type) and issubclass(ann, BaseModel)):
        return "a mapping"
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false"}.get(ann, "another value")


def _branches(annotation: Any) -> list[Any]:
    ann = _unwrap(annotation)
    if typing.get_origin(ann) in (Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(ann) if a is not type(None)]
    return [ann]


def _fields_of(branches: list[Any]) -> set[str]:
    return {name for b in branches if isinstance(b, type) and issubclass(b, BaseModel) for name in b.model_fields}


def _extra_type(model: type[BaseModel]) -> Any:
    hints = typing.get_type_hints(model, include_extras=True)
    extra = hints.get("__pydantic_extra__")
    return typing.get_args(extra)[1] if typing.get_origin(extra) is dict else None


def _locate(model: type[BaseModel], loc: tuple[Any, ...], data: Any) -> tuple[str, Any, str]:
    """(dotted key, the value there, what it should hold) for a pydantic error location."""
    path, value, annotation, should = "", data, model, "another value"
    for part in loc:
        branches = _branches(annotation)
        tagged = next((b for b in branches if len(branches) > 1 and part == getattr(b, "__name__", None)), None)
        if tagged is not None:  # pydantic names the union branch it tried: follow it, same key
            annotation = tagged
            continue
        step: tuple[Any, str | None] | None = None
        for option in branches:
            origin = typing.get_origin(option)
            if isinstance(option, type) and issubclass(option, BaseModel) and isinstance(part, str):
                field = option.model_fields.get(part)
                if field is not None:
                    step = (field.annotation, field.description)
                elif _extra_type(option) is not None:
                    step = (_extra_type(option), None)
            elif origin is list and isinstance(part, int):
                step = (typing.get_args(option)[0], None)
            elif origin is dict and isinstance(part, str) and isinstance(value, dict) and part in value:
                step = (typing.get_args(option)[1], None)
            if step is not None:
                break
        if step is None:
            if len(branches) > 1 and isinstance(part, str) and part not in _fields_of(branches):
                continue  # pydantic's name for the union branch it tried (list[...], str...): same key
            break  # a place below the schema's types
        annotation, description = step
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        should = description or _describe(annotation)
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            value = None
    return path, value, should


def _check(model: type[BaseModel], data: dict[str, Any], name: str) -> None:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        deepest = max(len(e["loc"]) for e in errors)
        error = next(e for e in errors if len(e["loc"]) == deepest)
        key, value, should = _locate(model, tuple(error["loc"]), data)
        if error["type"] == "missing":
            raise WorkbenchError(f"{name}: {key} is missing; it should be {should}") from None
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise WorkbenchError(f"{name}: {key} holds {shown} ({_kind(value)}); it should be {should}") from None


def check_workbench_config(data: dict[str, Any], name: str = "workbench.yaml") -> None:
    """Raise a one-line :class:`WorkbenchError` for the first key of workbench.yaml of the wrong type."""
    _check(WorkbenchConfig, data, name)


def check_params(data: dict[str, Any], name: str = "params.yaml") -> None:
    """Raise a one-line :class:`WorkbenchError` for the first key of params.yaml of the wrong type."""
    _check(Params, data, name)


def governance(config: dict[str, Any]) -> Governance:
    """The ``governance`` settings with their defaults (independent_review false, 1 approval).

    A wrong value is the schema's one line (read_config has said it already for the project's
    own file; a dict from elsewhere is checked here the same way).
    """
    raw = config.get("governance")
    _check_at("governance", raw)
    return Governance.model_validate(raw or {})


def _check_at(dotted: str, value: Any, name: str = "workbench.yaml") -> None:
    """Check one section of workbench.yaml alone, with the one-line error naming its full key."""
    data: dict[str, Any] = {"charter": {}}
    cur = data
    *parents, last = dotted.split(".")
    for key in parents:
        cur = cur.setdefault(key, {})
    cur[last] = value
    _check(WorkbenchConfig, data, name)


def data_thresholds(config: dict[str, Any]) -> dict[str, float]:
    """``data.thresholds`` over the defaults (:data:`workbench.project.DEFAULT_THRESHOLDS`).

    Values are returned as written (``1000`` stays an int, so the report's JSON does not
    change); a key set to null keeps its default.
    """
    from workbench.project import DEFAULT_THRESHOLDS

    data = config.get("data") or {}
    _check_at("data", data)  # read_config has checked it already; a dict from elsewhere may not be
    raw = data.get("thresholds") or {}
    return {**DEFAULT_THRESHOLDS, **{k: v for k, v in raw.items() if v is not None}}
