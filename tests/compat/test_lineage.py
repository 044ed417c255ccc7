"""Lineage end to end: unchanged MLflow training code run inside (simulated) GitLab CI logs a
dataset and a model and registers it; ``modelyard lineage`` then shows the data, the code and the
CI job that made the version, as a tree and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ServerProcess

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

TRAINING_SCRIPT = """
import sys
import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression

name = sys.argv[1]
frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
mlflow.set_experiment("churn-training")
with mlflow.start_run(run_name="nightly") as run:
    dataset = mlflow.data.from_pandas(frame, source="s3://data/churn.parquet", name="churn-train")
    mlflow.log_input(dataset, context="training")
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    info = mlflow.sklearn.log_model(model, name="model")
version = mlflow.register_model(info.model_uri, name)
print(version.version, run.info.run_id, dataset.digest)
"""

GITLAB = {
    "GITLAB_CI": "true",
    "CI_JOB_ID": "4711",
    "CI_JOB_URL": "https://gitlab.example.com/ml/churn/-/jobs/4711",
    "CI_PIPELINE_ID": "815",
    "CI_PIPELINE_URL": "https://gitlab.example.com/ml/churn/-/pipelines/815",
    "CI_PROJECT_PATH": "ml/churn",
    "CI_PROJECT_URL": "https://gitlab.example.com/ml/churn",
    "CI_COMMIT_SHA": "c" * 40,
    "CI_COMMIT_REF_NAME": "feature/better",
    "CI_MERGE_REQUEST_IID": "7",
}


def modelyard(*args: str, server: ServerProcess, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "MODELYARD_TRACKING_URI": server.url,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lineage_of_a_version_trained_in_ci(
    server: ServerProcess, tmp_path: Path, unique: str
) -> None:
    script = tmp_path / "train.py"
    script.write_text(TRAINING_SCRIPT)
    trained = subprocess.run(
        [sys.executable, str(script), unique],
        cwd=tmp_path,  # not a git checkout: CI says which commit it is
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            **GITLAB,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    version, run_id, digest = trained.stdout.split()[-3:]
    assert version == "1"

    as_json = modelyard("lineage", f"models:/{unique}/1", "--json", server=server, home=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    found = json.loads(as_json.stdout)
    lineage = found["lineage"]
    assert found["model_version"]["run_id"] == run_id
    assert lineage["run"]["run_name"] == "nightly"
    assert lineage["experiment"]["name"] == "churn-training"
    assert lineage["datasets"] == [
        {
            "name": "churn-train",
            "digest": digest,
            "source_type": "s3",
            "source": json.dumps({"uri": "s3://data/churn.parquet"}),
            "context": "training",
        }
    ]
    assert lineage["code"]["commit"] == "c" * 40
    assert lineage["code"]["entry_point"].endswith("train.py")
    assert lineage["ci"] == {
        "provider": "gitlab",
        "job_id": "4711",
        "job_url": GITLAB["CI_JOB_URL"],
        "pipeline_id": "815",
        "pipeline_url": GITLAB["CI_PIPELINE_URL"],
        "project": "ml/churn",
        "project_url": GITLAB["CI_PROJECT_URL"],
        "commit": "c" * 40,
        "ref": "feature/better",
        "merge_request": "7",
        "merge_request_url": "https://gitlab.example.com/ml/churn/-/merge_requests/7",
    }
    # Registered from the logged model: the lineage says which one, and where the files are.
    assert lineage["source"]["logged_model_id"].startswith("m-")
    assert lineage["source"]["storage_location"].endswith("/artifacts")

    tree = modelyard("lineage", f"models:/{unique}/latest", server=server, home=tmp_path)
    assert tree.returncode == 0, tree.stderr
    for expected in (
        f"models:/{unique}/1",
        f"Run: nightly ({run_id})",
        "Experiment: churn-training",
        "churn-train [training]",
        f"digest {digest}",
        "CI: gitlab ml/churn",
        GITLAB["CI_JOB_URL"],
        "merge request 7",
    ):
        assert expected in tree.stdout, tree.stdout

    missing = modelyard("lineage", f"models:/{unique}/9", server=server, home=tmp_path)
    assert missing.returncode == 1
    assert f"Model Version (name={unique}, version=9) not found" in missing.stderr
    bad = modelyard("lineage", "runs:/abc/model", server=server, home=tmp_path)
    assert bad.returncode == 1 and "Not a proper models:/ URI" in bad.stderr
