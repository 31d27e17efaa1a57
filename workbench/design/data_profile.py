"""Profile one data source: per-column statistics, duplicates, target, time range, leakage.

This is the heavy part of the data availability check, so it is written for speed and
memory on files of millions of rows (see ``benchmarks/bench_data_check.py``):

* the file is loaded once as an Arrow table (``data_read.read_table``), strings
  dictionary-encoded; columns become numpy arrays one at a time, never a whole DataFrame;
* columns are profiled in a thread pool (numpy and Arrow release the GIL). A numeric
  column of up to 200,000 rows is sorted once and min, max, quantiles, distinct count, top
  values and the histogram all come from the sorted copy. A longer one is not sorted
  (sorting a million numbers costs as much as parsing them): one binning pass gives the
  exact quantiles and histogram, a hash count the distinct values, or, for a float column
  whose sample is nearly all distinct, an estimate (``distinct_exact`` false); columns
  with at most 20 values, and nearly-distinct integers and timestamps, are still sorted
  (timsort when mostly in order, as time columns are). Categorical columns are counted
  from their dictionary codes;
* duplicate rows are counted from a 64-bit hash per row combined column by column, most
  distinct columns first, dropping rows that are already unique as it goes;
* the pattern checks (e-mails, phone numbers, names) look at up to 500 distinct values,
  and leakage is measured on a random sample of at most 50,000 rows (seed 0), in the same
  pool while the duplicates are counted.

Leakage score of a feature (0.5..1 for binary targets, 0..1 otherwise):

* binary target — ROC AUC of the feature on its own (``max(auc, 1 - auc)``); numeric
  values are the score as they are (missing = lowest); categories are scored by their
  positive rate learned on one half of the sample and evaluated on the other half, so an
  identifier that is unique per row cannot look predictive;
* multiclass target — balanced accuracy on one half of a majority-class-per-value mapping
  learned on the other half (numeric features in 20 quantile bins);
* regression target — ``|Spearman rho|`` for numeric features, held-out R² of the
  per-category mean for categorical ones.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import CancelledError

#: ``progress(fraction, message)``: fraction in 0..1 of the whole operation, a short message.
Progress = Callable[[float, str], None]

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

_ID_NAME = re.compile(r"(?i)(^id$|_id$|^id_|uuid|guid|(^|_)key$)")
_PII_NAMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"(?i)(^|_)(e_?mail|mail)(_|$|address)")),
    ("phone number", re.compile(r"(?i)(^|_)(phone|mobile|cell|tel|telephone|fax)(_|$|number)")),
    ("person name", re.compile(
        r"(?i)^((first|last|full|given|family|middle|customer|patient|person|contact|employee|"
        r"user)_?)?name$|^surname$|^(first|last)_?name")),
    ("address", re.compile(r"(?i)(^|_)(address|street|postcode|post_code|zip_?code)(_|$)")),
    ("birth date", re.compile(r"(?i)(^|_)(birth|dob|birthday|date_of_birth)(_|$)")),
    ("national id", re.compile(r"(?i)(^|_)(ssn|passport|iban|national_id|tax_id|social_security)(_|$)")),
    ("ip address", re.compile(r"(?i)(^|_)ip(_address)?$")),
)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-/]{5,}[0-9]$")
_PERSON = re.compile(r"^[A-Z][a-z'’\-]+(?: [A-Z]\.?)?(?: [A-Z][a-z'’\-]+){1,2}$")
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
        out["quantiles"] = {f"p{round(q * 100)}": v for q, v in zip(QUANTILES, self.quantiles)}
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
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class _Col:
    """Working data of one column between the passes (not part of the result)."""

    stats: ColumnStats
    values: Any = None  # float64/int64 numpy array (numeric, boolean, datetime)
    codes: Any = None  # int32 numpy array, -1 = missing (categorical)
    labels: Any = None  # pyarrow array: the dictionary of ``codes``


def _mix(values: Any) -> Any:
    """A 64-bit hash per element (splitmix64's finaliser over the raw bits); NaN-safe."""
    import numpy as np

    h = np.ascontiguousarray(values)
    if h.dtype.itemsize == 8:
        h = h.view(np.uint64).copy()
    else:
        h = h.astype(np.int64).view(np.uint64)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _duplicate_rows(cols: Sequence[_Col], n_rows: int) -> int:
    """Rows that repeat an earlier row: the row count less the distinct rows.

    Rows are told apart by a 64-bit hash of their values, combined column by column, most
    distinct columns first. A row whose hash so far is alone in its bucket (the low bits)
    differs from every other row already, so it is dropped from the candidates before the
    next column is hashed; with one measurement column among them, a million rows are down
    to a few hundred after two or three columns, and only those are counted in a hash table.
    Columns with few values are only combined (no filter) until their value combinations
    could tell the candidates apart.
    """
    import numpy as np
    import pandas as pd

    if n_rows < 2 or not cols:
        return 0
    order = sorted(range(len(cols)), key=lambda i: (-cols[i].stats.distinct, i))
    mult = np.uint64(0x100000001B3)
    rows: Any = None  # candidate row numbers (None: all rows)
    acc: Any = None
    combinations = 1.0
    for i in order:
        col = cols[i]
        data = col.values if col.values is not None else col.codes
        part = _mix(data if rows is None else data[rows])
        if acc is None:
            acc = part
        else:
            acc *= mult
            acc ^= part
        combinations *= max(1, col.stats.distinct + (1 if col.stats.missing else 0))
        if combinations < acc.size / 2:
            continue
        bits = max(10, min(20, int(acc.size).bit_length() + 1))  # 8 MB of counts at most
        bucket = (acc & np.uint64((1 << bits) - 1)).astype(np.intp)
        crowded = np.bincount(bucket, minlength=1 << bits)[bucket] > 1
        del bucket
        if not crowded.all():
            keep = np.flatnonzero(crowded)
            rows = keep if rows is None else rows[keep]
            acc = acc[keep]
            combinations = 1.0
        if acc.size < 2:
            return 0
    return int(acc.size - pd.unique(acc).size)


def _role(name: str, settings: ProfileSettings) -> str:
    if name == settings.target:
        return "target"
    if name == settings.time_column:
        return "time"
    if name in settings.id_columns:
        return "id"
    if name in settings.exclude_columns:
        return "excluded"
    return "feature"


def _sorted_stats(values: Any, n_rows: int, is_datetime: bool) -> dict[str, Any]:
    """Everything numeric from one sort: range, moments, quantiles, distinct, top, histogram.

    Large columns first try :func:`_unsorted_stats`, which gets the same figures without
    the sort when a sample says the sort would be wasted.
    """
    import numpy as np

    if values.size > EXACT_DISTINCT_ROWS:
        fast = _unsorted_stats(values, n_rows, is_datetime)
        if fast is not None:
            return fast
    s = np.sort(values, kind=_sort_kind(values))
    k = int(np.searchsorted(s, np.nan)) if s.dtype.kind == "f" else s.size
    s = s[:k]
    out: dict[str, Any] = {"count": k, "missing": n_rows - k}
    if k == 0:
        out.update(distinct=0, histogram=Histogram("bins", (), missing=n_rows - k))
        return out
    change = np.flatnonzero(s[1:] != s[:-1]) + 1
    distinct = int(change.size) + 1
    lo, hi = float(s[0]), float(s[-1])
    pos = np.asarray(QUANTILES) * (k - 1)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, k - 1)
    frac = pos - low
    qs = s[low] + (s[high].astype(np.float64) - s[low]) * frac
    out.update(distinct=distinct, min=lo, max=hi)
    if is_datetime:
        out.update(min=_iso(lo), max=_iso(hi), quantiles=tuple(_iso(float(q)) for q in qs))
    else:
        mean = float(s.mean(dtype=np.float64))
        std = float(s.std(dtype=np.float64, ddof=1)) if k > 1 else 0.0
        out.update(mean=_num(mean), std=_num(std), quantiles=tuple(_num(q) for q in qs),
                   min=_num(lo), max=_num(hi))
    if distinct <= TOP_VALUES * 2 and not is_datetime:
        starts = np.concatenate(([0], change))
        counts = np.diff(np.concatenate((starts, [k])))
        order = np.argsort(-counts, kind="stable")
        out["top"] = tuple((_label(s[starts[i]].item()), int(counts[i])) for i in order[:TOP_VALUES])
        out["histogram"] = Histogram(
            "categories", tuple(int(counts[i]) for i in order[:TOP_VALUES]),
            labels=tuple(_label(s[starts[i]].item()) for i in order[:TOP_VALUES]),
            other=int(counts[order[TOP_VALUES:]].sum()), missing=n_rows - k)
    else:
        edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1) if hi > lo else np.array([lo, hi])
        idx = np.searchsorted(s, edges, side="left")
        idx[-1] = k
        counts = np.diff(idx)
        labels = tuple(_iso(float(e)) or "" for e in edges) if is_datetime else ()
        out["histogram"] = Histogram("bins", tuple(int(c) for c in counts),
                                     edges=tuple(float(e) for e in edges), labels=labels,
                                     missing=n_rows - k)
    return out


