"""Issue 14, items 1, 2, 3, 5, 9: the data check and the pipeline on data that looks like a team's.

Three small public-style datasets are built here (no downloads): a 344-row penguins-like
classification set (3 species, numeric measurements and categorical island / sex, all with
missing values), a 442-row diabetes-like regression set and a 178-row wine-like 3-class set.
Everything runs on real git + DVC projects through the real CLI.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import IDENTITY, git, run_cli, run_tool, session_cache

# --- datasets ------------------------------------------------------------------------------


def penguins(seed: int = 0, n: int = 344) -> pd.DataFrame:
    """344 rows like Palmer penguins: 152 Adelie, 124 Gentoo, 68 Chinstrap, gaps in every column."""
    rng = np.random.default_rng(seed)
    counts = {"Adelie": 152 * n // 344, "Gentoo": 124 * n // 344}
    counts["Chinstrap"] = n - sum(counts.values())
    species = np.array([s for s, k in counts.items() for _ in range(k)])
    rng.shuffle(species)
    means = {"Adelie": (38.8, 18.3, 190.0, 3700.0), "Gentoo": (47.5, 15.0, 217.0, 5076.0),
             "Chinstrap": (48.8, 18.4, 196.0, 3733.0)}
    spread = (3.0, 1.2, 8.0, 500.0)
    cols = {name: np.array([rng.normal(means[s][i], spread[i] * 1.4) for s in species]).round(1)
            for i, name in enumerate(("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"))}
    islands = {"Adelie": (["Biscoe", "Dream", "Torgersen"], [0.3, 0.37, 0.33]),
               "Gentoo": (["Biscoe", "Dream"], [0.8, 0.2]), "Chinstrap": (["Dream", "Biscoe"], [0.8, 0.2])}
    island = np.array([rng.choice(islands[s][0], p=islands[s][1]) for s in species], dtype=object)
    sex = rng.choice(np.array(["male", "female"], dtype=object), n)
    frame = pd.DataFrame({"species": species, "island": island, **cols, "sex": sex})
    for col, k in (("bill_length_mm", 2), ("bill_depth_mm", 2), ("flipper_length_mm", 2), ("body_mass_g", 2),
                   ("sex", 11), ("island", 4)):
        frame.loc[rng.choice(n, k, replace=False), col] = None
    return frame


def diabetes(seed: int = 0, n: int = 442) -> pd.DataFrame:
    """442 rows like the diabetes regression set: 10 standardised measurements and a target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.05, (n, 10))
    cols = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    frame = pd.DataFrame(x.round(5), columns=cols)
    frame["sex"] = np.where(rng.random(n) < 0.5, -0.0446, 0.0507)
    frame["target"] = (152 + 900 * frame["bmi"] + 500 * frame["bp"] + 600 * frame["s5"]
                       + rng.normal(0, 55, n)).round(0)
    return frame


def wine(seed: int = 0, n: int = 178) -> pd.DataFrame:
    """178 rows like the wine set: 13 measurements, classes 0/1/2 with 59/71/48 rows."""
    rng = np.random.default_rng(seed)
    counts = (59 * n // 178, 71 * n // 178)
    labels = np.array([0] * counts[0] + [1] * counts[1] + [2] * (n - sum(counts)))
    rng.shuffle(labels)
    names = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
             "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280", "proline"]
    frame = pd.DataFrame({name: (rng.normal(0, 1, n) + 0.9 * (labels - 1) * ((i % 3) - 1)
                                 + 10 + i).round(3) for i, name in enumerate(names)})
    frame["class"] = labels
    return frame


def _make_project(tmp_path: Path, name: str, task: str, metric: str) -> Path:
    from workbench.new_project import create_project
    from workbench.project import Charter, TeamMember

    charter = Charter(name=name, problem="A team's question.", business_owner="Dana Ortiz",
                      success_metric=metric, task=task,
                      team=(TeamMember("Dana Ortiz", "dana@example.com", "business_owner"),
                            TeamMember(*IDENTITY, "data_scientist")))
    return create_project(tmp_path / name, charter).path


