"""What the Data engineering step's form starts from: the data's columns with inferred types and the committed pipeline.

Read by the screen's child process (:mod:`workbench.jobs`), since it needs pandas; the
result goes back as JSON and :func:`data_view_from` rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ColumnInfo:
    """One column of the project's data, as the feature table shows it."""

    name: str
    inferred: str
    missing_share: float
    unique: int
    role: str = ""  # target / id / sensitive / time / excluded / flagged: why it is left out by default


@dataclass(frozen=True)
class DataView:
    """What the view needs to fill the form: the data's columns and the committed pipeline."""

    task: str
    columns: tuple[ColumnInfo, ...]
    default_target: str | None
    default_time_column: str | None
    rows: int
    params: dict[str, Any] | None
    params_text: str
    model_names: tuple[str, ...]
    default_params: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_data_view(path: Path) -> DataView:
    """Columns with inferred types, missing shares and roles, plus params.yaml (needs pandas)."""
    from workbench.development.models import DEFAULT_PARAMS, model_names
    from workbench.development.pipeline import configured_sources, infer_type
    from workbench.development.stages import read_params, read_sources
    from workbench.project import Project

    project = Project(path)
    config = project.read_config()
    task = str((config.get("charter") or {}).get("task") or "classification")
    data = config.get("data") or {}
    sources = configured_sources(config)
    frame = read_sources(project.path, sources)
    roles: dict[str, str] = {}
    for key, role in (("exclude_columns", "excluded"), ("sensitive_columns", "sensitive"),
                      ("id_columns", "id")):
        for name in data.get(key) or []:
            roles[str(name)] = role
    from workbench.design.exclusions import feature_exclusions, read_last_report

    for name in feature_exclusions(config, read_last_report(project.path)):
        roles.setdefault(name, "flagged")  # a data check finding: not a default feature (issue 14)
    if data.get("time_column"):
        roles[str(data["time_column"])] = "time"
    if data.get("target"):
        roles[str(data["target"])] = "target"
    columns = []
    rows = len(frame)
    for name in frame.columns:
        series = frame[name]
        columns.append(ColumnInfo(
            name=str(name), inferred=infer_type(series),
            missing_share=float(series.isna().mean()) if rows else 0.0,
            unique=int(series.nunique(dropna=True)), role=roles.get(str(name), ""),
        ))
    params: dict[str, Any] | None = None
    params_text = ""
    if (project.path / "params.yaml").is_file():
        params_text = (project.path / "params.yaml").read_text(encoding="utf-8")
        params = read_params(project.path)
    return DataView(
        task=task, columns=tuple(columns), default_target=data.get("target"),
        default_time_column=data.get("time_column"), rows=rows, params=params,
        params_text=params_text, model_names=model_names(task),
        default_params={k: dict(v) for k, v in DEFAULT_PARAMS.items()},
    )


def data_view_from(raw: dict[str, Any]) -> DataView:
    """A :class:`DataView` from its JSON form (as the child process sends it)."""
    fields = dict(raw)
    fields["columns"] = tuple(ColumnInfo(**c) for c in raw["columns"])
    fields["model_names"] = tuple(raw["model_names"])
    return DataView(**fields)
