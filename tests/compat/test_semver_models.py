"""Semantic versions seen from the unchanged mlflow client: ``models:/name/latest`` loads the
highest released semantic version (not the highest number) and ``models:/name/1.0.0`` loads
that version."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import numpy as np
import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")
import mlflow

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    import mlflow.pyfunc
    import mlflow.sklearn


def log_classifier(inverted: bool) -> tuple[str, Any]:
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    features = np.random.default_rng(3).normal(size=(20, 2))
    target = (features[:, 0] > 0).astype(int)
    if inverted:
        target = 1 - target
    model = LogisticRegression().fit(features, target)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model")
    return str(info.model_id), model.predict(features)


def test_latest_follows_semantic_versions(tracking_uri: str, unique: str) -> None:
    features = np.random.default_rng(3).normal(size=(20, 2))
    mlflow.set_experiment(unique)
    newer_id, newer_predictions = log_classifier(inverted=False)
    older_id, older_predictions = log_classifier(inverted=True)
    mlflow.MlflowClient().create_registered_model(unique)

    def register(model_id: str, semver: str) -> int:
        response = httpx.post(
            f"{tracking_uri}/api/v1/registered-models/{unique}/versions",
            json={"source": f"models:/{model_id}", "model_id": model_id, "semver": semver},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["model_version"]["version"])

    # Version 1 is 2.0.0; version 2, registered later, is a fix of the 1.x line.
    assert register(newer_id, "2.0.0") == 1
    assert register(older_id, "1.0.1") == 2
    register(older_id, "3.0.0-rc.1")  # a pre-release is not "latest"

    def predictions(uri: str) -> Any:
        return mlflow.pyfunc.load_model(uri).predict(features)

    assert (predictions(f"models:/{unique}/latest") == newer_predictions).all()
    assert (predictions(f"models:/{unique}/1.0.1") == older_predictions).all()
    assert (predictions(f"models:/{unique}/2") == older_predictions).all()
    latest = mlflow.MlflowClient().get_model_version_by_alias(unique, "latest")
    assert latest.version == "1"
