"""The MLflow-compatible REST API (tracking part)."""

from __future__ import annotations

from modelyard.server.mlflow import experiments, metrics, runs
from modelyard.server.mlflow.routing import Endpoint

ENDPOINTS: list[Endpoint] = [*experiments.ENDPOINTS, *runs.ENDPOINTS, *metrics.ENDPOINTS]

__all__ = ["ENDPOINTS"]