def _sort_kind(values: Any) -> str:
    """``stable`` (timsort: linear on sorted runs) for mostly ordered data, like time columns."""
    import numpy as np

    if values.size < 1000:
        return "quicksort"
    descents = int(np.count_nonzero(values[1:] < values[:-1]))
    return "stable" if descents < values.size // 64 else "quicksort"


def _binned_stats(v: Any, lo: float, hi: float, ranks: Any) -> tuple[Any, Any, Any] | None:
    """``np.sort(v)[ranks]`` and the equal-width histogram of ``v``, from one binning pass.

    Every value goes to one of ``FINE_BINS`` equal-width bins by ``(v - lo) * scale``,
    which never puts a larger value in a lower bin. So the bin counts alone say in which
    bin each wanted rank lies and how many values lie below it, and which values could fall
    on either side of a histogram edge; only the values of those few bins are looked at
    again (sorted, or compared with the edge). The results are exact: the same values as
    a full sort and the same counts as ``np.histogram`` (``edges[j] <= v < edges[j + 1]``,
    the last bin closed). Returns ``(values at ranks, counts, edges)``, or None when the
    range is not finite.
    """
    import numpy as np

    nb = FINE_BINS
    scale = nb / (hi - lo)
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(scale) and scale > 0):
        return None
    k = v.size
    # in slices whose temporaries stay in the cache and in the heap (see _SLICE)
    fine = np.empty(k, dtype=np.int16)
    counts = np.zeros(nb, dtype=np.int64)
    t = np.empty(min(k, _SLICE), dtype=np.float64)
    b = np.empty(min(k, _SLICE), dtype=np.intp)
    for start in range(0, k, _SLICE):
        part = v[start:start + _SLICE]
        m = part.size
        np.subtract(part, lo, out=t[:m])
        t[:m] *= scale
        np.copyto(b[:m], t[:m], casting="unsafe")  # truncates, as astype does
        np.minimum(b[:m], nb - 1, out=b[:m])
        counts += np.bincount(b[:m], minlength=nb)
        fine[start:start + m] = b[:m]
    del t, b
    cum = np.cumsum(counts)
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    inner = edges[1:-1]
    edge_bins = np.minimum(((inner - lo) * scale).astype(np.intp), nb - 1)
    rank_bins = np.searchsorted(cum, ranks, side="right")
    wanted = np.zeros(nb, dtype=bool)
    wanted[rank_bins] = True
    wanted[edge_bins] = True
    pick = np.empty(k, dtype=bool)
    for start in range(0, k, _SLICE):
        np.take(wanted, fine[start:start + _SLICE], out=pick[start:start + _SLICE])
    members = v[pick]
    member_f = members.astype(np.float64, copy=False)
    member_bins = fine[pick]
    del fine, pick

    def below(b: int) -> int:
        return int(cum[b - 1]) if b > 0 else 0

    found = []
    for r, b in zip(ranks, rank_bins):
        in_bin = np.sort(members[member_bins == b])
        found.append(in_bin[int(r) - below(int(b))])
    less = [below(int(b)) + int(np.count_nonzero(member_f[member_bins == b] < e))
            for e, b in zip(inner, edge_bins)]
    counts = np.diff(np.array([0, *less, v.size], dtype=np.int64))
    return np.array(found, dtype=v.dtype), counts, edges


