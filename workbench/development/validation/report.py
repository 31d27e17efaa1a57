"""The validation report: read it back, render it as Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.development.validation.settings import _fmt
from workbench.paths import VALIDATION_REPORT as VALIDATION_FILE
from workbench.textfmt import md_table


def read_validation(project_path: str | Path) -> dict[str, Any] | None:
    """The committed validation report with ``current`` (is it for the workspace model?), or None."""
    from workbench.versioning.evidence import model_digest, read_json

    root = Path(project_path).absolute()
    report = read_json(root, VALIDATION_FILE)
    if report is None:
        return None
    report = dict(report)
    report["current"] = (report.get("model") or {}).get("digest") == model_digest(root)
    return report


# --- the markdown report ---------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _fmt(value)
    return str(value).replace("|", "\\|")


def render_markdown(report: dict[str, Any]) -> str:
    """``reports/validation.md``: the verdict, the gates and their numbers, for people."""
    model = report.get("model") or {}
    lines = [
        "# Validation report",
        "",
        f"**{'PASSED' if report.get('passed') else 'FAILED'}** on {report.get('validated_at', '')}",
        "",
        f"- Model: `{model.get('digest')}` ({model.get('family') or 'unknown family'})"
        + (f", experiment `{model['experiment']}`" if model.get("experiment") else ""),
        f"- Commit: `{model.get('commit') or 'none'}`",
        f"- Task: {report.get('task')}, target `{report.get('target')}`",
        "- Test metrics: " + ", ".join(f"{k} {_fmt(v)}" for k, v in (report.get("metrics") or {}).items()),
        "",
    ]
    lines += md_table(["gate", "result", "value", "threshold", "why"], (
        [gate.get("title", gate.get("name")), {True: "pass", False: "**fail**", None: "skipped"}[gate.get("passed")],
         _cell(gate.get("value")), _cell(gate.get("threshold")), str(gate.get("why", "")).replace("|", "/")]
        for gate in report.get("gates") or []))
    for gate in report.get("gates") or []:
        rows = list(gate.get("details") or [])
        if not rows:
            continue
        keys = list(dict.fromkeys(k for row in rows for k in row))
        lines += ["", f"## {gate.get('title', gate.get('name'))}", ""]
        lines += md_table(keys, ([row.get(k) for k in keys] for row in rows), cell=_cell)
    lines += ["", "Settings: `gates:` in workbench.yaml. Re-run with `mlops-workbench validate`.", ""]
    return "\n".join(lines)