def with_data(tmp_path: Path, kind: str, frame: pd.DataFrame | None = None) -> Path:
    """A new project (charter task to match) with the dataset added as its one source.

    With the kind's own frame (``frame=None``) the project is made once per worker and copied
    into ``tmp_path`` with its CSV; as with conftest's ``make_sample``, the copy's DVC remote is
    the template's storage folder (content-addressed, so sharing it is safe).
    """
    if frame is None:
        built = session_cache("data gates projects")
        if kind not in built:
            base = Path(tempfile.mkdtemp(prefix=f"data-gates-{kind}-", dir=tmp_path.parent))
            built[kind] = _with_data(base, kind, {"penguins": penguins, "diabetes": diabetes, "wine": wine}[kind]())
        shutil.copy2(built[kind].parent / f"{kind}.csv", tmp_path / f"{kind}.csv")
        shutil.copytree(built[kind], tmp_path / kind, symlinks=True)
        return tmp_path / kind
    return _with_data(tmp_path, kind, frame)


def _with_data(tmp_path: Path, kind: str, frame: pd.DataFrame) -> Path:
    task, metric = {"penguins": ("classification", "f1 >= 0.7"), "wine": ("classification", "f1 >= 0.7"),
                    "diabetes": ("regression", "rmse <= 70")}[kind]
    path = _make_project(tmp_path, kind, task, metric)
    csv = tmp_path / f"{kind}.csv"
    frame.to_csv(csv, index=False)
    done = run_cli("data", "add", str(csv), "--name", kind, "-C", str(path))
    assert done.returncode == 0, done.stderr
    return path


TARGETS = {"penguins": "species", "diabetes": "target", "wine": "class"}


def _head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def _files(path: Path, rev: str = "HEAD") -> set[str]:
    return {p for p in git(path, "show", "--name-only", "--format=", "-z", rev).split("\0") if p}


def _config(path: Path) -> dict:
    return yaml.safe_load((path / "workbench.yaml").read_text(encoding="utf-8"))