def _unsorted_stats(values: Any, n_rows: int, is_datetime: bool) -> dict[str, Any] | None:
    """The stats of a large column without sorting it, or None when the sort is the better way.

    Sorting a million numbers costs about as much as parsing them, and only the distinct
    count and the top values need the order: quantiles and the histogram come from one
    binning pass (:func:`_binned_stats`), moments from one pass each. The
    distinct count comes from a hash count when a sample shows repeated values. A float
    column whose sample is almost all distinct (a measurement) gets an estimated distinct
    count instead (``distinct_exact`` is false), since hashing a million distinct values
    costs more than the sort; other nearly-distinct columns (integers, timestamps) and
    columns with few distinct values (top values and a category histogram) take the sort.
    The figures are those of the sorted path (quantiles to the last bit).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    is_float = values.dtype.kind == "f"
    rng = np.random.default_rng(0)
    sample = values[rng.integers(0, values.size, 20_000)]
    if is_float:
        sample = sample[~np.isnan(sample)]
    if sample.size < 1000:
        return None
    nearly_distinct = np.unique(sample).size >= 0.9 * sample.size
    if nearly_distinct and (is_datetime or not is_float):
        return None
    nan = np.isnan(values) if is_float else None
    missing = int(nan.sum()) if nan is not None else 0
    v = values[~nan] if missing else values
    k = int(v.size)
    if k < 1000:
        return None
    exact = not nearly_distinct
    if exact:
        # +0.0 folds -0.0 into 0.0, which compare equal in the sorted path too
        distinct = int(pc.count_distinct(pa.array(v + 0.0 if is_float else v)).as_py())
        if distinct <= TOP_VALUES * 2:
            return None
    else:
        distinct = max(1, round(k * np.unique(sample).size / sample.size))
    lo, hi = v.min(), v.max()
    if not hi > lo:
        return None
    lo, hi = float(lo), float(hi)
    pos = np.asarray(QUANTILES) * (k - 1)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, k - 1)
    frac = pos - low
    binned = _binned_stats(v, lo, hi, np.concatenate((low, high)))
    if binned is None:
        return None
    order_stats, counts, edges = binned
    at, after = order_stats[: low.size], order_stats[low.size:]
    qs = at + (after.astype(np.float64) - at) * frac
    out: dict[str, Any] = {"count": k, "missing": missing, "distinct": distinct, "exact": exact}
    if is_datetime:
        out.update(min=_iso(lo), max=_iso(hi), quantiles=tuple(_iso(float(q)) for q in qs))
        labels = tuple(_iso(float(e)) or "" for e in edges)
    else:
        mean = float(v.mean(dtype=np.float64))
        std = float(v.std(dtype=np.float64, ddof=1)) if k > 1 else 0.0
        out.update(min=_num(lo), max=_num(hi), mean=_num(mean), std=_num(std),
                   quantiles=tuple(_num(q) for q in qs))
        labels = ()
    out["histogram"] = Histogram("bins", tuple(int(c) for c in counts),
                                 edges=tuple(float(e) for e in edges), labels=labels, missing=missing)
    return out


def _numeric_column(name: str, chunked: Any, n_rows: int, settings: ProfileSettings) -> _Col:
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = chunked.type
    kind = "numeric"
    is_datetime = False
    if pa.types.is_boolean(typ):
        kind = "boolean"
        chunked = pc.cast(chunked, pa.int8())
    elif pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        kind, is_datetime = "datetime", True
        if pa.types.is_date(typ):
            chunked = pc.cast(chunked, pa.timestamp("s"))
        chunked = pc.cast(pc.cast(chunked, pa.timestamp("s")), pa.int64())
    elif pa.types.is_integer(typ):
        kind = "integer"
    if chunked.null_count and (pa.types.is_integer(chunked.type) or is_datetime):
        values = pc.cast(chunked, pa.float64()).to_numpy()
    else:
        values = chunked.to_numpy()
    st = _sorted_stats(values, n_rows, is_datetime)
    count, missing, distinct = st["count"], st["missing"], st["distinct"]
    identifier = ""
    if name in settings.id_columns:
        identifier = "listed in data.id_columns"
    elif kind == "integer" and distinct == n_rows and n_rows > 1:
        identifier = "unique in every row"
    elif _ID_NAME.search(name) and kind == "integer":
        identifier = "named like an identifier"
    stats = ColumnStats(
        name=name, kind=kind if count else "empty", dtype=str(typ), count=count, missing=missing,
        missing_share=missing / n_rows if n_rows else 0.0, distinct=distinct,
        distinct_share=distinct / count if count else 0.0, constant=distinct <= 1,
        role=_role(name, settings), distinct_exact=st.get("exact", True), min=st.get("min"),
        max=st.get("max"), mean=st.get("mean"),
        std=st.get("std"), quantiles=st.get("quantiles", ()), top=st.get("top", ()),
        identifier=identifier, histogram=st.get("histogram"),
    )
    return _Col(stats=stats, values=values)


def _dictionary(chunked: Any) -> tuple[Any, Any]:
    """(codes as int32 numpy with -1 for missing, dictionary) of a string-like column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(chunked.type):
        if chunked.num_chunks > 1:
            chunked = chunked.unify_dictionaries()
    else:
        chunked = pc.dictionary_encode(chunked)
    if chunked.num_chunks == 0:
        return np.empty(0, dtype=np.int32), pa.array([], pa.string())
    dictionary = chunked.chunk(0).dictionary
    indices = pa.chunked_array([c.indices for c in chunked.chunks])
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    codes = np.ascontiguousarray(indices.to_numpy()).astype(np.int32, copy=False)
    return codes, dictionary


