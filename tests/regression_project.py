"""A regression project made the way a team would: its own CSV, `new`, `data add`, `pipeline`.

A few hundred rows, a numeric target, missing values in a numeric and in a categorical
column, one categorical feature. Built through the real CLI (real git + DVC).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import _isolated_env, configure_identity, run_cli, session_cache


def write_houses(path: Path, rows: int = 300, seed: int = 0) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "size": rng.normal(100, 20, rows).round(1),
        "rooms": rng.integers(1, 6, rows).astype(float),
        "city": rng.choice(["north", "south", "east"], rows),
    })
    frame["price"] = (3 * frame["size"] + 10 * frame["rooms"]
                      + frame["city"].map({"north": 50, "south": 0, "east": 20})
                      + rng.normal(0, 5, rows)).round(2)
    frame.loc[rng.choice(rows, rows // 15, replace=False), "rooms"] = np.nan
    frame.loc[rng.choice(rows, rows // 20, replace=False), "city"] = None
    frame.to_csv(path, index=False)
    return path


def make_regression_project(tmp_path: Path) -> Path:
    """new -> data add -> pipeline --target price (ridge): committed, clean, not trained."""
    csv = write_houses(tmp_path / "houses.csv")
    folder = tmp_path / "houses"
    for args, cwd in ((("new", str(folder), "--name", "Houses", "--metric", "r2 >= 0.5",
                        "--task", "regression"), tmp_path),
                      (("data", "add", str(csv)), folder),
                      (("pipeline", "--target", "price"), folder)):
        done = run_cli(*args, cwd=cwd)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder


def copy_regression_project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``make_regression_project(tmp_path)`` makes, made once per worker and copied.

    The template is built by ``make_regression_project`` itself (the real CLI, in its own HOME
    with the same identity); the copy lands at ``tmp_path / "houses"`` beside its
    ``houses.csv``. As with conftest's ``make_sample``, the copy's DVC remote is the template's
    storage folder (content-addressed, so sharing it is safe).
    """
    cache = session_cache("regression project")
    if "houses" not in cache:
        base = tmp_path_factory.mktemp("houses-template")
        configure_identity(base / "home")
        with pytest.MonkeyPatch.context() as mp:
            for key, value in _isolated_env(base / "home").items():
                mp.setenv(key, value)
            cache["houses"] = make_regression_project(base)
    template = cache["houses"]
    shutil.copy2(template.parent / "houses.csv", tmp_path / "houses.csv")
    dest = tmp_path / "houses"
    shutil.copytree(template, dest, symlinks=True)
    return dest
