"""Drift statistics: compact reference profiles and the tests that compare a batch with them.

A *profile* is what the training run keeps of one column so that a later check never needs
the training data again (it is stored in ``reports/reference.json``, see
:mod:`workbench.reference`):

* numeric (and datetime as seconds, text as its length in characters): count, missing,
  min / max / mean / std, 19 cut points at the 5 %..95 % quantiles with the row count in
  each of the 20 bins they make, the quantiles at 100 mid-point levels (for Wasserstein)
  and a seeded sample of up to 1,000 values (all of them for a small reference: the KS
  test is then exact).
* categorical: the 50 most frequent categories with their counts, the rest as one count.

The tests follow Evidently's data-drift defaults, so the numbers mean what a team that
knows Evidently expects:

===========  ======================  =====================================  ==================
kind         small (<= 1000 rows)    large                                  drifted when
===========  ======================  =====================================  ==================
numeric      Kolmogorov-Smirnov      Wasserstein distance / reference std   p < 0.05 or >= 0.1
categorical  chi-squared (2 x k)     Jensen-Shannon distance (base 2)       p < 0.05 or >= 0.1
===========  ======================  =====================================  ==================

(Evidently decides by the reference's size; the monitor calls a comparison small when the
reference *or* the batch has at most 1,000 rows, see :mod:`workbench.operations.monitoring`.)

PSI is shown beside every test with the usual bands: below 0.1 no change, 0.1-0.25
moderate, 0.25 and above significant. It is information, not the verdict. PSI by itself
has no sample-size correction: two samples of one distribution differ by chance, and over
k bins the PSI of that chance alone is about (k - 1) * (1/n_ref + 1/n_batch), which for a
60-row batch over 20 bins is 0.3 — "significant" on an undrifted held-out sample. So:

* the bins PSI is taken over are the reference's quantile bins (categories, most frequent
  first) merged neighbour by neighbour until each expects at least ``PSI_MIN_EXPECTED``
  rows of the batch (and holds as many of the reference): 20 bins for a large batch, a few
  for a batch of a hundred rows (``psi_bins`` in the result);
* a band is reached only when PSI is beyond its threshold *and* beyond what chance gives
  at these sizes: PSI times n_ref * n_batch / (n_ref + n_batch) is close to a chi-squared
  statistic with (bins - 1) degrees of freedom, so "moderate" needs the 99.9th and
  "significant" the 99.99th percentile of that distribution as well (PSI's tail is heavier
  than chi-squared's on small counts, hence the high levels). For the large batches the
  floors are far below 0.1 / 0.25, so nothing changes there. Measured on 300 seeds of a
  lognormal column: held-out batches of 69-300 rows against references of 275-1000 rows
  are "significant" 0 times in 1,500 (KS: p < 0.05 in 5 %), a shift of one standard
  deviation is "significant" in all of them, half a standard deviation in 75-92 % of the
  batches under 100 rows and in all from 200 rows.

The histograms keep the reference's 20 bins; only PSI uses the merged ones.

Everything here is vectorised numpy on one column at a time: one sort of the column gives
its quantiles (Wasserstein, the bin cut points), its bin counts (``searchsorted`` of the cut
points into the sorted values) and its range, so a check costs about as much as reading the
batch. numpy releases the GIL in these calls, so columns can be compared in threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.drift_columns import Column, categorical_column, numeric_column

# the column readers live in drift_columns; monitoring and reference import them from here
__all__ = ["DEFAULT_THRESHOLDS", "Column", "FeatureDrift", "categorical_column", "categorical_profile",
           "compare_categorical", "compare_numeric", "not_compared", "numeric_column", "numeric_profile", "psi",
           "psi_band", "psi_merged", "psi_noise_floor", "wasserstein_normalised"]

NUMERIC_BINS = 20
QUANTILE_LEVELS = 100  # Wasserstein: quantiles at (i + 0.5) / 100
SAMPLE_SIZE = 1000
TOP_CATEGORIES = 50
OTHER = "(other)"
PSI_EPS = 1e-4
PSI_MIN_EXPECTED = 10  # rows of the batch (and of the reference) every PSI bin must expect
PSI_NOISE_LEVELS = {"moderate": 0.999, "significant": 0.9999}  # chance floors of the two bands
SIGNIFICANT_DIGITS = 10

#: Defaults for ``monitoring:`` in workbench.yaml (documented in monitoring.py).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "small_reference_rows": 1000,
    "p_value": 0.05,
    "wasserstein": 0.1,
    "jensen_shannon": 0.1,
    "psi_moderate": 0.1,
    "psi_significant": 0.25,
}


def _round(x: float) -> float | None:
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def _rounded(values: Any) -> list[float]:
    return [float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values.tolist()]


# --- sorted-array helpers (one sort gives quantiles, bin counts, min and max) --------------


def _sorted_finite(values: Any) -> Any:
    import numpy as np

    # np.sort puts NaN last; slicing off -inf/+inf/NaN afterwards avoids a masked copy.
    # numpy releases the GIL while sorting, so columns sort in parallel threads.
    ordered = np.sort(np.asarray(values, dtype="float64"))
    lo = int(np.searchsorted(ordered, -np.inf, side="right"))
    hi = int(np.searchsorted(ordered, np.inf, side="left"))
    return ordered[lo:hi]


def _quantiles(sorted_values: Any, levels: Any) -> Any:
    """``np.quantile(..., method="linear")`` on already sorted values, without partitioning again."""
    import numpy as np

    n = sorted_values.size
    pos = np.asarray(levels, dtype="float64") * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def _bin_counts(sorted_values: Any, cuts: Any) -> Any:
    """Counts per bin: bin k holds cuts[k-1] <= v < cuts[k] (open-ended first and last bins)."""
    import numpy as np

    below = np.searchsorted(sorted_values, cuts, side="left")
    return np.diff(np.concatenate([[0], below, [sorted_values.size]])).astype(np.int64)


# --- profiles ----------------------------------------------------------------------------


def numeric_profile(values: Any, *, seed: int, sample_size: int = SAMPLE_SIZE) -> dict[str, Any]:
    """The reference profile of a numeric column (``values``: float64, NaN for missing)."""
    import numpy as np

    values = np.asarray(values, dtype="float64")
    finite = _sorted_finite(values)
    n = int(finite.size)
    out: dict[str, Any] = {"kind": "numeric", "count": n, "missing": int(values.size - n)}
    if n == 0:
        out.update({"min": None, "max": None, "mean": None, "std": None, "cuts": [], "counts": [0],
                    "quantiles": [], "sample": []})
        return out
    mid = (np.arange(QUANTILE_LEVELS) + 0.5) / QUANTILE_LEVELS
    bin_levels = np.arange(1, NUMERIC_BINS) / NUMERIC_BINS
    q = _quantiles(finite, np.concatenate([bin_levels, mid]))
    cuts = np.unique(np.asarray(_rounded(q[: NUMERIC_BINS - 1])))
    counts = _bin_counts(finite, cuts)
    if n <= sample_size:
        sample = finite
    else:
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(finite, size=sample_size, replace=False))
    out.update({
        "min": _round(finite[0]), "max": _round(finite[-1]), "mean": _round(finite.mean()),
        "std": _round(finite.std()),
        "cuts": _rounded(cuts), "counts": counts.astype(int).tolist(),
        "quantiles": _rounded(q[NUMERIC_BINS - 1:]), "sample": _rounded(sample),
    })
    return out


def categorical_profile(counts: dict[str, int], missing: int, *, top: int = TOP_CATEGORIES) -> dict[str, Any]:
    """The reference profile of a categorical column from its category counts."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ordered[:top]
    return {
        "kind": "categorical", "count": int(sum(counts.values())), "missing": int(missing),
        "distinct": len(counts), "categories": [[k, int(v)] for k, v in kept],
        "other": int(sum(v for _, v in ordered[top:])),
    }


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDrift:
    """One column's comparison: the test, its verdict, PSI beside it, and what to plot."""

    name: str
    kind: str  # numeric | categorical | datetime | text | prediction
    method: str  # ks | wasserstein | chi_squared | jensen_shannon | none
    statistic: float | None
    threshold: float | None
    p_value: float | None
    drifted: bool | None  # None: not compared (missing, retyped, no values)
    psi: float | None
    psi_band: str | None  # none | moderate | significant
    reference_rows: int
    current_rows: int
    reference_missing_share: float | None
    current_missing_share: float | None
    notes: tuple[str, ...] = ()
    psi_bins: int | None = None  # the bins PSI was taken over (merged for small batches)
    #: numeric: {"edges": [...], "reference": [shares], "current": [shares]};
    #: categorical: {"categories": [...], "reference": [shares], "current": [shares]}
    histogram: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> float:
        """How far past its threshold the test is (1.0 = at the threshold); for sorting."""
        if self.statistic is None or self.threshold is None:
            return -1.0
        if self.p_value is not None:
            return float(min(self.threshold / max(self.p_value, 1e-300), 1e6))
        return float(self.statistic / self.threshold) if self.threshold else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "method": self.method,
            "statistic": _round(self.statistic) if self.statistic is not None else None,
            "threshold": self.threshold,
            "p_value": _round(self.p_value) if self.p_value is not None else None,
            "drifted": self.drifted, "severity": _round(self.severity),
            "psi": _round(self.psi) if self.psi is not None else None, "psi_band": self.psi_band,
            "psi_bins": self.psi_bins,
            "reference_rows": self.reference_rows, "current_rows": self.current_rows,
            "reference_missing_share": self.reference_missing_share,
            "current_missing_share": self.current_missing_share,
            "notes": list(self.notes), "histogram": self.histogram,
        }


