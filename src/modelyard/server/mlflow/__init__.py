"""The MLflow-compatible REST API (tracking part)."""

from __future__ import annotations

from modelyard.server.mlflow import (
    artifacts,
    experiments,
    logged_models,
    metrics,
    multipart,
    runs,
)
from modelyard.server.mlflow.routing import Endpoint

ENDPOINTS: list[Endpoint] = [
    *experiments.ENDPOINTS,
    *runs.ENDPOINTS,
    *metrics.ENDPOINTS,
    *artifacts.ENDPOINTS,
    *logged_models.ENDPOINTS,
    *multipart.ENDPOINTS,
]

# Served beside MLflow's endpoints but not part of its API table.
EXTENSIONS: list[Endpoint] = [*multipart.EXTENSIONS]

__all__ = ["ENDPOINTS", "EXTENSIONS"]
