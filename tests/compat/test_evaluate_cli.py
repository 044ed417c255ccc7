"""``modelyard evaluate`` end to end: scikit-learn models logged and registered with the
official mlflow client, then the real command run as a CI job would run it, against a real
server (SQLite and PostgreSQL).

Versions of the model registered once per server:
  1  a LogisticRegression logged with a signature (x1, x2, x3)     @production
  2  a DummyClassifier that always predicts the majority class     @bad
  3  a LogisticRegression logged without a signature               @candidate
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import ServerProcess

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")

from mlflow import MlflowClient

MODEL = "churn"
TRAINING_SCRIPT = """
import json, sys
import mlflow
import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

name, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(42)
frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["x1", "x2", "x3"])
frame["label"] = (frame.x1 + 0.5 * frame.x2 + rng.normal(scale=0.4, size=400) > 0).astype(int)
train, test = frame.iloc[:300], frame.iloc[300:].reset_index(drop=True)
features = ["x1", "x2", "x3"]
models = [
    LogisticRegression().fit(train[features], train.label),
    DummyClassifier(strategy="most_frequent").fit(train[features], train.label),
    LogisticRegression(C=0.05).fit(train[features], train.label),
]
mlflow.set_experiment("training")
predictions = {}
for number, model in enumerate(models, start=1):
    with mlflow.start_run():
        example = {"input_example": train[features].head(3)} if number == 1 else {}
        mlflow.sklearn.log_model(model, name="model", registered_model_name=name, **example)
    predictions[str(number)] = model.predict(test[features]).tolist()
client = mlflow.MlflowClient()
client.set_registered_model_alias(name, "production", "1")
client.set_registered_model_alias(name, "bad", "2")
client.set_registered_model_alias(name, "candidate", "3")
test.to_parquet(f"{out}/test.parquet")
test.to_csv(f"{out}/test.csv", index=False)
test.drop(columns=["x2"]).to_parquet(f"{out}/no_x2.parquet")
with open(f"{out}/expected.json", "w") as handle:
    json.dump({"truth": test.label.tolist(), "predictions": predictions}, handle)
"""


@dataclass(frozen=True)
class Registered:
    """The registered model, its test data, and each version's predictions on it."""

    server: ServerProcess
    directory: Path
    truth: list[int]
    predictions: dict[str, list[int]]

    @property
    def parquet(self) -> Path:
        return self.directory / "test.parquet"

    @property
    def csv(self) -> Path:
        return self.directory / "test.csv"

    def f1(self, version: str) -> float:
        """F1 of the positive class, by counting."""
        pairs = list(zip(self.truth, self.predictions[version], strict=True))
        tp = sum(t == 1 and p == 1 for t, p in pairs)
        fp = sum(t == 0 and p == 1 for t, p in pairs)
        fn = sum(t == 1 and p == 0 for t, p in pairs)
        return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)

    def accuracy(self, version: str) -> float:
        pairs = zip(self.truth, self.predictions[version], strict=True)
        return sum(t == p for t, p in pairs) / len(self.truth)


