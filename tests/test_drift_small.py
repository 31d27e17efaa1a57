"""Issue 14, item 15: PSI must not cry wolf on small batches, and still see a shifted one.

The reference is profiled from the train split of a small dataset exactly as the evaluate
stage does (``profile_columns``) and the held-out split is compared with it as
``mlops-workbench monitor`` does (``compare_table``, small: KS / chi-squared). Datasets are the
penguins-, diabetes- and wine-like sets of ``test_data_gates`` at their own sizes (held-out
batches of 35-88 rows) and larger draws of them (batches of 100-300 rows), five seeds each.

Before the fix, PSI over the reference's fixed 20 bins put 118 of these 435 undrifted
comparisons in the "significant" band (and 138 more in "moderate") while KS flagged 25.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tests.test_data_gates import TARGETS, diabetes, penguins, wine

MAKERS = {"penguins": penguins, "diabetes": diabetes, "wine": wine}
OWN_SIZE = {"penguins": 344, "diabetes": 442, "wine": 178}
SEEDS = range(5)
#: the continuous columns a shifted batch moves by one reference standard deviation
SHIFTED = {"penguins": ["bill_length_mm", "flipper_length_mm", "body_mass_g"],
           "diabetes": ["bmi", "bp", "s5"], "wine": ["alcohol", "flavanoids", "proline"]}


def _features(frame, target: str) -> dict[str, str]:
    return {c: ("numeric" if frame[c].dtype.kind in "fi" else "categorical") for c in frame.columns
            if c != target}


def _compare(kind: str, n: int, seed: int, *, shift: bool = False):
    """(rows of the comparison, features) for a held-out fifth of a fresh draw against its train part."""
    from workbench.operations.monitoring import compare_table
    from workbench.reference import profile_columns

    frame = MAKERS[kind](seed, n)
    order = np.random.default_rng(100 + seed).permutation(len(frame))
    k = len(frame) // 5
    test, train = frame.iloc[order[:k]].copy(), frame.iloc[order[k:]]
    if shift:
        for col in SHIFTED[kind]:
            test[col] = test[col] + train[col].std()
        if kind == "penguins":  # and the islands swap: Biscoe's birds now come from Torgersen
            test["island"] = test["island"].map({"Biscoe": "Torgersen", "Dream": "Dream", "Torgersen": "Biscoe"})
    features = _features(frame, TARGETS[kind])
    profiles = profile_columns(pa.Table.from_pandas(train, preserve_index=False), features, seed=0)
    rows, retyped = compare_table(pa.Table.from_pandas(test, preserve_index=False), profiles, small=True)
    assert not retyped
    return rows, features


def test_undrifted_held_out_batches_are_healthy_under_psi():
    compared = flagged = 0
    for kind in MAKERS:
        for n in (OWN_SIZE[kind], 500, 1500):
            for seed in SEEDS:
                rows, features = _compare(kind, n, seed)
                assert {r.name for r in rows} == set(features)
                for r in rows:
                    assert r.psi is not None and r.psi_bins is not None and r.psi_bins >= 2, (kind, n, r)
                    assert r.current_rows <= 300
                    # PSI never says "significant" about a feature the test itself finds steady
                    assert r.psi_band != "significant" or r.drifted, (kind, n, seed, r.name, r.psi, r.psi_bins)
                    compared += 1
                    flagged += r.psi_band != "none"
    # chance alone: the bands need the 99.9th / 99.99th percentile of PSI at these sizes
    assert compared == 435 and flagged <= 0.02 * compared, flagged


@pytest.mark.parametrize("kind", list(MAKERS))
def test_shifted_small_batches_are_flagged_by_psi_and_ks(kind):
    for n in (500, 1000, 1500):  # held-out batches of 100 to 300 rows
        for seed in SEEDS:
            rows, _features_ = _compare(kind, n, seed, shift=True)
            moved = set(SHIFTED[kind]) | ({"island"} if kind == "penguins" else set())
            for r in rows:
                if r.name in moved:
                    assert r.drifted and r.psi_band == "significant", (kind, n, seed, r.name, r.psi, r.psi_bins)
                else:
                    assert r.psi_band != "significant" or r.drifted, (kind, n, seed, r.name, r.psi)
    # at the datasets' own sizes (batches of 35-88 rows) the shift is still seen by KS, and PSI
    # is never quiet about all of the moved columns
    for seed in SEEDS:
        rows, _features_ = _compare(kind, OWN_SIZE[kind], seed, shift=True)
        moved = [r for r in rows if r.name in SHIFTED[kind]]
        assert all(r.drifted for r in moved), [(r.name, r.p_value) for r in moved]
        assert any(r.psi_band != "none" for r in moved), [(r.name, r.psi, r.psi_band) for r in moved]


def test_large_batches_keep_twenty_bins_and_the_usual_bands():
    from workbench.drift import compare_numeric, numeric_profile, psi_band, psi_merged

    rng = np.random.default_rng(11)
    profile = numeric_profile(rng.normal(0, 1, 50_000), seed=0)
    same = compare_numeric("x", profile, rng.normal(0, 1, 20_000), small=False)
    assert same.psi_bins == 20 and same.psi_band == "none"
    moved = compare_numeric("x", profile, rng.normal(0.7, 1, 20_000), small=False)
    assert moved.psi_bins == 20 and moved.psi_band == "significant" and moved.drifted
    # the plain bands are unchanged when no sizes are given
    assert [psi_band(v) for v in (0.05, 0.1, 0.2, 0.25)] == ["none", "moderate", "moderate", "significant"]
    # a batch too small for two bins of ten expected rows gives no PSI rather than a wild one
    value, bins = psi_merged([50] * 20, [1, 0, 2, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0])
    assert bins == 1 and value != value
    # a category the reference never had stays its own bin (drift, not noise to merge away)
    from workbench.drift import categorical_profile, compare_categorical

    cat = categorical_profile({"a": 500, "b": 300, "c": 200}, 0)
    new = compare_categorical("c", cat, {"a": 40, "b": 30, "c": 20, "zz": 30}, 0, small=True)
    assert new.psi_band == "significant" and new.psi_bins == 4
