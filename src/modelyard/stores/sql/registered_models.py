"""Registered models, their tags, and their search."""

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
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from modelyard.domain.experiments import Project
from modelyard.domain.registry import PROMPT_TAG, ModelVersion, RegisteredModel, model_not_found
from modelyard.domain.search import Comparison, Entity
from modelyard.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.stores.base import Page, RegisteredModelRef, RegistrySearch
from modelyard.stores.sql.conditions import bytewise, compare
from modelyard.stores.sql.dialect import among_keys, upsert
from modelyard.stores.sql.model_versions import load_versions
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import (
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)

_COLUMNS = (
    registered_models.c.id,
    registered_models.c.name,
    registered_models.c.description,
    registered_models.c.creation_time,
    registered_models.c.last_update_time,
)
_REF = select(registered_models.c.id).where(
    registered_models.c.project_id == bindparam("project_id"),
    registered_models.c.name == bindparam("name"),
)


class SqlRegisteredModelStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create_model(
        self,
        project: Project,
        name: str,
        description: str | None,
        tags: Sequence[tuple[str, str]],
        now_ms: int,
    ) -> RegisteredModelRef:
        try:
            key = self._db.execute(
                insert(registered_models)
                .values(
                    project_id=project.id,
                    name=name,
                    description=description,
                    creation_time=now_ms,
                    last_update_time=now_ms,
                    last_version=0,
                )
                .returning(registered_models.c.id)
            ).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExists(f"Registered Model (name={name}) already exists.") from exc
        latest = dict(tags)
        if latest:
            self._db.execute(
                insert(registered_model_tags),
                [{"registered_model_id": key, "key": k, "value": v} for k, v in latest.items()],
            )
        return RegisteredModelRef(key, name)

    def find_model_ref(self, project: Project, name: str) -> RegisteredModelRef | None:
        key = self._db.execute(_REF, {"project_id": project.id, "name": name}).scalar()
        return None if key is None else RegisteredModelRef(key, name)

    def get_model_ref(self, project: Project, name: str) -> RegisteredModelRef:
        ref = self.find_model_ref(project, name)
        if ref is None:
            raise NotFound(model_not_found(name))
        return ref

    def get_model(self, ref: RegisteredModelRef) -> RegisteredModel:
        rows = self._db.execute(select(*_COLUMNS).where(registered_models.c.id == ref.key)).all()
        return self._assemble(rows)[0]

    def rename_model(self, ref: RegisteredModelRef, new_name: str, now_ms: int) -> None:
        try:
            self._db.execute(
                update(registered_models)
                .where(registered_models.c.id == ref.key)
                .values(name=new_name, last_update_time=now_ms)
            )
        except IntegrityError as exc:
            raise AlreadyExists(f"Registered Model (name={new_name}) already exists.") from exc
        # MLflow moves every version to the new name, which counts as an update of each.
        self._db.execute(
            update(model_versions)
            .where(model_versions.c.registered_model_id == ref.key)
            .values(last_update_time=now_ms)
        )

    def update_model(self, ref: RegisteredModelRef, description: str | None, now_ms: int) -> None:
        self._db.execute(
            update(registered_models)
            .where(registered_models.c.id == ref.key)
            .values(description=description, last_update_time=now_ms)
        )

    def touch_model(self, ref: RegisteredModelRef, now_ms: int) -> None:
        self._db.execute(
            update(registered_models)
            .where(registered_models.c.id == ref.key)
            .values(last_update_time=now_ms)
        )

    def delete_model(self, ref: RegisteredModelRef) -> None:
        self._db.execute(delete(registered_models).where(registered_models.c.id == ref.key))

    def set_model_tag(self, ref: RegisteredModelRef, key: str, value: str) -> str | None:
        before = self._db.execute(
            select(registered_model_tags.c.value).where(
                registered_model_tags.c.registered_model_id == ref.key,
                registered_model_tags.c.key == key,
            )
        ).scalar()
        self._db.execute(
            upsert(self._db, registered_model_tags, ["registered_model_id", "key"], ["value"]),
            {"registered_model_id": ref.key, "key": key, "value": value},
        )
        return before

    def delete_model_tag(self, ref: RegisteredModelRef, key: str) -> str | None:
        return self._db.execute(
            delete(registered_model_tags)
            .where(
                registered_model_tags.c.registered_model_id == ref.key,
                registered_model_tags.c.key == key,
            )
            .returning(registered_model_tags.c.value)
        ).scalar()

    def search_models(self, project: Project, query: RegistrySearch) -> Page[RegisteredModel]:
        dialect = self._db.dialect.name
        statement = select(*_COLUMNS).where(
            registered_models.c.project_id == project.id, *(_condition(c) for c in query.filter)
        )
        if query.exclude_prompts:
            statement = statement.where(~_tagged_as_prompt())
        ordering: list[ColumnElement[Any]] = []
        for clause in query.order_by:
            if clause.key == "name":
                value = bytewise(registered_models.c.name, dialect)
            elif clause.key == "last_updated_timestamp":
                value = registered_models.c.last_update_time
            else:
                raise InvalidArgument(f"Invalid order_by key '{clause.key}'")
            ordering.append(value.asc() if clause.ascending else value.desc())
        if not any(clause.key == "name" for clause in query.order_by):
            ordering.append(bytewise(registered_models.c.name, dialect).asc())
        rows = self._db.execute(
            statement.order_by(*ordering).offset(query.offset).limit(query.limit + 1)
        ).all()
        more = len(rows) > query.limit
        return Page(
            self._assemble(rows[: query.limit]), query.offset + query.limit if more else None
        )

    def _assemble(self, rows: Sequence[AnyRow]) -> list[RegisteredModel]:
        if not rows:
            return []
        dialect = self._db.dialect.name
        bound = {"keys": [row.id for row in rows]}
        tags: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for model_key, key, value in self._db.execute(
            select(registered_model_tags)
            .where(among_keys(registered_model_tags.c.registered_model_id, dialect))
            .order_by(registered_model_tags.c.registered_model_id, registered_model_tags.c.key),
            bound,
        ).all():
            tags[model_key].append((key, value))
        aliases: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for model_key, alias, version in self._db.execute(
            select(
                registered_model_aliases.c.registered_model_id,
                registered_model_aliases.c.alias,
                model_versions.c.version,
            )
            .join_from(registered_model_aliases, model_versions)
            .where(among_keys(registered_model_aliases.c.registered_model_id, dialect))
            .order_by(registered_model_aliases.c.alias),
            bound,
        ).all():
            aliases[model_key].append((alias, version))
        latest = self._latest_per_stage(bound)
        return [
            RegisteredModel(
                name=row.name,
                creation_time=row.creation_time,
                last_updated_time=row.last_update_time,
                description=row.description,
                tags=tuple(tags[row.id]),
                aliases=tuple(aliases[row.id]),
                latest_versions=tuple(latest[row.id]),
            )
            for row in rows
        ]

    def _latest_per_stage(self, bound: dict[str, list[int]]) -> dict[int, list[ModelVersion]]:
        """Per model and stage, the highest live version; stages ordered by their lowest
        version, as MLflow lists them."""
        dialect = self._db.dialect.name
        groups = (
            select(
                model_versions.c.registered_model_id,
                func.max(model_versions.c.version).label("highest"),
                func.min(model_versions.c.version).label("lowest"),
            )
            .where(
                among_keys(model_versions.c.registered_model_id, dialect),
                model_versions.c.deleted_time.is_(None),
            )
            .group_by(model_versions.c.registered_model_id, model_versions.c.stage)
            .subquery()
        )
        found = self._db.execute(
            select(model_versions.c.id, model_versions.c.registered_model_id)
            .join(
                groups,
                and_(
                    model_versions.c.registered_model_id == groups.c.registered_model_id,
                    model_versions.c.version == groups.c.highest,
                ),
            )
            .order_by(groups.c.registered_model_id, groups.c.lowest),
            bound,
        ).all()
        versions = load_versions(self._db, [row.id for row in found], with_aliases=False)
        latest: dict[int, list[ModelVersion]] = defaultdict(list)
        for row, version in zip(found, versions, strict=True):
            latest[row.registered_model_id].append(version)
        return latest


def _tagged_as_prompt() -> ColumnElement[bool]:
    return exists().where(
        registered_model_tags.c.registered_model_id == registered_models.c.id,
        registered_model_tags.c.key == PROMPT_TAG,
        registered_model_tags.c.value == "true",
    )


def _condition(c: Comparison) -> ColumnElement[bool]:
    if c.entity is Entity.TAG:
        return exists().where(
            registered_model_tags.c.registered_model_id == registered_models.c.id,
            registered_model_tags.c.key == c.key,
            compare(registered_model_tags.c.value, c),
        )
    if c.key != "name":
        raise InvalidArgument(f"Invalid attribute key '{c.key}' for registered models")
    return compare(registered_models.c.name, c)