@pytest.fixture(scope="module")
def registered(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    directory = tmp_path_factory.mktemp("evaluate")
    script = directory / "train.py"
    script.write_text(TRAINING_SCRIPT)
    trained = subprocess.run(
        [sys.executable, str(script), MODEL, str(directory)],
        cwd=directory,
        env=_environment(server, directory),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    expected = json.loads((directory / "expected.json").read_text())
    return Registered(server, directory, expected["truth"], expected["predictions"])


def _environment(server: ServerProcess, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "COLUMNS": "200",
    }


def evaluate(
    registered: Registered, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``modelyard evaluate ARGS`` in ``tmp_path``, as a CI job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "modelyard", "evaluate", *args],
        cwd=tmp_path,
        env=_environment(registered.server, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )


def junit(report_dir: Path) -> ET.Element:
    return ET.parse(report_dir / "junit.xml").getroot()


def run_id_of(report_dir: Path) -> str:
    found = {p.get("name"): p.get("value") for p in junit(report_dir).iter("property")}
    return str(found["run_id"])


def set_alias(alias: str, version: str) -> None:
    MlflowClient().set_registered_model_alias(MODEL, alias, version)


def alias_version(alias: str) -> str:
    return str(MlflowClient().get_model_version_by_alias(MODEL, alias).version)


def gate_args(*gates: str) -> list[str]:
    return [part for gate in gates for part in ("--gate", gate)]


PASSING = ("accuracy >= 0.8", "f1 >= baseline.f1 - 0.01", "roc_auc > 0.5")


def test_passing_gates_promote_the_candidate_and_record_the_run(
    registered: Registered, tmp_path: Path, tracking_uri: str
) -> None:
    set_alias("staging", "1")
    result = evaluate(
        registered,
        tmp_path,
        "--model",
        f"models:/{MODEL}@candidate",
        "--data",
        str(registered.parquet),
        "--target",
        "label",
        "--baseline",
        f"models:/{MODEL}@production",
        *gate_args(*PASSING),
        "--promote",
        "staging",
    )
    assert result.returncode == 0, result.stderr
    assert alias_version("staging") == "3"
    assert "@staging now points at models:/churn/3" in result.stdout

    reports = tmp_path / "evaluation-reports"
    root = junit(reports)
    assert (root.get("tests"), root.get("failures")) == ("3", "0")
    assert [c.get("name") for c in root.iter("testcase")] == list(PASSING)
    assert list(root.iter("failure")) == []

    metrics = dict(line.split(" ") for line in (reports / "metrics.txt").read_text().splitlines())
    assert set(metrics) == {
        *(f"{prefix}{name}" for prefix in ("", "baseline_") for name in NAMES),
    }
    assert float(metrics["accuracy"]) == pytest.approx(registered.accuracy("3"), abs=1e-6)
    assert float(metrics["baseline_f1"]) == pytest.approx(registered.f1("1"), abs=1e-6)

    summary = (reports / "summary.md").read_text()
    assert summary.startswith(
        "### Evaluation of `models:/churn@candidate` (version 3): ✅ passed 3 of 3 gates"
    )
    assert "Baseline `models:/churn@production` (version 1)." in summary
    assert "| metric | candidate | baseline | delta |" in summary
    assert "| ✅ | `f1 >= baseline.f1 - 0.01` |" in summary
    assert "Version 3 is promoted to `@staging`." in summary

    run = MlflowClient().get_run(run_id_of(reports))
    assert run.info.status == "FINISHED"
    assert run.data.metrics["accuracy"] == pytest.approx(registered.accuracy("3"))
    assert run.data.metrics["f1"] == pytest.approx(registered.f1("3"))
    assert run.data.metrics["baseline_accuracy"] == pytest.approx(registered.accuracy("1"))
    assert {"roc_auc", "log_loss", "baseline_roc_auc"} <= set(run.data.metrics)
    assert run.data.params == {
        "model_uri": "models:/churn@candidate",
        "model_version": "3",
        "baseline_uri": "models:/churn@production",
        "baseline_version": "1",
        "data": str(registered.parquet.resolve()),
        "task": "classification",
        "target": "label",
        "rows": "100",
    }
    tags = run.data.tags
    assert tags["modelyard.evaluation.model_name"] == MODEL
    assert tags["modelyard.evaluation.model_version"] == "3"
    assert tags["modelyard.evaluation.passed"] == "true"
    assert tags["modelyard.evaluation.promoted_alias"] == "staging"
    experiment = MlflowClient().get_experiment(run.info.experiment_id)
    assert experiment.name == "evaluations"
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "test.parquet"
    assert json.loads(dataset_input.dataset.source) == {"uri": str(registered.parquet.resolve())}
    assert {(t.key, t.value) for t in dataset_input.tags} == {("mlflow.data.context", "evaluation")}
    assert f"digest `{dataset_input.dataset.digest}`" in summary
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert artifacts == {"junit.xml", "metrics.txt", "summary.md"}


NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")


def test_a_failing_gate_exits_1_names_it_and_leaves_the_alias(
    registered: Registered, tmp_path: Path, tracking_uri: str
) -> None:
    set_alias("staging", "1")
    result = evaluate(
        registered,
        tmp_path,
        "--model",
        f"models:/{MODEL}@bad",
        "--data",
        str(registered.csv),
        "--target",
        "label",
        "--baseline",
        f"models:/{MODEL}@production",
        *gate_args("accuracy >= 0.4", "f1 >= baseline.f1 - 0.01"),
        "--promote",
        "staging",
        "--report-dir",
        "out",
        "--experiment",
        "gates",
    )
    assert result.returncode == 1, result.stderr
    threshold = registered.f1("1") - 0.01
    assert (
        'Error: 1 of 2 gates failed: "f1 >= baseline.f1 - 0.01" '
        f"(f1 = 0.0000, needs >= {threshold:.4f} (baseline.f1 - 0.01))"
    ) in result.stderr
    assert alias_version("staging") == "1"
    assert "@staging was not moved: a gate failed." in result.stdout

    root = junit(tmp_path / "out")
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    (failure,) = root.iter("failure")
    assert failure.get("message") == (f"f1 = 0.0000, needs >= {threshold:.4f} (baseline.f1 - 0.01)")
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "❌ failed 1 of 2 gates" in summary
    assert "| ❌ | `f1 >= baseline.f1 - 0.01` | 0.0000 |" in summary
    assert "`@staging` was not moved." in summary

    run = MlflowClient().get_run(run_id_of(tmp_path / "out"))
    assert run.data.tags["modelyard.evaluation.passed"] == "false"
    assert "modelyard.evaluation.promoted_alias" not in run.data.tags
    assert MlflowClient().get_experiment(run.info.experiment_id).name == "gates"
    assert run.inputs.dataset_inputs[0].dataset.name == "test.csv"


def test_a_baseline_gate_compares_with_the_version_the_alias_names(
    registered: Registered, tmp_path: Path, tracking_uri: str
) -> None:
    """The same candidate and gate pass against the dummy and fail against the good model."""
    arguments = [
        "--model",
        f"models:/{MODEL}/1",
        "--data",
        str(registered.parquet),
        "--target",
        "label",
        "--baseline",
        f"models:/{MODEL}@production",
        "--gate",
        "f1 >= baseline.f1 + 0.05",
    ]
    set_alias("production", "2")
    try:
        against_dummy = evaluate(registered, tmp_path, *arguments, "--report-dir", "dummy")
    finally:
        set_alias("production", "1")
    assert against_dummy.returncode == 0, against_dummy.stderr
    (case,) = junit(tmp_path / "dummy").iter("testcase")
    assert case.find("failure") is None

    against_itself = evaluate(registered, tmp_path, *arguments, "--report-dir", "self")
    assert against_itself.returncode == 1, against_itself.stderr
    f1 = registered.f1("1")
    assert f"f1 = {f1:.4f}, needs >= {f1 + 0.05:.4f} (baseline.f1 + 0.05)" in (
        against_itself.stderr
    )
    properties = {p.get("name"): p.get("value") for p in junit(tmp_path / "self").iter("property")}
    assert properties["baseline_version"] == "1"


def test_a_missing_target_or_input_column_is_named(registered: Registered, tmp_path: Path) -> None:
    result = evaluate(
        registered,
        tmp_path,
        "--model",
        f"models:/{MODEL}@production",
        "--data",
        str(registered.parquet),
        "--target",
        "churned",
        "--gate",
        "accuracy >= 0.5",
    )
    assert result.returncode == 2, result.stderr
    assert 'test.parquet has no target column "churned"; its columns are: x1, x2, x3, label.' in (
        result.stderr
    )
    assert not (tmp_path / "evaluation-reports").exists()

    # Version 1 has a signature that asks for x2.
    result = evaluate(
        registered,
        tmp_path,
        "--model",
        f"models:/{MODEL}@production",
        "--data",
        str(registered.directory / "no_x2.parquet"),
        "--target",
        "label",
    )
    assert result.returncode == 2, result.stderr
    assert "no_x2.parquet lacks 1 column(s) that models:/churn@production takes as input: x2." in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        (["accuracy >= 0.9", "f1 >> 0.5"], 'Gate "f1 >> 0.5": expected a number or baseline'),
        (["accuracy => 0.9"], 'unexpected character "=" at column 10'),
        (["f1 >= baseline.f1"], "no baseline model was given: add --baseline"),
        (["mae <= 3"], 'there is no metric "mae" in a classification evaluation'),
    ],
)
def test_a_bad_gate_exits_2_with_what_to_fix(
    registered: Registered, tmp_path: Path, gates: Sequence[str], message: str
) -> None:
    result = evaluate(
        registered,
        tmp_path,
        "--model",
        f"models:/{MODEL}@candidate",
        "--data",
        str(registered.parquet),
        "--target",
        "label",
        *gate_args(*gates),
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/no-such-model@candidate", "Registered Model with name=no-such-model not found"),
        ("models:/churn/99", "Model Version (name=churn, version=99) not found"),
        ("models:/churn@nobody", "nobody"),
        ("runs:/abc/model", '"runs:/abc/model" is not a models:/ URI'),
    ],
)
def test_an_unknown_model_exits_2(
    registered: Registered, tmp_path: Path, uri: str, message: str
) -> None:
    result = evaluate(
        registered,
        tmp_path,
        "--model",
        uri,
        "--data",
        str(registered.parquet),
        "--target",
        "label",
        "--gate",
        "accuracy >= 0.5",
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_evaluation_is_recorded_on_the_version_and_in_its_lineage(
    registered: Registered, tmp_path: Path
) -> None:
    """Needs the server's ``/api/v1/.../versions/{version}/evaluations`` endpoint."""
    from modelyard.client import Client

    result = evaluate(
        registered,
        tmp_path,
        "--model",
        f"models:/{MODEL}@candidate",
        "--data",
        str(registered.parquet),
        "--target",
        "label",
        "--baseline",
        f"models:/{MODEL}/1",
        *gate_args("accuracy >= 0.8", "f1 >= baseline.f1 - 0.01"),
    )
    assert result.returncode == 0, result.stderr
    assert "does not record evaluations" not in result.stderr
    run_id = run_id_of(tmp_path / "evaluation-reports")
    with Client(registered.server.url) as client:
        evaluation = client.evaluations(MODEL, "3")[0]
        lineage = client.lineage(f"models:/{MODEL}/3")
    assert evaluation["run_id"] == run_id
    assert evaluation["model_name"] == MODEL and evaluation["version"] == "3"
    assert evaluation["passed"] is True
    assert evaluation["metrics"]["accuracy"] == pytest.approx(registered.accuracy("3"))
    assert evaluation["baseline"]["version"] == "1"
    assert evaluation["baseline"]["model_uri"] == f"models:/{MODEL}/1"
    assert evaluation["baseline"]["metrics"]["f1"] == pytest.approx(registered.f1("1"))
    assert [(g["expression"], g["passed"]) for g in evaluation["gates"]] == [
        ("accuracy >= 0.8", True),
        ("f1 >= baseline.f1 - 0.01", True),
    ]
    assert evaluation["gates"][1]["threshold"] == pytest.approx(registered.f1("1") - 0.01)
    assert evaluation["dataset"]["name"] == "test.parquet"
    assert evaluation["dataset"]["source"] == str(registered.parquet.resolve())
    assert run_id in json.dumps(lineage["lineage"])
