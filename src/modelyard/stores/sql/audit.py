"""The audit log: append-only rows, read newest first."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection, insert, or_, select

from modelyard.domain.audit import Action, AuditEntry, Change
from modelyard.domain.experiments import Project
from modelyard.stores.base import AuditQuery, Page, RegisteredModelRef
from modelyard.stores.sql.tables import audit_log, registered_models

_INSERT = insert(audit_log)


class SqlAuditStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def record(
        self,
        project: Project,
        changes: Sequence[Change],
        now_ms: int,
        actor: str | None,
        model: RegisteredModelRef | None = None,
    ) -> None:
        if changes:
            keys = {
                name: model.key
                if model is not None and model.name == name
                else self._model_key(project, name)
                for name in {c.model_name for c in changes}
            }
            self._db.execute(
                _INSERT,
                [
                    {
                        "project_id": project.id,
                        "at": now_ms,
                        "actor": actor,
                        "action": str(change.action),
                        "registered_model_id": keys[change.model_name],
                        "model_name": change.model_name,
                        "version": change.version,
                        "before": _dump(change.before),
                        "after": _dump(change.after),
                    }
                    for change in changes
                ],
            )

    def _model_key(self, project: Project, name: str) -> int | None:
        return self._db.execute(
            select(registered_models.c.id).where(
                registered_models.c.project_id == project.id, registered_models.c.name == name
            )
        ).scalar()

    def search(self, project: Project, query: AuditQuery) -> Page[AuditEntry]:
        statement = select(audit_log).where(audit_log.c.project_id == project.id)
        if query.model_name is not None:
            # What happened under that name, and to the model now called so under any name.
            named = audit_log.c.model_name == query.model_name
            key = self._model_key(project, query.model_name)
            statement = statement.where(
                named if key is None else or_(named, audit_log.c.registered_model_id == key)
            )
        if query.version is not None:
            statement = statement.where(audit_log.c.version == query.version)
        if query.actions:
            statement = statement.where(audit_log.c.action.in_([str(a) for a in query.actions]))
        if query.actor is not None:
            statement = statement.where(audit_log.c.actor == query.actor)
        if query.since is not None:
            statement = statement.where(audit_log.c.at >= query.since)
        if query.until is not None:
            statement = statement.where(audit_log.c.at <= query.until)
        rows = self._db.execute(
            statement.order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .offset(query.offset)
            .limit(query.limit + 1)
        ).all()
        more = len(rows) > query.limit
        entries = [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=Action(row.action),
                model_name=row.model_name,
                version=row.version,
                before=_load(row.before),
                after=_load(row.after),
            )
            for row in rows[: query.limit]
        ]
        return Page(entries, query.offset + query.limit if more else None)


def _dump(value: object) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _load(text: str | None) -> dict[str, object] | None:
    return None if text is None else orjson.loads(text)
