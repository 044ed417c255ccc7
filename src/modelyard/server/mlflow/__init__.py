"""The MLflow-compatible REST API: tracking, artifacts, logged models, the registry and
webhooks."""

from __future__ import annotations

from modelyard.server.mlflow import (
    artifacts,
    experiments,
    logged_models,
    metrics,
    multipart,
    registry,
    runs,
    webhooks,
)
from modelyard.server.mlflow.routing import Endpoint

ENDPOINTS: list[Endpoint] = [
    *experiments.ENDPOINTS,
    *runs.ENDPOINTS,
    *metrics.ENDPOINTS,
    *artifacts.ENDPOINTS,
    *logged_models.ENDPOINTS,
    *multipart.ENDPOINTS,
    *registry.ENDPOINTS,
    *webhooks.ENDPOINTS,
]

# Served beside MLflow's endpoints but not part of its API table.
EXTENSIONS: list[Endpoint] = [*multipart.EXTENSIONS]

__all__ = ["ENDPOINTS", "EXTENSIONS"]