def _personal_by_values(values: list[str], distinct_share: float) -> str:
    values = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not values:
        return ""
    n = len(values)
    if sum(1 for v in values if _EMAIL.match(v)) >= 0.5 * n:
        return "email"
    phones = [v for v in values if _PHONE.match(v) and 7 <= sum(ch.isdigit() for ch in v) <= 15]
    if len(phones) >= 0.8 * n and any(not v.isdigit() or v[0] in "0+" for v in phones):
        return "phone number"
    if sum(1 for v in values if _PERSON.match(v)) >= 0.8 * n and distinct_share >= 0.2:
        return "person name"
    return ""


def _categorical_column(name: str, chunked: Any, n_rows: int, settings: ProfileSettings) -> _Col:
    import numpy as np

    codes, dictionary = _dictionary(chunked)
    counts = np.bincount(codes + 1, minlength=len(dictionary) + 1)
    missing = int(counts[0])
    counts = counts[1:]
    count = n_rows - missing
    distinct = int(np.count_nonzero(counts))
    if counts.size > 4 * TOP_VALUES:
        top_idx = np.argpartition(-counts, TOP_VALUES)[:TOP_VALUES]
        top_idx = top_idx[np.argsort(-counts[top_idx], kind="stable")]
    else:
        top_idx = np.argsort(-counts, kind="stable")[:TOP_VALUES]
    top_idx = top_idx[counts[top_idx] > 0]
    top_labels = [_label(v) for v in dictionary.take(top_idx.astype(np.int64)).to_pylist()]
    top = tuple(zip(top_labels, (int(c) for c in counts[top_idx])))
    shown = int(counts[top_idx].sum())
    histogram = Histogram("categories", tuple(int(c) for c in counts[top_idx]),
                          labels=tuple(top_labels), other=count - shown, missing=missing)
    distinct_share = distinct / count if count else 0.0
    # pattern checks on a sample of distinct values
    used = np.flatnonzero(counts)
    if used.size > PATTERN_SAMPLE:
        used = np.random.default_rng(0).choice(used, PATTERN_SAMPLE, replace=False)
    sample = [v for v in dictionary.take(used.astype(np.int64)).to_pylist() if v is not None]
    personal = ""
    if name in settings.sensitive_columns:
        personal = "sensitive (listed in data.sensitive_columns)"
    for kind, pattern in _PII_NAMES:
        if not personal and pattern.search(name):
            personal = f"{kind} (by column name)"
    by_values = _personal_by_values([str(v) for v in sample], distinct_share)
    if by_values:
        personal = f"{by_values} (by values)" if not personal or personal.startswith(by_values) \
            else f"{personal}; {by_values} (by values)"
    identifier = ""
    if name in settings.id_columns:
        identifier = "listed in data.id_columns"
    elif distinct == n_rows and n_rows > 1:
        identifier = "unique in every row"
    elif _ID_NAME.search(name) and distinct_share > 0.05:
        identifier = "named like an identifier"
    stats = ColumnStats(
        name=name, kind="categorical" if count else "empty", dtype="string", count=count,
        missing=missing, missing_share=missing / n_rows if n_rows else 0.0, distinct=distinct,
        distinct_share=distinct_share, constant=distinct <= 1, role=_role(name, settings),
        top=top, identifier=identifier, personal_data=personal, histogram=histogram,
    )
    return _Col(stats=stats, codes=codes, labels=dictionary)


