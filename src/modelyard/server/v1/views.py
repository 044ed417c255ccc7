"""Domain values as modelyard's own JSON: plain objects, tags as maps, times in ms."""

from __future__ import annotations

from typing import Any

from modelyard.domain.audit import AliasAssignment, AuditEntry
from modelyard.domain.registry import ModelVersion

JSON = dict[str, Any]


def version(v: ModelVersion) -> JSON:
    return {
        "name": v.name,
        "version": v.version,
        "semver": v.semver,
        "stage": str(v.stage),
        "aliases": list(v.aliases),
        "description": v.description,
        "source": v.source,
        "download_uri": v.download_uri,
        "run_id": v.run_id or None,
        "model_id": v.model_id,
        "run_link": v.run_link or None,
        "user_id": v.user_id,
        "created_at": v.creation_time,
        "updated_at": v.last_updated_time,
        "tags": dict(v.tags),
    }


def audit_entry(e: AuditEntry) -> JSON:
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "action": str(e.action),
        "model": e.model_name,
        "version": e.version,
        "before": e.before,
        "after": e.after,
    }


def alias_assignment(a: AliasAssignment) -> JSON:
    return {"alias": a.alias, "version": a.version, "at": a.at, "actor": a.actor}
