"""Evaluation results recorded on model versions."""

from __future__ import annotations

from dataclasses import asdict

import orjson
from sqlalchemy import Connection, insert, select

from modelyard.domain.evaluations import Evaluation, GateResult, NewEvaluation
from modelyard.stores.base import VersionRef
from modelyard.stores.sql.tables import model_version_evaluations

_INSERT = insert(model_version_evaluations).returning(model_version_evaluations.c.id)


class SqlEvaluationStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def record_evaluation(
        self, version: VersionRef, new: NewEvaluation, now_ms: int, actor: str | None
    ) -> Evaluation:
        key = self._db.execute(
            _INSERT,
            {
                "version_id": version.key,
                "run_id": new.run_id,
                "passed": new.passed,
                "document": orjson.dumps(asdict(new)).decode(),
                "created_at": now_ms,
                "actor": actor,
            },
        ).scalar_one()
        return Evaluation(key, version.model.name, version.version, now_ms, new, actor)

    def evaluations_of(self, version: VersionRef) -> list[Evaluation]:
        rows = self._db.execute(
            select(model_version_evaluations)
            .where(model_version_evaluations.c.version_id == version.key)
            .order_by(
                model_version_evaluations.c.created_at.desc(), model_version_evaluations.c.id.desc()
            )
        ).all()
        return [
            Evaluation(
                r.id,
                version.model.name,
                version.version,
                r.created_at,
                _result(r.document),
                r.actor,
            )
            for r in rows
        ]


def _result(document: str) -> NewEvaluation:
    fields = orjson.loads(document)
    fields["gates"] = tuple(GateResult(**g) for g in fields.get("gates", ()))
    return NewEvaluation(**fields)
