"""Build the diagnosis sample data from a real data set.

Writes (relative to this folder):

* ``data/breast_cancer.csv``: the 569 real cases of the Breast Cancer Wisconsin
  (Diagnostic) data set as bundled with scikit-learn
  (``sklearn.datasets.load_breast_cancer``), with snake_case column names.
* ``incoming/breast_cancer_2026_q2.csv``: 250 cases standing in for a later batch from a
  new imaging device (see below).

The 30 measurement columns are real: features computed from digitised images of fine
needle aspirates of breast masses. The label ``diagnosis`` is 1 = malignant, 0 = benign
(note: scikit-learn's own target is the reverse, 0 = malignant); 212 malignant, 357 benign.

Added with ``numpy.random.default_rng(SEED)``, so running ``python generate.py`` twice
writes byte-identical files:

* ``patient_id``: a synthetic identifier (P0001 ...).
* ``age_group``: SYNTHETIC, not part of the real data. It is drawn per row, with malignant
  cases skewed towards older groups, only so that fairness slicing has a sensitive column
  to work with. Do not read anything medical into it.

The real data has no missing values and none are planted in the training file. Its
problems are of another kind: it is small (569 rows), several features are near copies
of each other (radius, perimeter and area), and the sensitive column is synthetic.

The incoming batch is a seeded resample (with replacement) of the real rows, with small
multiplicative noise so no row is an exact copy, and measurement drift as if from a new
imaging device that magnifies slightly: radius and perimeter features read ~6 % higher
(area ~12 %), texture ~10 % higher. The age mix shifts older, and 3-6 % of the symmetry
values are missing (the new device's export sometimes leaves them blank).
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

SEED = 20260104
HERE = Path(__file__).resolve().parent

N_INCOMING = 250
AGE_GROUPS = ["under_40", "40_54", "55_69", "70_plus"]
# P(age_group | diagnosis) -- synthetic.
AGE_P_BENIGN = [0.30, 0.35, 0.25, 0.10]
AGE_P_MALIGNANT = [0.10, 0.30, 0.35, 0.25]
AGE_P_BENIGN_INCOMING = [0.20, 0.32, 0.30, 0.18]
AGE_P_MALIGNANT_INCOMING = [0.06, 0.24, 0.38, 0.32]


def snake(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def age_groups(
    rng: np.random.Generator, diagnosis: np.ndarray, p_benign, p_malignant
) -> np.ndarray:
    out = np.empty(len(diagnosis), dtype=object)
    benign = diagnosis == 0
    out[benign] = rng.choice(AGE_GROUPS, benign.sum(), p=p_benign)
    out[~benign] = rng.choice(AGE_GROUPS, (~benign).sum(), p=p_malignant)
    return out


def decimals(values: pd.Series) -> int:
    """How many decimals the real measurements in a column are reported with."""
    return max(len(repr(float(v)).partition(".")[2].rstrip("0")) for v in values)


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # 6 significant digits reproduce the original values exactly and keep the file small.
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def main() -> None:
    rng = np.random.default_rng(SEED)
    bunch = load_breast_cancer(as_frame=True)
    features = bunch.data.rename(columns=snake)
    diagnosis = (bunch.target.to_numpy() == 0).astype(int)  # 1 = malignant

    train = features.copy()
    train.insert(0, "patient_id", [f"P{i:04d}" for i in range(1, len(train) + 1)])
    train.insert(1, "age_group", age_groups(rng, diagnosis, AGE_P_BENIGN, AGE_P_MALIGNANT))
    train["diagnosis"] = diagnosis

    picks = np.sort(rng.choice(len(features), N_INCOMING, replace=True))
    incoming = features.iloc[picks].reset_index(drop=True)
    incoming = incoming * rng.normal(1.0, 0.02, incoming.shape)  # no exact copies
    for column in incoming.columns:
        if "radius" in column or "perimeter" in column:
            incoming[column] *= 1.06
        elif "area" in column:
            incoming[column] *= 1.06**2
        elif "texture" in column:
            incoming[column] *= 1.10
    incoming = incoming.round({c: decimals(features[c]) for c in features.columns})
    for column in ["mean_symmetry", "worst_symmetry"]:
        incoming.loc[rng.random(N_INCOMING) < 0.03, column] = np.nan
    incoming_diagnosis = diagnosis[picks]
    incoming.insert(0, "patient_id", [f"P{i:04d}" for i in range(1001, 1001 + N_INCOMING)])
    incoming.insert(1, "age_group", age_groups(
        rng, incoming_diagnosis, AGE_P_BENIGN_INCOMING, AGE_P_MALIGNANT_INCOMING))
    incoming["diagnosis"] = incoming_diagnosis

    write(train, HERE / "data" / "breast_cancer.csv")
    write(incoming, HERE / "incoming" / "breast_cancer_2026_q2.csv")


if __name__ == "__main__":
    main()