def _time_from_text(name: str, chunked: Any, n_rows: int, settings: ProfileSettings) -> _Col | None:
    """Parse a text time column (any format pandas understands); None when most do not parse."""
    import pandas as pd
    import pyarrow as pa

    series = pd.Series(chunked.to_pandas(), copy=False).astype("string")
    parsed = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
    if parsed.notna().sum() < 0.5 * series.notna().sum():
        return None
    arr = pa.chunked_array([pa.array(parsed.dt.tz_localize(None).astype("datetime64[s]"))])
    col = _numeric_column(name, arr, n_rows, settings)
    unparsed = int(series.notna().sum() - parsed.notna().sum())
    # text is read dictionary-encoded; say "string" as for the other text columns
    typ = chunked.type.value_type if pa.types.is_dictionary(chunked.type) else chunked.type
    if unparsed:
        col.stats = _replace(col.stats, dtype=f"{typ} (parsed as dates; {unparsed} did not parse)")
    else:
        col.stats = _replace(col.stats, dtype=f"{typ} (parsed as dates)")
    return col


def _replace(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


def _profile_column(name: str, chunked: Any, n_rows: int, settings: ProfileSettings) -> _Col:
    import pyarrow as pa

    typ = chunked.type
    if (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)
            or pa.types.is_timestamp(typ) or pa.types.is_date(typ)):
        return _numeric_column(name, chunked, n_rows, settings)
    if pa.types.is_decimal(typ):
        return _numeric_column(name, chunked.cast(pa.float64()), n_rows, settings)
    if pa.types.is_null(typ):
        chunked = chunked.cast(pa.string())
    elif pa.types.is_dictionary(typ) and not pa.types.is_string(typ.value_type):
        chunked = chunked.cast(typ.value_type)
        return _profile_column(name, chunked, n_rows, settings)
    elif not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ)):
        chunked = chunked.cast(pa.string())
    if name == settings.time_column:
        parsed = _time_from_text(name, chunked, n_rows, settings)
        if parsed is not None:
            return parsed
    return _categorical_column(name, chunked, n_rows, settings)


