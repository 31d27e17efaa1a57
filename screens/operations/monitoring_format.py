"""What the monitoring view shows, as text: numbers, PSI bands, the order of the features, the
CLI's error line, the histograms' edge labels and the share of categories that moved.

Plain functions over the report's JSON (no widgets), so the view stays the view.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workbench.paths import PREDICTIONS_FOLDER, REFERENCE_FILE

__all__ = ["CLI_ERROR", "CURRENT_COLOR", "FEATURE_COLUMNS", "METHOD_LONG", "METHOD_NAMES", "PREDICTIONS_FOLDER", "PSI_STYLES",
           "REFERENCE_COLOR", "REFERENCE_FILE", "REPORT_COLUMNS", "cli_line", "edge_label", "gate_name", "json_of",
           "largest_shifts", "number", "pct", "psi_band", "severity_order", "short_when"]

CLI_ERROR = "mlops-workbench: error: "
#: Type is in the detail line under the table: with the sidebar, 120 columns hold these five.
FEATURE_COLUMNS = (("name", "Feature"), ("drifted", "Drift"), ("statistic", "Statistic"),
                   ("test", "Test"), ("psi", "PSI"))
REPORT_COLUMNS = (("id", "Report"), ("when", "At (UTC)"), ("status", "Status"), ("share", "Drifted"))
METHOD_NAMES = {"ks": "KS", "wasserstein": "Wasserstein", "chi_squared": "chi²",
                "jensen_shannon": "Jensen-Shannon", "none": "not compared"}
METHOD_LONG = {"ks": "Kolmogorov-Smirnov test", "wasserstein": "Wasserstein distance / reference std",
               "chi_squared": "chi-squared test", "jensen_shannon": "Jensen-Shannon distance (base 2)"}
PSI_STYLES = {"none": "dim", "moderate": "yellow", "significant": "bold red"}
REFERENCE_COLOR, CURRENT_COLOR = (70, 130, 255), (255, 150, 30)  # RGB: themes leave them alone


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    value = float(value)
    return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"


def psi_band(value: float | None, moderate: float = 0.1, significant: float = 0.25) -> str | None:
    """The band the report would give: below 0.1 none, below 0.25 moderate, else significant."""
    if value is None:
        return None
    return "none" if value < moderate else ("moderate" if value < significant else "significant")


def severity_order(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drifted first, then not drifted, then not compared; within each, the worst test first, then PSI."""
    rank = {True: 0, False: 1, None: 2}
    return sorted(features, key=lambda f: (rank.get(f.get("drifted"), 2), -float(f.get("severity") or -1.0),
                                           -float(f.get("psi") or 0.0), str(f.get("name"))))


def cli_line(stderr_lines: list[str], code: int | None) -> str:
    """The one error line the CLI printed (without its ``mlops-workbench: error:`` prefix)."""
    errors = [ln for ln in stderr_lines if ln.startswith("mlops-workbench:")]
    line = errors[-1] if errors else (stderr_lines[-1] if stderr_lines else f"the command exited {code}")
    return line.removeprefix(CLI_ERROR)


def short_when(iso: str) -> str:
    return iso[:16].replace("T", " ") if iso else "-"


def edge_label(value: float, kind: str) -> str:
    if kind == "datetime":
        try:
            return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d")
        except (OverflowError, OSError, ValueError):
            return number(value)
    return number(value, 3)


def json_of(text: str) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def gate_name(gate: Any) -> str:
    if isinstance(gate, dict):
        return str(gate.get("name") or gate.get("gate") or gate)
    return str(gate)


def largest_shifts(hist: dict[str, Any], shown: int = 3) -> str:
    """The categories whose share moved most, in percentage points (categorical histograms only)."""
    labels = hist.get("categories")
    if not labels:
        return ""
    moves = [(float(c) - float(r), str(label)) for label, r, c in
             zip(labels, hist.get("reference") or [], hist.get("current") or [], strict=False)]
    moves = sorted((m for m in moves if abs(m[0]) >= 0.005), key=lambda m: -abs(m[0]))[:shown]
    return ", ".join(f"{label} {delta * 100:+.1f} pts" for delta, label in moves)


def pct(share: Any) -> str:
    return "-" if share is None else f"{float(share) * 100:.1f}%"
