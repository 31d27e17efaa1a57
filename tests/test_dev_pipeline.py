"""Data engineering: params.yaml + dvc.yaml in one commit, and bad input refused cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import git, run_cli
from workbench.errors import WorkbenchError


def _head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def test_pipeline_writes_params_and_dvc_yaml_in_one_commit(make_sample):
    from workbench.development.pipeline import configure_pipeline

    path = make_sample("diagnosis")
    before = _head(path)
    result = configure_pipeline(path, split={"method": "stratified", "test_size": 0.25, "seed": 7},
                                model={"name": "random_forest", "params": {"n_estimators": 20}})
    assert result.commit and result.commit != before
    assert git(path, "rev-parse", "HEAD~1").strip() == before
    changed = git(path, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == ["dvc.yaml", "params.yaml"]
    message = git(path, "log", "-1", "--format=%B")
    assert message.startswith("Data engineering: predict diagnosis from 30 features")
    assert "Workbench-Step: data_engineering" in message
    assert "Workbench-Role: " in message

    params = yaml.safe_load((path / "params.yaml").read_text())
    assert params["target"] == "diagnosis" and params["task"] == "classification"
    # id and sensitive columns and the target are not features by default
    assert "patient_id" not in params["features"] and "age_group" not in params["features"]
    assert set(params["features"].values()) == {"numeric"}
    assert params["split"] == {"method": "stratified", "test_size": 0.25, "seed": 7, "time_column": None}
    assert params["model"] == {"name": "random_forest", "params": {"n_estimators": 20}}
    assert params["positive_class"] == 1

    dvc = yaml.safe_load((path / "dvc.yaml").read_text())
    stages = dvc["stages"]
    assert list(stages) == ["prepare", "train", "evaluate"]
    assert stages["prepare"]["cmd"] == "mlops-workbench stage prepare"
    assert stages["prepare"]["deps"] == ["data/breast_cancer.csv"]
    assert stages["train"]["deps"] == ["data/prepared/train.parquet"]
    assert "models/model.skops" in stages["evaluate"]["deps"]
    assert stages["evaluate"]["metrics"] == [{"metrics.json": {"cache": False}}]
    plot_files = [next(iter(p)) for p in stages["evaluate"]["plots"]]
    assert plot_files == ["plots/roc.json", "plots/prc.json", "plots/confusion.json",
                          "plots/predictions.json", "plots/importance.json"]
    assert git(path, "status", "--porcelain").strip() == ""


def test_pipeline_cli_with_features_and_overrides(make_sample):
    path = make_sample("diagnosis")
    done = run_cli("pipeline", "--features", "mean_radius,mean_texture:numeric,age_group:categorical",
                   "--split", "random", "--seed", "3", "--model", "logistic_regression",
                   "-S", "model.params.C=0.5", "--json", cwd=path)
    assert done.returncode == 0, done.stderr
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert params["features"] == {"mean_radius": "numeric", "mean_texture": "numeric",
                                  "age_group": "categorical"}
    assert params["model"]["params"]["C"] == 0.5
    assert params["split"]["method"] == "random" and params["split"]["seed"] == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "xgboost"], "model 'xgboost' is not a classification model: use one of dummy,"),
        (["-S", "model.params.CC=1"], "has no hyperparameter 'CC' (did you mean 'C'?): valid ones are"),
        (["-S", "model.params.C=abc"], "The 'C' parameter of LogisticRegression must be a float"),
        (["--features", "mean_radius,no_such_col,other_missing"],
         "feature(s) no_such_col, other_missing not in the data"),
        (["--target", "age_group", "--features", "mean_radius"], None),  # fine: 4 classes
        (["--target", "one_class"], "target 'one_class' has one class"),
        (["--test-size", "1.5"], "test size 1.5 must be a share between 0 and 1"),
    ],
)
def test_pipeline_bad_input_is_one_line_exit_2_nothing_written(make_sample, args, expected):
    path = make_sample("diagnosis")
    if "one_class" in args:
        # a data set whose target has one class, registered as the project's source
        import pandas as pd

        frame = pd.read_csv(path / "data" / "breast_cancer.csv")
        frame["one_class"] = 1
        frame.to_csv(path / "data" / "breast_cancer.csv", index=False)
    before = _head(path)
    status_before = git(path, "status", "--porcelain")
    done = run_cli("pipeline", *args, cwd=path)
    if expected is None:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert expected in lines[0]
    assert _head(path) == before
    assert not (path / "params.yaml").exists() and not (path / "dvc.yaml").exists()
    assert git(path, "status", "--porcelain") == status_before


def test_pipeline_refuses_a_dirty_params_file(make_sample):
    from workbench.development.pipeline import configure_pipeline

    path = make_sample("diagnosis")
    configure_pipeline(path)
    (path / "params.yaml").write_text("# my own edit\n" + (path / "params.yaml").read_text())
    with pytest.raises(WorkbenchError, match="params.yaml"):
        configure_pipeline(path, model={"name": "ridge"})
    assert (path / "params.yaml").read_text().startswith("# my own edit")


def test_feature_type_inference():
    import pandas as pd

    from workbench.development.pipeline import infer_type

    assert infer_type(pd.Series([1.5, 2.0, None])) == "numeric"
    assert infer_type(pd.Series(["a", "b", "a"])) == "categorical"
    assert infer_type(pd.Series([f"2026-01-0{i}" for i in range(1, 9)])) == "datetime"
    texts = [f"the printer on floor {i} will not print anything today" for i in range(20)]
    assert infer_type(pd.Series(texts)) == "text"