# --- target and leakage ----------------------------------------------------------------


def _target(col: _Col, chunked: Any, settings: ProfileSettings) -> tuple[TargetSummary, Any, Any]:
    """Summarise the target; return it with the encoded labels (codes or values) per row."""
    import numpy as np

    s = col.stats
    n = s.count + s.missing
    if settings.task == "regression" and s.kind in ("numeric", "integer", "boolean"):
        summary = TargetSummary(column=s.name, task="regression", count=s.count, missing=s.missing,
                                missing_share=s.missing_share, distinct=s.distinct,
                                min=s.min, max=s.max, mean=s.mean, std=s.std)  # type: ignore[arg-type]
        return summary, None, col.values
    if col.codes is not None:
        codes, labels = col.codes, [_label(v) for v in col.labels.to_pylist()]
    else:
        codes, labels = _dictionary(chunked)
        labels = [_label(v) for v in labels.to_pylist()]
    counts = np.bincount(codes + 1, minlength=len(labels) + 1)[1:]
    present = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    classes = tuple((labels[i], int(counts[i])) for i in present)
    positive_label = positives = minority = None
    if len(classes) >= 2:
        minority = min(c for _, c in classes) / s.count
    if len(classes) == 2:
        pos = [lab for lab, _ in classes if lab.strip().lower() in _POSITIVE]
        positive_label = pos[0] if len(pos) == 1 else min(classes, key=lambda kv: kv[1])[0]
        positives = dict(classes)[positive_label]
    elif len(classes) > 2:
        positives = min(c for _, c in classes)  # the smallest class must carry enough examples
    summary = TargetSummary(column=s.name, task="classification", count=s.count, missing=s.missing,
                            missing_share=s.missing / n if n else 0.0, distinct=len(classes),
                            classes=classes[:50], positive_label=positive_label, positives=positives,
                            minority_share=minority)
    # remap codes so that only present classes count, positive label last for binary
    order = {lab: i for i, (lab, _) in enumerate(sorted(classes, key=lambda kv: kv[0] == positive_label))}
    remap = np.full(len(labels) + 1, -1, dtype=np.int32)
    for i, lab in enumerate(labels):
        if lab in order:
            remap[i + 1] = order[lab]
    return summary, remap[codes + 1], None


def _ranks(x: Any) -> Any:
    import pandas as pd

    return pd.Series(x, copy=False).rank(method="average").to_numpy()


def _auc(score: Any, y: Any) -> float | None:
    """ROC AUC of ``score`` for the 0/1 labels ``y``, ties counted half; max(auc, 1 - auc)."""
    import numpy as np

    n1 = int(y.sum())
    n0 = int(y.size - n1)
    if n1 == 0 or n0 == 0:
        return None
    _, inverse = np.unique(score, return_inverse=True)
    pos = np.bincount(inverse, weights=y, minlength=inverse.max() + 1)
    neg = np.bincount(inverse, minlength=inverse.max() + 1) - pos
    below = np.cumsum(neg) - neg
    auc = float((pos * below).sum() + 0.5 * (pos * neg).sum()) / (n1 * n0)
    return max(auc, 1.0 - auc)


