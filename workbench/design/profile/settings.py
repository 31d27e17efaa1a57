"""Settings, limits and the result types of a source profile."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


HISTOGRAM_BINS = 20


TOP_VALUES = 10


PATTERN_SAMPLE = 500


LEAKAGE_SAMPLE = 50_000


EXACT_DISTINCT_ROWS = 200_000  # above this, numeric columns are profiled without a full sort


FINE_BINS = 1 << 14  # bins of the one pass that finds quantiles and histogram counts unsorted


# the binning pass works in slices of this many values: its temporaries stay in the cache
# (and in the heap: column-long ones are handed back to the kernel when freed and cost page
# faults and zeroing again next time)
_SLICE = 1 << 15


_POSITIVE = ("1", "true", "yes", "y", "positive", "pos", "fraud", "churn", "t")


@dataclass(frozen=True)
class ProfileSettings:
    """What the profiler needs to know from workbench.yaml (all optional)."""

    target: str | None = None
    task: str = "classification"
    time_column: str | None = None
    id_columns: tuple[str, ...] = ()
    sensitive_columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    leakage_sample: int = LEAKAGE_SAMPLE
    now: datetime | None = None


@dataclass(frozen=True)
class Histogram:
    """A column's distribution for a plot: equal-width bins or the top categories."""

    kind: str  # "bins" or "categories"
    counts: tuple[int, ...]
    edges: tuple[float, ...] = ()  # bins only: len(counts) + 1 edges
    labels: tuple[str, ...] = ()  # categories: one per count; bins: readable edges
    other: int = 0  # categories only: rows in the categories left out
    missing: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ColumnStats:
    """One column of one source: what it holds and what the check thinks of it."""

    name: str
    kind: str  # numeric | integer | boolean | categorical | datetime | empty
    dtype: str
    count: int
    missing: int
    missing_share: float
    distinct: int
    distinct_share: float
    constant: bool
    role: str = "feature"  # target | time | id | excluded | feature
    distinct_exact: bool = True
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: tuple[float | str, ...] = ()
    top: tuple[tuple[str, int], ...] = ()
    identifier: str = ""  # why it looks like an identifier ("" = it does not)
    personal_data: str = ""  # what kind of personal data it looks like ("" = none)
    leakage_score: float | None = None
    histogram: Histogram | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["quantiles"] = {f"p{round(q * 100)}": v for q, v in zip(QUANTILES, self.quantiles, strict=False)}
        out["top"] = [{"value": v, "count": c} for v, c in self.top]
        out["histogram"] = self.histogram.to_json() if self.histogram else None
        return out


@dataclass(frozen=True)
class TargetSummary:
    """The target column: coverage, and class balance (classification) or spread (regression)."""

    column: str
    task: str
    count: int
    missing: int
    missing_share: float
    distinct: int
    classes: tuple[tuple[str, int], ...] = ()
    positive_label: str | None = None
    positives: int | None = None
    minority_share: float | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["classes"] = [{"label": v, "count": c} for v, c in self.classes]
        return out


@dataclass(frozen=True)
class TimeSummary:
    """Date range and freshness of the time column."""

    column: str
    start: str | None
    end: str | None
    span_days: float | None
    freshness_days: float | None
    unparsed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceProfile:
    """One source's profile (the per-source row of the report)."""

    name: str
    path: str
    format: str
    files: int
    size_bytes: int
    rows: int
    columns: int
    duplicate_rows: int
    encoding: str
    delimiter: str
    column_stats: tuple[ColumnStats, ...]
    target: TargetSummary | None = None
    time: TimeSummary | None = None
    notes: tuple[str, ...] = ()
    dvc_md5: str = ""
    seconds: float = 0.0

    @property
    def duplicate_share(self) -> float:
        return self.duplicate_rows / self.rows if self.rows else 0.0

    def column(self, name: str) -> ColumnStats:
        """The stats of column ``name`` (KeyError if the source has none)."""
        for col in self.column_stats:
            if col.name == name:
                return col
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "path": self.path, "dvc_md5": self.dvc_md5, "format": self.format,
            "files": self.files, "size_bytes": self.size_bytes, "rows": self.rows,
            "columns": self.columns, "duplicate_rows": self.duplicate_rows,
            "duplicate_share": round(self.duplicate_share, 6), "encoding": self.encoding,
            "delimiter": self.delimiter,
            "target": self.target.to_json() if self.target else None,
            "time": self.time.to_json() if self.time else None,
            "notes": list(self.notes),
            "column_stats": [c.to_json() for c in self.column_stats],
        }


# --- helpers -----------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A JSON-safe float (None for NaN/inf)."""
    if value is None:
        return None
    value = float(value)
    return round(value, 10) if math.isfinite(value) else None


def _iso(seconds: float | None) -> str | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
