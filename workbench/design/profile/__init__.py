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

from workbench.design.profile.settings import (
    EXACT_DISTINCT_ROWS,
    FINE_BINS,
    HISTOGRAM_BINS,
    LEAKAGE_SAMPLE,
    PATTERN_SAMPLE,
    QUANTILES,
    TOP_VALUES,
    ColumnStats,
    Histogram,
    ProfileSettings,
    SourceProfile,
    TargetSummary,
    TimeSummary,
)
from workbench.design.profile.table import profile_file, profile_table
from workbench.progress import FractionProgress as Progress

__all__ = [
    "Progress",
    "QUANTILES",
    "HISTOGRAM_BINS",
    "TOP_VALUES",
    "PATTERN_SAMPLE",
    "LEAKAGE_SAMPLE",
    "EXACT_DISTINCT_ROWS",
    "FINE_BINS",
    "ProfileSettings",
    "Histogram",
    "ColumnStats",
    "TargetSummary",
    "TimeSummary",
    "SourceProfile",
    "profile_table",
    "profile_file",
]