def _feature_codes(col: _Col, idx: Any) -> Any:
    """Feature as small integer codes on the sample (numeric: 20 quantile bins, 0 = missing)."""
    import numpy as np

    if col.codes is not None:
        return col.codes[idx].astype(np.int64) + 1
    x = col.values[idx].astype(np.float64)
    ok = ~np.isnan(x)
    if not ok.any():
        return np.zeros(x.size, dtype=np.int64)
    edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, 21)[1:-1]))
    out = np.searchsorted(edges, x, side="right").astype(np.int64) + 1
    out[~ok] = 0
    return out


def _leakage(col: _Col, idx: Any, y: Any, task: str) -> float | None:
    """The leakage score of one feature on the sample rows ``idx`` (see the module docstring)."""
    import numpy as np

    half_a = np.arange(idx.size) % 2 == 0
    half_b = ~half_a
    if task == "binary":
        if col.values is not None:
            x = col.values[idx].astype(np.float64)
            nan = np.isnan(x)
            if nan.all():
                return None
            if nan.any():
                x[nan] = np.nanmin(x) - 1.0
            return _auc(x, y)
        codes = col.codes[idx].astype(np.int64) + 1
        m = int(codes.max()) + 1
        cnt = np.bincount(codes[half_a], minlength=m)
        pos = np.bincount(codes[half_a], weights=y[half_a], minlength=m)
        base = float(y[half_a].mean()) if half_a.any() else 0.0
        rate = np.where(cnt > 0, pos / np.maximum(cnt, 1), base)
        return _auc(rate[codes[half_b]], y[half_b])
    if task == "multiclass":
        f = _feature_codes(col, idx)
        k = int(y.max()) + 1
        m = int(f.max()) + 1
        joint = np.bincount(f[half_a] * k + y[half_a], minlength=m * k).reshape(m, k)
        majority = int(np.bincount(y[half_a], minlength=k).argmax())
        pred = np.where(joint.sum(axis=1) > 0, joint.argmax(axis=1), majority)
        p, t = pred[f[half_b]], y[half_b]
        recalls = [float((p[t == c] == c).mean()) for c in np.unique(t)]
        return float(np.mean(recalls)) if recalls else None
    # regression
    if col.values is not None:
        x = col.values[idx].astype(np.float64)
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.sum() < 3:
            return None
        rx, ry = _ranks(x[ok]), _ranks(y[ok])
        if rx.std() == 0 or ry.std() == 0:
            return 0.0
        return abs(float(np.corrcoef(rx, ry)[0, 1]))
    codes = col.codes[idx].astype(np.int64) + 1
    ok = ~np.isnan(y)
    a, b = half_a & ok, half_b & ok
    m = int(codes.max()) + 1
    cnt = np.bincount(codes[a], minlength=m)
    total = np.bincount(codes[a], weights=y[a], minlength=m)
    base = float(y[a].mean()) if a.any() else 0.0
    mean = np.where(cnt > 0, total / np.maximum(cnt, 1), base)
    pred, truth = mean[codes[b]], y[b]
    sst = float(((truth - truth.mean()) ** 2).sum())
    if sst == 0:
        return 0.0
    return max(0.0, 1.0 - float(((truth - pred) ** 2).sum()) / sst)


# --- the profiler --------------------------------------------------------------------


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("the data check was cancelled; nothing was written")


