"""Domain values to MLflow's JSON: the protobuf JSON mapping with int64 as numbers.

Unset optional fields and empty repeated fields are left out, as MLflow's serializer does.
"""

from __future__ import annotations

import math
from math import isfinite
from typing import Any

from modelyard.domain.experiments import Experiment
from modelyard.domain.logged_models import LoggedModel, ModelMetric
from modelyard.domain.registry import ModelVersion, RegisteredModel
from modelyard.domain.runs import (
    DatasetInput,
    DatasetSummary,
    Metric,
    MetricHistory,
    Run,
    RunInfo,
)
from modelyard.stores.base import MetricPoint

JSON = dict[str, Any]


def double(value: float) -> float | str:
    """JSON has no NaN or infinity; the protobuf mapping spells them as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def experiment(e: Experiment) -> JSON:
    body: JSON = {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": str(e.lifecycle_stage),
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
    }
    if e.tags:
        body["tags"] = [{"key": k, "value": v} for k, v in e.tags.items()]
    return body


def run_info(info: RunInfo) -> JSON:
    body: JSON = {
        "run_uuid": info.run_id,
        "experiment_id": info.experiment_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": str(info.status),
        "start_time": info.start_time,
    }
    if info.end_time is not None:
        body["end_time"] = info.end_time
    body["artifact_uri"] = info.artifact_uri
    body["lifecycle_stage"] = str(info.lifecycle_stage)
    body["run_id"] = info.run_id
    return body


def metric(m: Metric) -> JSON:
    return {"key": m.key, "value": double(m.value), "timestamp": m.timestamp, "step": m.step}


def metric_history(h: MetricHistory) -> list[JSON]:
    key = h.key
    return [
        {"key": key, "value": v if isfinite(v) else double(v), "timestamp": t, "step": s}
        for t, s, v in zip(h.timestamps, h.steps, h.values, strict=True)
    ]


def run(r: Run) -> JSON:
    data: JSON = {}
    if r.metrics:
        data["metrics"] = [metric(m) for m in r.metrics]
    if r.params:
        data["params"] = [{"key": p.key, "value": p.value} for p in r.params]
    if r.tags:
        data["tags"] = [{"key": t.key, "value": t.value} for t in r.tags]
    inputs: JSON = {}
    if r.dataset_inputs:
        inputs["dataset_inputs"] = [dataset_input(d) for d in r.dataset_inputs]
    if r.model_inputs:
        inputs["model_inputs"] = [{"model_id": m} for m in r.model_inputs]
    outputs: JSON = {}
    if r.model_outputs:
        outputs["model_outputs"] = [
            {"model_id": o.model_id, "step": o.step} for o in r.model_outputs
        ]
    return {"info": run_info(r.info), "data": data, "inputs": inputs, "outputs": outputs}


def dataset_input(d: DatasetInput) -> JSON:
    dataset: JSON = {
        "name": d.dataset.name,
        "digest": d.dataset.digest,
        "source_type": d.dataset.source_type,
        "source": d.dataset.source,
    }
    if d.dataset.schema is not None:
        dataset["schema"] = d.dataset.schema
    if d.dataset.profile is not None:
        dataset["profile"] = d.dataset.profile
    body: JSON = {}
    if d.tags:
        body["tags"] = [{"key": t.key, "value": t.value} for t in d.tags]
    body["dataset"] = dataset
    return body


def metric_point(p: MetricPoint) -> JSON:
    body = metric(p.metric)
    body["run_id"] = p.run_id
    return body


def dataset_summary(s: DatasetSummary) -> JSON:
    body: JSON = {"experiment_id": s.experiment_id, "name": s.name, "digest": s.digest}
    if s.context is not None:
        body["context"] = s.context
    return body


def logged_model(m: LoggedModel) -> JSON:
    info: JSON = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_time,
        "last_updated_timestamp_ms": m.last_update_time,
        "artifact_uri": m.artifact_uri,
        "status": m.status.wire_name,
        "model_type": m.model_type,
        "source_run_id": m.source_run_id,
    }
    if m.status_message is not None:
        info["status_message"] = m.status_message
    if m.tags:
        info["tags"] = [{"key": k, "value": v} for k, v in m.tags]
    data: JSON = {}
    if m.params:
        data["params"] = [{"key": k, "value": v} for k, v in m.params]
    if m.metrics:
        data["metrics"] = [model_metric(m.model_id, point) for point in m.metrics]
    return {"info": info, "data": data}


def model_metric(model_id: str, p: ModelMetric) -> JSON:
    body: JSON = {"key": p.key, "value": double(p.value), "timestamp": p.timestamp, "step": p.step}
    if p.dataset_name is not None:
        body["dataset_name"] = p.dataset_name
        body["dataset_digest"] = p.dataset_digest
    body["model_id"] = model_id
    if p.run_id:
        body["run_id"] = p.run_id
    return body


def file_info(path: str, is_dir: bool, size: int | None) -> JSON:
    item: JSON = {"path": path, "is_dir": is_dir}
    if size is not None:
        item["file_size"] = size
    return item


def registered_model(m: RegisteredModel) -> JSON:
    body: JSON = {"name": m.name, "creation_timestamp": m.creation_time}
    if m.last_updated_time:
        body["last_updated_timestamp"] = m.last_updated_time
    if m.description:
        body["description"] = m.description
    if m.latest_versions:
        body["latest_versions"] = [model_version(v, aliases=False) for v in m.latest_versions]
    if m.tags:
        body["tags"] = [{"key": k, "value": v} for k, v in m.tags]
    if m.aliases:
        body["aliases"] = [{"alias": a, "version": str(v)} for a, v in m.aliases]
    return body


def model_version(v: ModelVersion, *, aliases: bool = True) -> JSON:
    """MLflow leaves aliases out of searches and of a model's latest versions."""
    body: JSON = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_updated_time,
        "current_stage": str(v.stage),
    }
    if v.description is not None:
        body["description"] = v.description
    body["source"] = v.source
    body["run_id"] = v.run_id
    # The registry creates versions ready; without the field, clients wait for registration.
    body["status"] = "READY"
    if v.status_message:
        body["status_message"] = v.status_message
    if v.tags:
        body["tags"] = [{"key": k, "value": val} for k, val in v.tags]
    body["run_link"] = v.run_link
    if aliases and v.aliases:
        body["aliases"] = list(v.aliases)
    return body