def not_compared(name: str, kind: str, reason: str, *, reference: dict[str, Any] | None = None,
                 current_rows: int = 0) -> FeatureDrift:
    """A column that cannot be compared (missing from the batch, retyped, empty)."""
    ref_rows = int((reference or {}).get("count") or 0)
    return FeatureDrift(name=name, kind=kind, method="none", statistic=None, threshold=None,
                        p_value=None, drifted=None, psi=None, psi_band=None, reference_rows=ref_rows,
                        current_rows=current_rows, reference_missing_share=_missing_share(reference),
                        current_missing_share=None, notes=(reason,))


def _missing_share(profile: dict[str, Any] | None) -> float | None:
    if not profile:
        return None
    total = int(profile.get("count") or 0) + int(profile.get("missing") or 0)
    return round(int(profile.get("missing") or 0) / total, 6) if total else None


def psi(reference_counts: Any, current_counts: Any) -> float:
    """Population stability index of two count vectors over the same bins."""
    import numpy as np

    r = np.asarray(reference_counts, dtype="float64")
    c = np.asarray(current_counts, dtype="float64")
    if r.sum() <= 0 or c.sum() <= 0:
        return float("nan")
    r = np.maximum(r / r.sum(), PSI_EPS)
    c = np.maximum(c / c.sum(), PSI_EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_band(value: float | None, thresholds: dict[str, float] = DEFAULT_THRESHOLDS, *,
             bins: int | None = None, reference_rows: int = 0, current_rows: int = 0) -> str | None:
    """``none`` below 0.1, ``moderate`` below 0.25, else ``significant``.

    Given the ``bins`` and both sizes, each band also needs PSI beyond what chance alone
    gives for those sizes (:func:`psi_noise_floor`; see the module docstring).
    """
    if value is None or math.isnan(value):
        return None
    moderate = thresholds.get("psi_moderate", 0.1)
    significant = thresholds.get("psi_significant", 0.25)
    if bins and reference_rows and current_rows:
        moderate = max(moderate, psi_noise_floor(bins, reference_rows, current_rows, "moderate"))
        significant = max(significant, psi_noise_floor(bins, reference_rows, current_rows, "significant"))
    if value < moderate:
        return "none"
    return "moderate" if value < significant else "significant"


def psi_noise_floor(bins: int, reference_rows: int, current_rows: int, band: str) -> float:
    """The PSI two samples of one distribution exceed by chance only at the band's level."""
    from scipy.stats import chi2

    if bins < 2 or reference_rows <= 0 or current_rows <= 0:
        return 0.0
    n_eff = reference_rows * current_rows / (reference_rows + current_rows)
    return float(chi2.ppf(PSI_NOISE_LEVELS[band], bins - 1) / n_eff)


def psi_merged(reference_counts: Any, current_counts: Any, *, ordered: bool = True,
               min_expected: float | None = None) -> tuple[float, int]:
    """PSI over bins merged until each expects ``min_expected`` batch rows; (psi, bins).

    ``ordered`` bins (numeric quantile bins) merge with their neighbours; categories are
    put in the reference's order of frequency first, so the rare ones merge together, and a
    bucket the reference never had (a new category) stays a bin of its own: it is drift,
    not noise.
    Half a row is added to every merged bin of both sides (instead of clipping empty bins
    at ``PSI_EPS``, whose logarithm makes one empty bin of a small batch look like drift).
    Returns (nan, 1) when the batch is too small for two such bins.
    """
    import numpy as np

    min_expected = PSI_MIN_EXPECTED if min_expected is None else min_expected
    r = np.asarray(reference_counts, dtype="float64")
    c = np.asarray(current_counts, dtype="float64")
    n_r, n_c = float(r.sum()), float(c.sum())
    if n_r <= 0 or n_c <= 0:
        return float("nan"), 0
    new_r: list[float] = []
    new_c: list[float] = []
    if not ordered:
        unseen = (r == 0) & (c > 0)
        new_c = c[unseen].tolist()
        new_r = [0.0] * len(new_c)
        r, c = r[~unseen], c[~unseen]
        order = np.argsort(-r, kind="stable")
        r, c = r[order], c[order]
    need_share = max(min_expected / n_c, min_expected / n_r)
    groups_r: list[float] = []
    groups_c: list[float] = []
    acc_r = acc_c = 0.0
    for vr, vc in zip(r.tolist(), c.tolist(), strict=True):
        acc_r += vr
        acc_c += vc
        if acc_r / n_r >= need_share:
            groups_r.append(acc_r)
            groups_c.append(acc_c)
            acc_r = acc_c = 0.0
    if acc_r or acc_c:
        if groups_r:
            groups_r[-1] += acc_r
            groups_c[-1] += acc_c
        else:
            groups_r.append(acc_r)
            groups_c.append(acc_c)
    groups_r += new_r
    groups_c += new_c
    if len(groups_r) < 2:
        return float("nan"), 1
    return psi(np.asarray(groups_r) + 0.5, np.asarray(groups_c) + 0.5), len(groups_r)


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


def _shares(counts: Any) -> list[float]:
    total = float(sum(counts))
    return [round(float(v) / total, 6) if total else 0.0 for v in counts]


def wasserstein_normalised(reference: dict[str, Any], current: Any) -> float:
    """Wasserstein-1 distance between the reference and ``current`` (finite values, sorted),
    divided by the reference's standard deviation.

    Uses the quantile form W1 = integral over u of |Q_ref(u) - Q_cur(u)| at the 100 mid-point
    levels the reference keeps; on smooth data this is within a few percent of
    ``scipy.stats.wasserstein_distance`` (a test checks it), and needs only the batch sorted.
    """
    import numpy as np

    ref_q = np.asarray(reference["quantiles"], dtype="float64")
    mid = (np.arange(QUANTILE_LEVELS) + 0.5) / QUANTILE_LEVELS
    cur_q = _quantiles(current, mid)
    distance = float(np.mean(np.abs(ref_q - cur_q)))
    std = float(reference.get("std") or 0.0)
    if std <= 0:
        return 0.0 if distance == 0 else float("inf")
    return distance / std


def compare_numeric(name: str, reference: dict[str, Any], current: Any, *, kind: str = "numeric",
                    small: bool, thresholds: dict[str, float] = DEFAULT_THRESHOLDS,
                    notes: tuple[str, ...] = ()) -> FeatureDrift:
    """Compare a batch column (float64, NaN for missing) with a numeric reference profile."""
    import numpy as np

    current = np.asarray(current, dtype="float64")
    finite = _sorted_finite(current)
    n = int(finite.size)
    cur_missing = round(1 - n / current.size, 6) if current.size else None
    ref_n = int(reference.get("count") or 0)
    if n == 0 or ref_n == 0:
        why = (f"{name} has no values in the batch" if n == 0 else f"{name} had no values in the reference")
        base = not_compared(name, kind, why, reference=reference, current_rows=0)
        return replace(base, current_missing_share=cur_missing, notes=(*notes, why))
    cuts = np.asarray(reference["cuts"], dtype="float64")
    cur_counts = _bin_counts(finite, cuts)
    ref_counts = np.asarray(reference["counts"], dtype="float64")
    value_psi, psi_bins = psi_merged(ref_counts, cur_counts)
    p_value: float | None
    if small:
        from scipy.stats import ks_2samp

        result = ks_2samp(np.asarray(reference["sample"], dtype="float64"), finite)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        threshold = float(thresholds["p_value"])
        drifted = p_value < threshold
        method = "ks"
    else:
        statistic = wasserstein_normalised(reference, finite)
        p_value = None
        threshold = float(thresholds["wasserstein"])
        drifted = statistic >= threshold
        method = "wasserstein"
    lo = min(float(reference.get("min") or 0.0), float(finite[0]))
    hi = max(float(reference.get("max") or 0.0), float(finite[-1]))
    edges = [_round(lo), *reference["cuts"], _round(hi)]
    return FeatureDrift(
        name=name, kind=kind, method=method, statistic=statistic, threshold=threshold, p_value=p_value,
        drifted=bool(drifted), psi=_finite(value_psi),
        psi_band=psi_band(value_psi, thresholds, bins=psi_bins, reference_rows=ref_n, current_rows=n),
        reference_rows=ref_n, current_rows=n, reference_missing_share=_missing_share(reference),
        current_missing_share=cur_missing, notes=notes, psi_bins=psi_bins,
        histogram={"edges": edges, "reference": _shares(ref_counts), "current": _shares(cur_counts)},
    )


def compare_categorical(name: str, reference: dict[str, Any], current_counts: dict[str, int],
                        current_missing: int, *, kind: str = "categorical", small: bool,
                        thresholds: dict[str, float] = DEFAULT_THRESHOLDS,
                        notes: tuple[str, ...] = ()) -> FeatureDrift:
    """Compare a batch column's category counts with a categorical reference profile.

    Categories outside the reference's top list fall into one "(other)" bucket; categories
    the reference never saw are named in a note.
    """
    import numpy as np

    n = int(sum(current_counts.values()))
    total = n + int(current_missing)
    cur_missing = round(current_missing / total, 6) if total else None
    ref_n = int(reference.get("count") or 0)
    if n == 0 or ref_n == 0:
        why = (f"{name} has no values in the batch" if n == 0 else f"{name} had no values in the reference")
        base = not_compared(name, kind, why, reference=reference)
        return replace(base, current_missing_share=cur_missing, notes=(*notes, why))
    names = [str(c) for c, _ in reference["categories"]]
    known = set(names)
    ref_counts = [int(v) for _, v in reference["categories"]] + [int(reference.get("other") or 0)]
    cur = [int(current_counts.get(c, 0)) for c in names]
    cur.append(n - sum(cur))
    labels = [*names, OTHER]
    unseen = sorted((c for c in current_counts if c not in known), key=lambda c: -current_counts[c])
    if unseen and int(reference.get("distinct") or 0) <= len(names):
        shown = ", ".join(repr(c) for c in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
        notes = (*notes, f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} the reference never "
                         f"saw: {shown}")
    keep = [i for i in range(len(labels)) if ref_counts[i] or cur[i]]
    r = np.asarray([ref_counts[i] for i in keep], dtype="float64")
    c = np.asarray([cur[i] for i in keep], dtype="float64")
    value_psi, psi_bins = psi_merged(r, c, ordered=False)
    p_value: float | None
    if small:
        if len(keep) < 2:
            statistic, p_value = 0.0, 1.0
        else:
            from scipy.stats import chi2_contingency

            result = chi2_contingency(np.vstack([r, c]), correction=False)
            statistic, p_value = float(result.statistic), float(result.pvalue)
        threshold = float(thresholds["p_value"])
        drifted = p_value < threshold
        method = "chi_squared"
    else:
        from scipy.spatial.distance import jensenshannon

        statistic = float(jensenshannon(r / r.sum(), c / c.sum(), base=2))
        statistic = 0.0 if math.isnan(statistic) else statistic
        p_value = None
        threshold = float(thresholds["jensen_shannon"])
        drifted = statistic >= threshold
        method = "jensen_shannon"
    return FeatureDrift(
        name=name, kind=kind, method=method, statistic=statistic, threshold=threshold, p_value=p_value,
        drifted=bool(drifted), psi=_finite(value_psi),
        psi_band=psi_band(value_psi, thresholds, bins=psi_bins, reference_rows=ref_n, current_rows=n),
        reference_rows=ref_n, current_rows=n, reference_missing_share=_missing_share(reference),
        current_missing_share=cur_missing, notes=notes, psi_bins=psi_bins,
        histogram={"categories": [labels[i] for i in keep], "reference": _shares(r), "current": _shares(c)},
    )
