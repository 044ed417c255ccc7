"""Experiments and their tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from modelyard.domain.experiments import Experiment, LifecycleStage, Project
from modelyard.domain.runs import Tag
from modelyard.domain.search import Comparison, Entity, OrderBy
from modelyard.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.stores.base import ExperimentQuery, ExperimentRef, LocationTemplate, Page
from modelyard.stores.sql.conditions import bytewise, compare
from modelyard.stores.sql.dialect import upsert
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import experiment_tags, experiments, projects, runs

_COLUMNS = (
    experiments.c.id,
    experiments.c.number,
    experiments.c.name,
    experiments.c.artifact_location,
    experiments.c.lifecycle_stage,
    experiments.c.creation_time,
    experiments.c.last_update_time,
)
_ATTRIBUTES = {
    "name": experiments.c.name,
    "experiment_id": experiments.c.number,
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
}


def parse_experiment_id(experiment_id: str) -> int:
    """Experiment ids are decimal numbers on the wire.

    Raises:
        InvalidArgument: the id is not a number.
    """
    try:
        number = int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ) from None
    if not 0 <= number < 2**31:
        raise InvalidArgument(f"Invalid experiment ID '{experiment_id}'.")
    return number


_BY_NUMBER = select(*_COLUMNS).where(
    experiments.c.project_id == bindparam("project_id"),
    experiments.c.number == bindparam("number"),
)
_REF_BY_NUMBER = select(
    experiments.c.id, experiments.c.lifecycle_stage, experiments.c.artifact_location
).where(
    experiments.c.project_id == bindparam("project_id"),
    experiments.c.number == bindparam("number"),
)
_BY_NAME = select(*_COLUMNS).where(
    experiments.c.project_id == bindparam("project_id"), experiments.c.name == bindparam("name")
)
_TAGS_OF = select(experiment_tags).where(
    experiment_tags.c.experiment_id.in_(bindparam("keys", expanding=True))
)


class SqlExperimentStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create_experiment(
        self,
        project: Project,
        name: str,
        artifact_location: str | None,
        tags: Sequence[Tag],
        now_ms: int,
        location_of: LocationTemplate,
    ) -> str:
        self._refuse_taken_name(project, name)
        number = (
            self._db.execute(
                update(projects)
                .where(projects.c.id == project.id)
                .values(next_experiment_number=projects.c.next_experiment_number + 1)
                .returning(projects.c.next_experiment_number)
            ).scalar_one()
            - 1
        )
        experiment_id = str(number)
        try:
            with self._db.begin_nested():
                key = self._db.execute(
                    insert(experiments)
                    .values(
                        project_id=project.id,
                        number=number,
                        name=name,
                        artifact_location=artifact_location or location_of(experiment_id),
                        lifecycle_stage=LifecycleStage.ACTIVE,
                        creation_time=now_ms,
                        last_update_time=now_ms,
                    )
                    .returning(experiments.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExists(f"Experiment '{name}' already exists.") from exc
        if tags:
            self._db.execute(
                insert(experiment_tags),
                [{"experiment_id": key, "key": t.key, "value": t.value} for t in tags],
            )
        return experiment_id

    def _refuse_taken_name(
        self, project: Project, name: str, except_key: int | None = None
    ) -> None:
        same_name = select(experiments.c.lifecycle_stage).where(
            experiments.c.project_id == project.id, experiments.c.name == name
        )
        if except_key is not None:
            same_name = same_name.where(experiments.c.id != except_key)
        stage = self._db.execute(same_name).scalar_one_or_none()
        if stage == LifecycleStage.DELETED:
            raise AlreadyExists(
                f"Experiment '{name}' already exists in deleted state. You can restore the "
                "experiment, or permanently delete the experiment with `modelyard gc` to "
                "reuse its name."
            )
        if stage is not None:
            raise AlreadyExists(f"Experiment '{name}' already exists.")

    def key_of(self, project: Project, experiment_id: str) -> int:
        key = self._db.execute(
            select(experiments.c.id).where(
                experiments.c.project_id == project.id,
                experiments.c.number == parse_experiment_id(experiment_id),
            )
        ).scalar_one_or_none()
        if key is None:
            raise NotFound(f"No Experiment with id={experiment_id} exists")
        return int(key)

    def get_experiment(self, project: Project, experiment_id: str) -> Experiment:
        number = parse_experiment_id(experiment_id)
        row = self._db.execute(
            _BY_NUMBER, {"project_id": project.id, "number": number}
        ).one_or_none()
        if row is None:
            raise NotFound(f"No Experiment with id={experiment_id} exists")
        return self._hydrate([row])[0]

    def get_experiment_ref(self, project: Project, experiment_id: str) -> ExperimentRef:
        number = parse_experiment_id(experiment_id)
        row = self._db.execute(
            _REF_BY_NUMBER, {"project_id": project.id, "number": number}
        ).one_or_none()
        if row is None:
            raise NotFound(f"No Experiment with id={experiment_id} exists")
        return ExperimentRef(
            row.id, str(number), LifecycleStage(row.lifecycle_stage), row.artifact_location
        )

    def get_experiment_by_name(self, project: Project, name: str) -> Experiment:
        row = self._db.execute(_BY_NAME, {"project_id": project.id, "name": name}).one_or_none()
        if row is None:
            raise NotFound(f"Could not find experiment with name '{name}'")
        return self._hydrate([row])[0]

    def search_experiments(self, project: Project, query: ExperimentQuery) -> Page[Experiment]:
        statement = (
            select(*_COLUMNS)
            .where(
                experiments.c.project_id == project.id,
                experiments.c.lifecycle_stage.in_(query.stages),
                *(_condition(c) for c in query.filter),
            )
            .order_by(*_ordering(query.order_by, self._db.dialect.name))
            .offset(query.offset)
            .limit(query.limit + 1)
        )
        rows = self._db.execute(statement).all()
        more = len(rows) > query.limit
        items = self._hydrate(rows[: query.limit])
        return Page(items, query.offset + query.limit if more else None)

    def rename_experiment(
        self, project: Project, experiment_id: str, name: str, now_ms: int
    ) -> None:
        key = self.key_of(project, experiment_id)
        self._refuse_taken_name(project, name, except_key=key)
        self._db.execute(
            update(experiments)
            .where(experiments.c.id == key)
            .values(name=name, last_update_time=now_ms)
        )

    def set_experiment_stage(
        self, project: Project, experiment_id: str, stage: LifecycleStage, now_ms: int
    ) -> None:
        key = self.key_of(project, experiment_id)
        self._db.execute(
            update(experiments)
            .where(experiments.c.id == key)
            .values(lifecycle_stage=stage, last_update_time=now_ms)
        )
        self._db.execute(
            update(runs)
            .where(runs.c.experiment_id == key, runs.c.lifecycle_stage != stage)
            .values(
                lifecycle_stage=stage,
                deleted_time=now_ms if stage == LifecycleStage.DELETED else None,
            )
        )

    def set_experiment_tag(self, project: Project, experiment_id: str, tag: Tag) -> None:
        key = self.key_of(project, experiment_id)
        self._db.execute(
            upsert(self._db, experiment_tags, ["experiment_id", "key"], ["value"]),
            {"experiment_id": key, "key": tag.key, "value": tag.value},
        )

    def delete_experiment_tag(self, project: Project, experiment_id: str, key: str) -> None:
        experiment_key = self.key_of(project, experiment_id)
        deleted = self._db.execute(
            delete(experiment_tags).where(
                experiment_tags.c.experiment_id == experiment_key, experiment_tags.c.key == key
            )
        ).rowcount
        if not deleted:
            raise NotFound(f"No tag with name: {key} in experiment with id {experiment_id}")

    def _hydrate(self, rows: Sequence[AnyRow]) -> list[Experiment]:
        tags_by_key: dict[int, dict[str, str]] = defaultdict(dict)
        if rows:
            for tag in self._db.execute(_TAGS_OF, {"keys": [row.id for row in rows]}):
                tags_by_key[tag.experiment_id][tag.key] = tag.value
        return [
            Experiment(
                experiment_id=str(row.number),
                name=row.name,
                artifact_location=row.artifact_location,
                lifecycle_stage=LifecycleStage(row.lifecycle_stage),
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
                tags=tags_by_key.get(row.id, {}),
            )
            for row in rows
        ]


def _condition(comparison: Comparison) -> ColumnElement[bool]:
    if comparison.entity is Entity.ATTRIBUTE:
        column = _ATTRIBUTES.get(comparison.key)
        if column is None:
            raise InvalidArgument(f"Invalid attribute key '{comparison.key}' for experiments")
        if comparison.key == "experiment_id":
            comparison = _numbered(comparison)
        return compare(column, comparison)
    if comparison.entity is Entity.TAG:
        tag_match = and_(
            experiment_tags.c.experiment_id == experiments.c.id,
            experiment_tags.c.key == comparison.key,
        )
        if comparison.op == "IS NULL":
            return ~exists().where(tag_match)
        if comparison.op == "IS NOT NULL":
            return exists().where(tag_match)
        return exists().where(tag_match, compare(experiment_tags.c.value, comparison))
    raise InvalidArgument(f"Experiments cannot be filtered on {comparison.entity} values")


def _numbered(comparison: Comparison) -> Comparison:
    value: Any = comparison.value
    if isinstance(value, tuple):
        value = tuple(parse_experiment_id(v) for v in value)
    else:
        value = parse_experiment_id(str(value))
    return Comparison(comparison.entity, comparison.key, comparison.op, value)


def _ordering(order_by: Sequence[OrderBy], dialect: str) -> list[ColumnElement[Any]]:
    clauses = order_by or (
        OrderBy(Entity.ATTRIBUTE, "creation_time", ascending=False),
        OrderBy(Entity.ATTRIBUTE, "experiment_id", ascending=True),
    )
    ordering: list[ColumnElement[Any]] = []
    for clause in clauses:
        column = _ATTRIBUTES.get(clause.key) if clause.entity is Entity.ATTRIBUTE else None
        if column is None:
            raise InvalidArgument(f"Invalid order_by entity: {clause.entity}.{clause.key}")
        value = bytewise(column, dialect)
        ordering.append(value.asc() if clause.ascending else value.desc())
    if not any(c.key == "experiment_id" for c in clauses):
        ordering.append(experiments.c.number.desc())
    return ordering
