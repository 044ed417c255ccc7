"""The audit log: who changed what in the registry, when, and the state before and after."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JSONValue = dict[str, Any]


class Action(StrEnum):
    """What happened, named ``<entity>.<verb>`` as MLflow's webhook events are."""

    MODEL_CREATED = "registered_model.created"
    MODEL_RENAMED = "registered_model.renamed"
    MODEL_UPDATED = "registered_model.updated"
    MODEL_DELETED = "registered_model.deleted"
    MODEL_TAG_SET = "registered_model_tag.set"
    MODEL_TAG_DELETED = "registered_model_tag.deleted"
    VERSION_CREATED = "model_version.created"
    VERSION_UPDATED = "model_version.updated"
    VERSION_DELETED = "model_version.deleted"
    VERSION_STAGE_TRANSITIONED = "model_version.stage_transitioned"
    VERSION_TAG_SET = "model_version_tag.set"
    VERSION_TAG_DELETED = "model_version_tag.deleted"
    ALIAS_SET = "model_version_alias.created"
    ALIAS_DELETED = "model_version_alias.deleted"


@dataclass(frozen=True, slots=True)
class Change:
    """One mutation, as a service describes it before the store records it.

    ``before`` and ``after`` are JSON objects (None when the thing did not exist before or does
    not exist after); ``version`` is set for changes to one version or alias.
    """

    action: Action
    model_name: str
    version: int | None = None
    before: JSONValue | None = None
    after: JSONValue | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: int
    actor: str | None
    action: Action
    model_name: str
    version: int | None
    before: JSONValue | None
    after: JSONValue | None


@dataclass(frozen=True, slots=True)
class AliasAssignment:
    """From ``at`` on (until the next assignment), ``alias`` pointed at ``version``; a None
    version means the alias was removed."""

    alias: str
    version: int | None
    at: int
    actor: str | None
