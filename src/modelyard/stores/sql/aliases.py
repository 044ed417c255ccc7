"""Aliases of registered models and the history of their assignments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select

from modelyard.domain.audit import AliasAssignment
from modelyard.domain.experiments import Project
from modelyard.stores.base import RegisteredModelRef, VersionRef
from modelyard.stores.sql.dialect import upsert
from modelyard.stores.sql.tables import (
    alias_history,
    model_versions,
    registered_model_aliases,
    registered_models,
)

_TARGET = (
    select(model_versions.c.version)
    .join_from(registered_model_aliases, model_versions)
    .where(
        registered_model_aliases.c.registered_model_id == bindparam("model_key"),
        registered_model_aliases.c.alias == bindparam("alias"),
    )
)

_ALIASED_VERSION = (
    select(
        registered_models.c.id, model_versions.c.id.label("version_key"), model_versions.c.version
    )
    .join_from(registered_models, registered_model_aliases)
    .join(model_versions, model_versions.c.id == registered_model_aliases.c.version_id)
    .where(
        registered_models.c.project_id == bindparam("project_id"),
        registered_models.c.name == bindparam("name"),
        registered_model_aliases.c.alias == bindparam("alias"),
    )
)


class SqlAliasStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def alias_target(self, ref: RegisteredModelRef, alias: str) -> int | None:
        return self._db.execute(_TARGET, {"model_key": ref.key, "alias": alias}).scalar()

    def find_aliased_version(self, project: Project, name: str, alias: str) -> VersionRef | None:
        row = self._db.execute(
            _ALIASED_VERSION, {"project_id": project.id, "name": name, "alias": alias}
        ).first()
        if row is None:
            return None
        return VersionRef(row.version_key, RegisteredModelRef(row.id, name), row.version)

    def set_alias(
        self,
        ref: RegisteredModelRef,
        alias: str,
        target: VersionRef,
        now_ms: int,
        actor: str | None,
    ) -> int | None:
        before = self.alias_target(ref, alias)
        self._db.execute(
            upsert(
                self._db, registered_model_aliases, ["registered_model_id", "alias"], ["version_id"]
            ),
            {"registered_model_id": ref.key, "alias": alias, "version_id": target.key},
        )
        if before != target.version:
            self._remember(ref, [alias], target.version, now_ms, actor)
        return before

    def delete_alias(
        self, ref: RegisteredModelRef, alias: str, now_ms: int, actor: str | None
    ) -> int | None:
        before = self.alias_target(ref, alias)
        if before is not None:
            self._db.execute(
                delete(registered_model_aliases).where(
                    registered_model_aliases.c.registered_model_id == ref.key,
                    registered_model_aliases.c.alias == alias,
                )
            )
            self._remember(ref, [alias], None, now_ms, actor)
        return before

    def record_removals(
        self, ref: RegisteredModelRef, aliases: Sequence[str], now_ms: int, actor: str | None
    ) -> None:
        self._remember(ref, aliases, None, now_ms, actor)

    def _remember(
        self,
        ref: RegisteredModelRef,
        aliases: Sequence[str],
        version: int | None,
        now_ms: int,
        actor: str | None,
    ) -> None:
        if aliases:
            self._db.execute(
                insert(alias_history),
                [
                    {
                        "registered_model_id": ref.key,
                        "alias": alias,
                        "version": version,
                        "changed_at": now_ms,
                        "actor": actor,
                    }
                    for alias in aliases
                ],
            )

    def alias_history(
        self, ref: RegisteredModelRef, alias: str | None, until_ms: int | None
    ) -> list[AliasAssignment]:
        statement = select(
            alias_history.c.alias,
            alias_history.c.version,
            alias_history.c.changed_at,
            alias_history.c.actor,
        ).where(alias_history.c.registered_model_id == ref.key)
        if alias is not None:
            statement = statement.where(alias_history.c.alias == alias)
        if until_ms is not None:
            statement = statement.where(alias_history.c.changed_at <= until_ms)
        rows = self._db.execute(
            statement.order_by(alias_history.c.changed_at, alias_history.c.id)
        ).all()
        return [AliasAssignment(r.alias, r.version, r.changed_at, r.actor) for r in rows]
