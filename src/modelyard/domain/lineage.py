"""Lineage of a model version: what it was made from, captured when it is registered.

The document is plain JSON so that it survives changes to the run it describes (a later tag,
a deleted run) and to this code. Its shape::

    {"recorded_at": ms,
     "source": {"uri", "storage_location", "logged_model_id", "parent": {"name", "version"}},
     "run": {"run_id", "run_name", "status", "user_id", "start_time", "end_time",
             "artifact_uri"},
     "experiment": {"experiment_id", "name"},
     "datasets": [{"name", "digest", "source_type", "source", "context"}],
     "code": {"repository", "commit", "branch", "entry_point", "source_type"},
     "ci": {"provider", "job_id", "job_url", "pipeline_id", "pipeline_url", "project",
            "project_url", "commit", "ref", "merge_request", "merge_request_url"}}

Sections with nothing to say are null (no run, no CI); datasets is a list, possibly empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.domain import provenance
from modelyard.domain.runs import Run

DATASET_CONTEXT_TAG = "mlflow.data.context"
_CODE_TAGS = {
    "repository": provenance.GIT_REPO_URL,
    "commit": provenance.GIT_COMMIT,
    "branch": provenance.GIT_BRANCH,
    "entry_point": "mlflow.source.name",
    "source_type": "mlflow.source.type",
}
_CI_TAGS = {
    "provider": provenance.PROVIDER,
    "job_id": provenance.JOB_ID,
    "job_url": provenance.JOB_URL,
    "pipeline_id": provenance.PIPELINE_ID,
    "pipeline_url": provenance.PIPELINE_URL,
    "project": provenance.PROJECT,
    "project_url": provenance.PROJECT_URL,
    "commit": provenance.COMMIT,
    "ref": provenance.REF,
    "merge_request": provenance.MERGE_REQUEST,
    "merge_request_url": provenance.MERGE_REQUEST_URL,
}


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """Where a version's files are, as registration resolved it."""

    uri: str
    storage_location: str
    logged_model_id: str | None = None
    parent: tuple[str, int] | None = None


def lineage_document(
    recorded_at: int,
    source: SourceFacts,
    run: Run | None,
    experiment_name: str | None,
) -> dict[str, Any]:
    tags = {t.key: t.value for t in run.tags} if run is not None else {}
    return {
        "recorded_at": recorded_at,
        "source": {
            "uri": source.uri,
            "storage_location": source.storage_location,
            "logged_model_id": source.logged_model_id,
            "parent": (
                {"name": source.parent[0], "version": source.parent[1]} if source.parent else None
            ),
        },
        "run": _run(run),
        "experiment": (
            {"experiment_id": run.info.experiment_id, "name": experiment_name}
            if run is not None
            else None
        ),
        "datasets": _datasets(run),
        "code": _section(tags, _CODE_TAGS),
        "ci": _section(tags, _CI_TAGS),
    }


def _run(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "status": str(info.status),
        "user_id": info.user_id,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
    }


def _datasets(run: Run | None) -> list[dict[str, Any]]:
    if run is None:
        return []
    return [
        {
            "name": i.dataset.name,
            "digest": i.dataset.digest,
            "source_type": i.dataset.source_type,
            "source": i.dataset.source,
            "context": next((t.value for t in i.tags if t.key == DATASET_CONTEXT_TAG), None),
        }
        for i in run.dataset_inputs
    ]


def _section(tags: dict[str, str], names: dict[str, str]) -> dict[str, str | None] | None:
    found = {field: tags.get(tag) for field, tag in names.items()}
    return found if any(found.values()) else None