def profile_table(
    table: Any,
    *,
    name: str,
    path: str,
    settings: ProfileSettings = ProfileSettings(),
    formats: Sequence[Any] = (),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SourceProfile:
    """Profile an Arrow table (see the module docstring for how)."""
    import time

    started = time.monotonic()
    say = progress or (lambda _f, _m: None)
    n_rows = table.num_rows
    names = table.column_names
    cols: dict[str, _Col] = {}
    done = 0
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="profile") as pool:
        futures = {n: pool.submit(_profile_column, n, table.column(i), n_rows, settings)
                   for i, n in enumerate(names)}
        for n in names:
            try:
                cols[n] = futures[n].result()
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
            done += 1
            if cancel is not None and cancel.is_set():
                for f in futures.values():
                    f.cancel()
                _check_cancel(cancel)
            say(0.8 * done / max(1, len(names)), f"{name}: profiled {done}/{len(names)} columns")

        # duplicates in the pool while this thread summarises the target and hands the
        # leakage checks to the pool as well: no core waits for the slowest of the three
        duplicates = pool.submit(_duplicate_rows, [cols[n] for n in names], n_rows)
        target = None
        if settings.target and settings.target in cols:
            tcol = cols[settings.target]
            target, ycodes, yvalues = _target(tcol, table.column(settings.target), settings)
            _check_cancel(cancel)
            say(0.85, f"{name}: checking single-feature leakage")
            scores = _leakage_scores(cols, target, ycodes, yvalues, settings, n_rows, pool)
            for n, score in scores.items():
                cols[n].stats = _replace(cols[n].stats, leakage_score=round(score, 6))
        duplicate_rows = duplicates.result()
    _check_cancel(cancel)

    time_summary = None
    time_name = settings.time_column
    if time_name and time_name in cols and cols[time_name].stats.kind == "datetime":
        time_summary = _time_summary(cols[time_name].stats, settings)
    first = formats[0] if formats else None
    notes: list[str] = [note for fmt in formats for note in fmt.notes]
    if time_name and time_name in cols and time_summary is None:
        notes.append(f"{name}: time column {time_name!r} does not hold dates that parse")
    say(1.0, f"{name}: profiled {n_rows:,} rows x {len(names)} columns")
    return SourceProfile(
        name=name, path=path, format=first.format if first else "arrow", files=max(1, len(formats)),
        size_bytes=sum(f.size_bytes for f in formats), rows=n_rows, columns=len(names),
        duplicate_rows=duplicate_rows, encoding=first.encoding if first else "utf-8",
        delimiter=first.delimiter if first and first.format != "parquet" else "",
        column_stats=tuple(cols[n].stats for n in names), target=target, time=time_summary,
        notes=tuple(notes), seconds=round(time.monotonic() - started, 3),
    )


def _leakage_scores(cols: dict[str, _Col], target: TargetSummary, ycodes: Any, yvalues: Any,
                    settings: ProfileSettings, n_rows: int, pool: ThreadPoolExecutor) -> dict[str, float]:
    import numpy as np

    if target.task == "regression":
        known = np.flatnonzero(~np.isnan(yvalues.astype(np.float64)))
        task = "regression"
    else:
        known = np.flatnonzero(ycodes >= 0)
        task = "binary" if target.distinct == 2 else "multiclass"
        if target.distinct < 2:
            return {}
    if known.size < 10:
        return {}
    # a random order, so the two halves of the held-out checks do not follow the file's order
    rng = np.random.default_rng(0)
    if known.size > settings.leakage_sample:
        known = rng.choice(known, settings.leakage_sample, replace=False)
    else:
        known = rng.permutation(known)
    y = yvalues[known].astype(np.float64) if task == "regression" else ycodes[known].astype(np.int64)
    todo = [name for name, col in cols.items()
            if col.stats.role not in ("target", "excluded") and col.stats.count and not col.stats.constant]
    scores = list(pool.map(lambda n: _leakage(cols[n], known, y, task), todo))
    return {n: s for n, s in zip(todo, scores) if s is not None and math.isfinite(s)}


def _time_summary(stats: ColumnStats, settings: ProfileSettings) -> TimeSummary:
    now = settings.now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    start = end = None
    span = fresh = None
    if isinstance(stats.min, str) and isinstance(stats.max, str):
        start, end = stats.min, stats.max
        t0 = datetime.fromisoformat(start).replace(tzinfo=timezone.utc)
        t1 = datetime.fromisoformat(end).replace(tzinfo=timezone.utc)
        span = round((t1 - t0).total_seconds() / 86400, 3)
        fresh = round((now - t1).total_seconds() / 86400, 3)
    return TimeSummary(column=stats.name, start=start, end=end, span_days=span, freshness_days=fresh)


def profile_file(
    path: str | Path,
    *,
    name: str | None = None,
    display: str | None = None,
    settings: ProfileSettings = ProfileSettings(),
    options: dict[str, str] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SourceProfile:
    """Validate, load and profile one source (a file or a folder of files)."""
    from workbench.design.data_read import load_source

    path = Path(path)
    display = display or str(path)
    say = progress or (lambda _f, _m: None)
    say(0.0, f"reading {display}")
    table, formats = load_source(path, display, options=options, cancel=cancel)
    _check_cancel(cancel)
    say(0.3, f"read {table.num_rows:,} rows of {display}")

    def inner(fraction: float, message: str) -> None:
        say(0.3 + 0.7 * fraction, message)

    profile = profile_table(table, name=name or path.stem, path=display, settings=settings,
                            formats=formats, progress=inner, cancel=cancel)
    return profile
