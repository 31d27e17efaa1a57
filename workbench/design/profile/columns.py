"""Per-column statistics: numeric (sorted or binned), categorical, time, personal data."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.design.profile.settings import (
    _SLICE,
    EXACT_DISTINCT_ROWS,
    FINE_BINS,
    HISTOGRAM_BINS,
    PATTERN_SAMPLE,
    QUANTILES,
    TOP_VALUES,
    ColumnStats,
    Histogram,
    ProfileSettings,
    _iso,
    _label,
    _num,
)

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
    s = np.sort(values, kind=_sort_kind(values))  # type: ignore[call-overload]  # a valid kind name
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
    for r, b in zip(ranks, rank_bins, strict=False):
        in_bin = np.sort(members[member_bins == b])
        found.append(in_bin[int(r) - below(int(b))])
    less = [below(int(b)) + int(np.count_nonzero(member_f[member_bins == b] < e))
            for e, b in zip(inner, edge_bins, strict=False)]
    counts = np.diff(np.array([0, *less, v.size], dtype=np.int64))  # type: ignore[assignment]
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
    v = values[~nan] if missing else values  # type: ignore[operator]  # missing > 0 only with nan
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
    top = tuple(zip(top_labels, (int(c) for c in counts[top_idx]), strict=False))
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