def _refused(path: Path, done, *words: str) -> None:
    """Exit 2, one line on stderr holding ``words``, nothing written or committed."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in done.stderr


# --- item 3 (and 2): small clean data is GO with warnings that explain the risk -------------------


@pytest.mark.parametrize("kind", ["penguins", "diabetes", "wine"])
def test_small_clean_data_is_go_with_a_warning_and_the_target_is_saved(tmp_path, kind):
    path = with_data(tmp_path, kind)
    target = TARGETS[kind]
    assert not (_config(path).get("data") or {}).get("target")
    done = run_cli("data", "check", "--target", target, "--json", "-q", "-C", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "GO" and report["reasons"] == []
    rows_warning = [w for w in report["warnings"] if "fewer than min_rows 1000" in w]
    assert rows_warning and "rows per feature" in rows_warning[0], report["warnings"]
    if kind != "diabetes":
        assert "rows per class: " in rows_warning[0], rows_warning
    if kind == "wine":  # its smallest class has 48 rows < min_positives 50
        small = [w for w in report["warnings"] if "fewer than min_positives" in w]
        assert small and "rows per class" in small[0], report["warnings"]
    assert report["thresholds"]["min_rows"] == 1000  # the report says what it was judged by
    # item 2: the target given is saved in workbench.yaml, in the report's own commit
    assert _config(path)["data"]["target"] == target
    assert {"workbench.yaml", "reports/data_check.json", "reports/data_check.md"} <= _files(path)
    assert "Workbench-Step: data_availability" in git(path, "log", "-1", "--format=%B")
    assert git(path, "status", "--porcelain").strip() == ""
    # so the plain 'data check' that 'retrain' prints next judges the same column
    saved = git(path, "rev-parse", "HEAD:workbench.yaml")
    again = run_cli("data", "check", "--json", "-q", "-C", str(path))
    assert again.returncode == 0, again.stdout
    assert json.loads(again.stdout)["target"] == target
    # nothing new to save: workbench.yaml as it was (a check within the same second as the
    # first writes the same report and rightly makes no commit, so HEAD alone proves nothing)
    assert git(path, "rev-parse", "HEAD:workbench.yaml") == saved
    assert git(path, "status", "--porcelain").strip() == ""


def test_blockers_stay_blockers_on_small_data(tmp_path):
    # missing labels
    frame = penguins()
    frame.loc[frame.index[:30], "species"] = None
    path = with_data(tmp_path / "a", "penguins", frame)
    done = run_cli("data", "check", "--target", "species", "--json", "-q", "-C", str(path))
    assert done.returncode == 1, done.stdout
    assert any("missing in 30 rows" in r for r in json.loads(done.stdout)["reasons"])
    # a leaking column
    frame = penguins()
    frame["tag_colour"] = frame["species"].map({"Adelie": "red", "Gentoo": "blue", "Chinstrap": "green"})
    path = with_data(tmp_path / "b", "penguins", frame)
    done = run_cli("data", "check", "--target", "species", "--json", "-q", "-C", str(path))
    assert done.returncode == 1
    assert [s["column"] for s in json.loads(done.stdout)["leakage_suspects"]] == ["tag_colour"]
    # a single class is unusable input: exit 2, nothing written, target not saved
    frame = penguins()
    frame["species"] = "Adelie"
    path = with_data(tmp_path / "c", "penguins", frame)
    head = _head(path)
    done = run_cli("data", "check", "--target", "species", "-q", "-C", str(path))
    _refused(path, done, "same value (Adelie)")
    assert _head(path) == head and not (_config(path).get("data") or {}).get("target")


def test_thresholds_command_commits_one_step_and_the_report_records_them(tmp_path):
    path = with_data(tmp_path, "penguins")
    before = _head(path)
    done = run_cli("data", "thresholds", "min_rows=300", "min_positives=20", "-C", str(path))
    assert done.returncode == 0, done.stderr
    assert git(path, "rev-parse", "HEAD~1").strip() == before
    assert _files(path) == {"workbench.yaml"}
    message = git(path, "log", "-1", "--format=%B")
    assert message.startswith("Data availability: thresholds min_rows=300, min_positives=20")
    assert "min_rows 1000 -> 300" in message and "Workbench-Step: data_availability" in message
    thresholds = _config(path)["data"]["thresholds"]
    assert thresholds["min_rows"] == 300 and thresholds["min_positives"] == 20
    assert thresholds["leakage_score"] == 0.98  # the others are kept
    shown = run_cli("data", "thresholds", "--json", "-C", str(path))
    assert json.loads(shown.stdout)["thresholds"]["min_rows"] == 300
    done = run_cli("data", "check", "--target", "species", "--json", "-q", "-C", str(path))
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["thresholds"]["min_rows"] == 300
    assert not any("min_rows" in w for w in report["warnings"])  # 344 >= 300: no size warning
    assert "Thresholds: min_rows 300" in git(path, "log", "-1", "--format=%B")
    assert "| min_rows | 300 |" in (path / "reports" / "data_check.md").read_text(encoding="utf-8")


BAD_THRESHOLDS = [
    (["min_rows=abc"], ("min_rows='abc' is not a number",)),
    (["min_row=300"], ("threshold 'min_row' is not known", "did you mean 'min_rows'")),
    (["min_rows=1.5"], ("must be a whole number",)),
    (["leakage_score=2"], ("out of range", "between 0.5 and 1")),
    (["max_missing_share=-0.1"], ("out of range",)),
    (["min_rows"], ("is not KEY=VALUE",)),
    (["min_rows=300", "bogus=1"], ("'bogus' is not known",)),
]


def test_bad_thresholds_are_one_line_exit_2_nothing_written(tmp_path):
    path = with_data(tmp_path, "penguins")
    head, text = _head(path), (path / "workbench.yaml").read_bytes()
    for args, words in BAD_THRESHOLDS:
        done = run_cli("data", "thresholds", *args, "-C", str(path))
        _refused(path, done, *words)
        assert _head(path) == head and (path / "workbench.yaml").read_bytes() == text


# --- item 5: a wrong target name ---------------------------------------------------------------


def test_wrong_target_name_says_did_you_mean_and_lists_the_right_column(tmp_path):
    path = with_data(tmp_path, "diabetes")
    head = _head(path)
    done = run_cli("data", "check", "--target", "Target", "-q", "-C", str(path))
    _refused(path, done, "'Target'", "did you mean 'target'?", "s5, s6, target")
    done = run_cli("data", "check", "--target", "traget", "-q", "-C", str(path))
    _refused(path, done, "did you mean 'target'?")
    done = run_cli("pipeline", "--target", "Target", "-C", str(path))
    _refused(path, done, "target 'Target' is not a column", "did you mean 'target'?", "s6, target")
    assert _head(path) == head and not (path / "params.yaml").exists()
    # a wide table: the closest columns are listed, not the first few
    frame = diabetes()
    for i in range(40):
        frame[f"extra_{i:02d}"] = 0.0
    wide = with_data(tmp_path / "wide", "diabetes", frame)
    done = run_cli("data", "check", "--target", "targt", "-q", "-C", str(wide))
    _refused(wide, done, "did you mean 'target'?", "51 columns, the closest:")


# --- items 1 and 9: findings never become features quietly; choices are said ----------------------


def test_fraud_sample_flagged_columns_are_not_default_features(make_sample):
    path = make_sample("fraud_detection")
    assert run_cli("data", "check", "-q", "-C", str(path)).returncode == 1  # NO-GO: a leaky column
    done = run_cli("pipeline", "--json", "-C", str(path))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    features = out["params"]["features"]
    for col in ("customer_email", "chargeback_flag", "customer_id", "transaction_id", "is_fraud"):
        assert col not in features, col
    assert "amount" in features and "flagged_features" not in out["params"]
    choices = "\n".join(out["choices"])
    assert "left out chargeback_flag: a leakage suspect of the data check" in choices
    assert "left out customer_email: personal data (email" in choices
    assert "positive class: 1 of the labels 0/1" in choices
    assert "split: stratified" in choices
    body = git(path, "log", "-1", "--format=%B")
    assert "Choices:" in body and "left out customer_email" in body

    # naming one explicitly is refused without the flag: one line, nothing written
    head, params = _head(path), (path / "params.yaml").read_bytes()
    done = run_cli("pipeline", "--features", "amount,customer_email", "-C", str(path))
    _refused(path, done, "feature 'customer_email' is personal data", "--allow-flagged customer_email")
    assert _head(path) == head and (path / "params.yaml").read_bytes() == params
    done = run_cli("pipeline", "--features", "amount,hour", "--allow-flagged", "channel", "-C", str(path))
    _refused(path, done, "'channel' is not flagged")
    # with the flag it is used, and recorded in params.yaml and the commit
    done = run_cli("pipeline", "--features", "amount,hour,chargeback_flag", "--allow-flagged", "chargeback_flag",
                   "-C", str(path))
    assert done.returncode == 0, done.stderr
    assert "feature chargeback_flag is a leakage suspect" in done.stdout
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert params["flagged_features"] == {"chargeback_flag": "a leakage suspect of the data check"}
    assert "--allow-flagged chargeback_flag was given" in git(path, "log", "-1", "--format=%B")
    # leakage is about one target: for another target the check must be run again, and says so;
    # personal data stays out whatever the target
    done = run_cli("pipeline", "--target", "card_present", "-C", str(path))
    assert done.returncode == 0, done.stderr
    assert "the last data check judged target 'is_fraud', not 'card_present'" in done.stderr
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert "chargeback_flag" in params["features"] and "customer_email" not in params["features"]


def test_exclude_and_include_are_versioned_steps_the_check_and_pipeline_agree(make_sample):
    path = make_sample("fraud_detection")
    before = _head(path)
    done = run_cli("data", "exclude", "chargeback_flag", "--reason", "set by the bank after the fact",
                   "-C", str(path))
    assert done.returncode == 0, done.stderr
    assert git(path, "rev-parse", "HEAD~1").strip() == before and _files(path) == {"workbench.yaml"}
    body = git(path, "log", "-1", "--format=%B")
    assert body.startswith("Data availability: exclude chargeback_flag: set by the bank after the fact")
    assert "Reason: set by the bank after the fact" in body
    assert _config(path)["data"]["exclude_columns"] == ["chargeback_flag"]
    # the data check does not judge it (GO now) and records what it left out
    done = run_cli("data", "check", "--json", "-q", "-C", str(path))
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    assert report["exclude_columns"] == ["chargeback_flag"] and report["leakage_suspects"] == []
    # a column only the team excludes (no finding) is left out by both
    assert run_cli("data", "exclude", "hour", "-C", str(path)).returncode == 0
    done = run_cli("data", "check", "--json", "-q", "-C", str(path))
    cols = {c["name"]: c for c in json.loads(done.stdout)["sources"][0]["column_stats"]}
    assert cols["hour"]["role"] == "excluded"
    done = run_cli("pipeline", "--json", "-C", str(path))
    features = json.loads(done.stdout)["params"]["features"]
    assert "hour" not in features and "chargeback_flag" not in features and "customer_email" not in features
    assert any("left out hour: excluded in workbench.yaml" in c for c in json.loads(done.stdout)["choices"])
    # include it again: one commit; the pipeline says the data check is now stale
    done = run_cli("data", "include", "hour", "-C", str(path))
    assert done.returncode == 0 and _files(path) == {"workbench.yaml"}
    assert _config(path)["data"]["exclude_columns"] == ["chargeback_flag"]
    done = run_cli("pipeline", "-C", str(path))
    assert "run 'mlops-workbench data check' again" in done.stderr
    # bad input: one line, nothing written
    head = _head(path)
    _refused(path, run_cli("data", "exclude", "Hour_", "-C", str(path)), "did you mean 'hour'?")
    _refused(path, run_cli("data", "include", "amount", "-C", str(path)), "'amount' is not excluded")
    _refused(path, run_cli("data", "exclude", "is_fraud", "-C", str(path)), "is the target")
    assert _head(path) == head


def test_pipeline_target_is_saved_in_the_same_commit(tmp_path):
    path = with_data(tmp_path, "wine")
    done = run_cli("pipeline", "--target", "class", "-C", str(path))
    assert done.returncode == 0, done.stderr
    assert _files(path) == {"params.yaml", "dvc.yaml", "workbench.yaml"}
    assert _config(path)["data"]["target"] == "class"
    assert "target class saved as data.target" in done.stdout


def test_multiclass_has_no_positive_class_and_macro_weighted_metrics(tmp_path):
    frame = penguins()
    rng = np.random.default_rng(3)
    frame["observer_email"] = [f"obs{rng.integers(0, 90)}@antarctica.example.org" for _ in range(len(frame))]
    path = with_data(tmp_path, "penguins", frame)
    assert run_cli("data", "check", "--target", "species", "-q", "-C", str(path)).returncode == 0
    done = run_cli("pipeline", "-C", str(path))
    assert done.returncode == 0, done.stderr
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert params["positive_class"] is None  # not the minority class, quietly
    assert "observer_email" not in params["features"] and "island" in params["features"]
    assert "3 classes (Adelie, Chinstrap, Gentoo): no positive class" in done.stdout
    assert "macro averages" in done.stdout
    body = git(path, "log", "-1", "--format=%B")
    assert "no positive class" in body and "left out observer_email: personal data" in body
    # use the personal column on purpose: trained, and the model card says so
    done = run_cli("pipeline", "--allow-flagged", "observer_email", "-C", str(path))
    assert done.returncode == 0, done.stderr
    params = yaml.safe_load((path / "params.yaml").read_text())
    assert "observer_email" in params["features"] and "observer_email" in params["flagged_features"]
    run_tool(path, "dvc", "repro", "-q")
    metrics = json.loads((path / "metrics.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "precision_macro", "recall_macro", "f1_macro",
                "precision_weighted", "recall_weighted", "f1_weighted", "roc_auc", "log_loss"):
        assert key in metrics, key
    assert metrics["f1"] == metrics["f1_macro"]
    # the charter can name the multiclass averages, and the success gate judges them from metrics.json
    done = run_cli("charter", "set", "--metric", "f1_weighted >= 0.5 and recall_macro >= 0.4", "-C", str(path))
    assert done.returncode == 0, done.stderr
    from workbench.development.validation.gates import _success_gate
    from workbench.development.validation.settings import metric_direction
    from workbench.project import Project

    gate = _success_gate(Project(path).read_config(), metrics)
    assert gate.passed is True and gate.value == {"f1_weighted": metrics["f1_weighted"],
                                                  "recall_macro": metrics["recall_macro"]}
    done = run_cli("charter", "set", "--metric", "f1_weighted >= 1.01", "-C", str(path))
    assert done.returncode == 0, done.stderr
    gate = _success_gate(Project(path).read_config(), metrics)
    assert gate.passed is False and "f1_weighted" in gate.why and "misses the target" in gate.why
    assert metric_direction("f1_weighted") == metric_direction("recall_macro") == "higher"
    from workbench.development.model_card import build_card

    card, _kept = build_card(path)
    assert "Flagged feature used on purpose (--allow-flagged): `observer_email`, personal data" in card
