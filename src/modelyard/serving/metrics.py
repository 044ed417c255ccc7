"""Prometheus metrics of the inference server, per model version and protocol.

With several worker processes, prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
set by the parent before the workers start) sums them on every scrape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


@dataclass(frozen=True)
class ServingMetrics:
    requests: Counter
    latency: Histogram
    rows: Histogram
    registry: CollectorRegistry

    def exposition(self) -> tuple[bytes, str]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def serving_metrics() -> ServingMetrics:
    registry = CollectorRegistry()
    labels = ("model", "version", "protocol")
    return ServingMetrics(
        requests=Counter(
            "modelyard_inference_requests",
            "Inference requests answered, by status code.",
            (*labels, "code"),
            registry=registry,
        ),
        latency=Histogram(
            "modelyard_inference_request_duration_seconds",
            "Time from the request's body to its answer.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        rows=Histogram(
            "modelyard_inference_batch_rows",
            "Rows scored in one call of the model.",
            ("model", "version"),
            buckets=ROW_BUCKETS,
            registry=registry,
        ),
        registry=registry,
    )
