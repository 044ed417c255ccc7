"""Model versions: numbering, stages, tags, lineage documents and their search."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError

from modelyard.domain.experiments import Project
from modelyard.domain.registry import (
    PROMPT_TAG,
    ModelVersion,
    Stage,
    VersionSummary,
    version_not_found,
)
from modelyard.domain.search import Comparison, Entity
from modelyard.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.stores.base import NewVersion, Page, RegisteredModelRef, RegistrySearch, VersionRef
from modelyard.stores.sql.conditions import bytewise, compare
from modelyard.stores.sql.dialect import among_keys, upsert
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import (
    model_version_lineage,
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_models,
)

_COLUMNS = (
    model_versions.c.id,
    registered_models.c.name,
    model_versions.c.version,
    model_versions.c.semver,
    model_versions.c.stage,
    model_versions.c.source,
    model_versions.c.storage_location,
    model_versions.c.run_id,
    model_versions.c.model_id,
    model_versions.c.run_link,
    model_versions.c.description,
    model_versions.c.user_id,
    model_versions.c.status_message,
    model_versions.c.creation_time,
    model_versions.c.last_update_time,
)
_ATTRIBUTES = {
    "name": registered_models.c.name,
    "run_id": model_versions.c.run_id,
    "source_path": model_versions.c.source,
    "version_number": model_versions.c.version,
    "creation_timestamp": model_versions.c.creation_time,
    "last_updated_timestamp": model_versions.c.last_update_time,
}
_LIVE = model_versions.c.deleted_time.is_(None)
_NEXT_NUMBER = (
    update(registered_models)
    .where(registered_models.c.id == bindparam("key"))
    .values(
        last_version=registered_models.c.last_version + 1,
        last_update_time=bindparam("now"),
    )
    .returning(registered_models.c.last_version)
)
_REF = select(model_versions.c.id).where(
    model_versions.c.registered_model_id == bindparam("model_key"),
    model_versions.c.version == bindparam("version"),
    _LIVE,
)
_BY_KEYS = select(*_COLUMNS).join_from(model_versions, registered_models)
# Statements built once, values bound at execution: building ``insert().values(...)`` and its
# cache key on every call cost more CPU than the inserts.
_INSERT_VERSION = insert(model_versions).returning(model_versions.c.id)
_INSERT_TAG = insert(model_version_tags)
_INSERT_LINEAGE = insert(model_version_lineage)


class SqlModelVersionStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create_version(self, ref: RegisteredModelRef, new: NewVersion, now_ms: int) -> VersionRef:
        number = self._db.execute(_NEXT_NUMBER, {"key": ref.key, "now": now_ms}).scalar_one()
        try:
            key = self._db.execute(
                _INSERT_VERSION,
                {
                    "registered_model_id": ref.key,
                    "version": number,
                    "semver": new.semver,
                    "semver_core": new.semver_core,
                    "stage": Stage.NONE,
                    "source": new.source,
                    "storage_location": new.storage_location,
                    "run_id": new.run_id,
                    "model_id": new.model_id,
                    "run_link": new.run_link,
                    "description": new.description,
                    "user_id": new.user_id,
                    "creation_time": now_ms,
                    "last_update_time": now_ms,
                },
            ).scalar_one()
        except IntegrityError as exc:
            # Only the semantic version can collide: the number comes from the locked counter.
            raise AlreadyExists(
                f"Model {ref.name!r} already has a version with semantic version {new.semver}."
            ) from exc
        version = VersionRef(key, ref, number)
        tags = dict(new.tags)
        if tags:
            self._db.execute(
                _INSERT_TAG, [{"version_id": key, "key": k, "value": v} for k, v in tags.items()]
            )
        self._db.execute(_INSERT_LINEAGE, {"version_id": key, "document": new.lineage})
        return version

    def get_version_ref(self, ref: RegisteredModelRef, version: int) -> VersionRef:
        key = self._db.execute(_REF, {"model_key": ref.key, "version": version}).scalar()
        if key is None:
            raise NotFound(version_not_found(ref.name, version))
        return VersionRef(key, ref, version)

    def get_version(self, ref: VersionRef, *, with_aliases: bool = True) -> ModelVersion:
        return load_versions(self._db, [ref.key], with_aliases=with_aliases)[0]

    def summaries(self, ref: RegisteredModelRef) -> list[VersionSummary]:
        rows = self._db.execute(
            select(model_versions.c.version, model_versions.c.stage, model_versions.c.semver)
            .where(model_versions.c.registered_model_id == ref.key, _LIVE)
            .order_by(model_versions.c.version)
        ).all()
        return [VersionSummary(r.version, Stage(r.stage), r.semver) for r in rows]

    def semvers(self, ref: RegisteredModelRef) -> list[str]:
        return list(
            self._db.execute(
                select(model_versions.c.semver).where(
                    model_versions.c.registered_model_id == ref.key,
                    model_versions.c.semver.is_not(None),
                )
            ).scalars()
        )

    def update_description(self, ref: VersionRef, description: str | None, now_ms: int) -> None:
        self._db.execute(
            update(model_versions)
            .where(model_versions.c.id == ref.key)
            .values(description=description, last_update_time=now_ms)
        )

    def set_stage(self, ref: VersionRef, stage: Stage, now_ms: int) -> None:
        self._db.execute(
            update(model_versions)
            .where(model_versions.c.id == ref.key)
            .values(stage=stage, last_update_time=now_ms)
        )

    def delete_version(self, ref: VersionRef, now_ms: int) -> list[str]:
        aliases = list(
            self._db.execute(
                delete(registered_model_aliases)
                .where(registered_model_aliases.c.version_id == ref.key)
                .returning(registered_model_aliases.c.alias)
            ).scalars()
        )
        self._db.execute(
            update(model_versions)
            .where(model_versions.c.id == ref.key)
            .values(deleted_time=now_ms, last_update_time=now_ms)
        )
        return sorted(aliases)

    def set_version_tag(self, ref: VersionRef, key: str, value: str) -> str | None:
        before = self._tag_value(ref, key)
        self._db.execute(
            upsert(self._db, model_version_tags, ["version_id", "key"], ["value"]),
            {"version_id": ref.key, "key": key, "value": value},
        )
        return before

    def delete_version_tag(self, ref: VersionRef, key: str) -> str | None:
        return self._db.execute(
            delete(model_version_tags)
            .where(model_version_tags.c.version_id == ref.key, model_version_tags.c.key == key)
            .returning(model_version_tags.c.value)
        ).scalar()

    def _tag_value(self, ref: VersionRef, key: str) -> str | None:
        return self._db.execute(
            select(model_version_tags.c.value).where(
                model_version_tags.c.version_id == ref.key, model_version_tags.c.key == key
            )
        ).scalar()

    def get_lineage(self, ref: VersionRef) -> str | None:
        return self._db.execute(
            select(model_version_lineage.c.document).where(
                model_version_lineage.c.version_id == ref.key
            )
        ).scalar()

    def versions_of_run(self, project: Project, run_id: str) -> list[tuple[str, int]]:
        rows = self._db.execute(
            select(registered_models.c.name, model_versions.c.version)
            .join_from(model_versions, registered_models)
            .where(
                registered_models.c.project_id == project.id,
                model_versions.c.run_id == run_id,
                _LIVE,
            )
            .order_by(registered_models.c.name, model_versions.c.version)
        ).all()
        return [(r.name, r.version) for r in rows]

    def search_versions(self, project: Project, query: RegistrySearch) -> Page[ModelVersion]:
        dialect = self._db.dialect.name
        statement = (
            select(*_COLUMNS)
            .join_from(model_versions, registered_models)
            .where(
                registered_models.c.project_id == project.id,
                _LIVE,
                *(_condition(c) for c in query.filter),
            )
        )
        if query.exclude_prompts:
            statement = statement.where(~_has_prompt_version())
        ordering: list[ColumnElement[Any]] = []
        for clause in query.order_by:
            column = _ATTRIBUTES.get(clause.key)
            if clause.entity is not Entity.ATTRIBUTE or column is None:
                raise InvalidArgument(f"Invalid order_by key '{clause.key}'")
            value = bytewise(column, dialect)
            ordering.append(value.asc() if clause.ascending else value.desc())
        keys = {clause.key for clause in query.order_by}
        if not query.order_by:
            ordering.append(model_versions.c.last_update_time.desc())
        if "name" not in keys:
            ordering.append(bytewise(registered_models.c.name, dialect).asc())
        if "version_number" not in keys:
            ordering.append(model_versions.c.version.desc())
        found = self._db.execute(
            statement.order_by(*ordering).offset(query.offset).limit(query.limit + 1)
        ).all()
        more = len(found) > query.limit
        versions = versions_from_rows(self._db, found[: query.limit], with_aliases=False)
        return Page(versions, query.offset + query.limit if more else None)


def _has_prompt_version() -> ColumnElement[bool]:
    """MLflow hides every version of a model one of whose versions is tagged as a prompt.

    Uncorrelated, so it runs once per search (through the index on tag keys), not per row.
    """
    prompt_models = (
        select(model_versions.c.registered_model_id)
        .join_from(model_version_tags, model_versions)
        .where(model_version_tags.c.key == PROMPT_TAG, model_version_tags.c.value == "true")
    )
    return model_versions.c.registered_model_id.in_(prompt_models.scalar_subquery())


def _condition(c: Comparison) -> ColumnElement[bool]:
    if c.entity is Entity.TAG:
        return exists().where(
            and_(
                model_version_tags.c.version_id == model_versions.c.id,
                model_version_tags.c.key == c.key,
                compare(model_version_tags.c.value, c),
            )
        )
    column = _ATTRIBUTES.get(c.key)
    if column is None or c.key in ("creation_timestamp", "last_updated_timestamp"):
        raise InvalidArgument(f"Invalid attribute key '{c.key}' for model versions")
    return compare(column, c)


@dataclass(frozen=True, slots=True)
class _LoadStatements:
    rows: Select[Any]
    tags: Select[Any]
    tags_and_aliases: CompoundSelect[Any]


@functools.cache
def _load_statements(dialect: str) -> _LoadStatements:
    """Built once per dialect: building a statement and its cache key on every call cost more
    CPU than running the queries of a one-version lookup."""
    tags = select(
        model_version_tags.c.version_id,
        literal(_TAG).label("kind"),
        model_version_tags.c.key,
        model_version_tags.c.value,
    ).where(among_keys(model_version_tags.c.version_id, dialect))
    aliases = select(
        registered_model_aliases.c.version_id,
        literal(_ALIAS).label("kind"),
        registered_model_aliases.c.alias,
        literal("").label("value"),
    ).where(among_keys(registered_model_aliases.c.version_id, dialect))
    return _LoadStatements(
        rows=_BY_KEYS.where(among_keys(model_versions.c.id, dialect)),
        tags=tags.order_by(model_version_tags.c.version_id, model_version_tags.c.key),
        # One round trip instead of two: each statement costs about 0.1 ms of CPU.
        tags_and_aliases=union_all(tags, aliases).order_by("version_id", "kind", "key"),
    )


_TAG, _ALIAS = 0, 1
_STAGES = {stage.value: stage for stage in Stage}


def load_versions(db: Connection, keys: Sequence[int], *, with_aliases: bool) -> list[ModelVersion]:
    """The versions with these keys, in this order, with their tags (and aliases)."""
    if not keys:
        return []
    statements = _load_statements(db.dialect.name)
    rows = {row[0]: row for row in db.execute(statements.rows, {"keys": list(keys)}).all()}
    return versions_from_rows(db, [rows[key] for key in keys], with_aliases=with_aliases)


def versions_from_rows(
    db: Connection, rows: Sequence[AnyRow], *, with_aliases: bool
) -> list[ModelVersion]:
    """Versions from rows of ``_COLUMNS``, with their tags (and aliases) read in one query."""
    if not rows:
        return []
    statements = _load_statements(db.dialect.name)
    tags: dict[int, list[tuple[str, str]]] = defaultdict(list)
    aliases: dict[int, list[str]] = defaultdict(list)
    extras = statements.tags_and_aliases if with_aliases else statements.tags
    for version_id, kind, key, value in db.execute(
        extras, {"keys": [row[0] for row in rows]}
    ).all():
        if kind == _TAG:
            tags[version_id].append((key, value))
        else:
            aliases[version_id].append(key)
    return [_version(row, tags[row[0]], aliases[row[0]]) for row in rows]


def _version(row: AnyRow, tags: list[tuple[str, str]], aliases: list[str]) -> ModelVersion:
    # Unpacked by position: attribute access on a Row costs a lookup per field, which was
    # most of the CPU of loading a page of versions.
    (
        _key,
        name,
        version,
        semver,
        stage,
        source,
        storage_location,
        run_id,
        model_id,
        run_link,
        description,
        user_id,
        status_message,
        creation_time,
        last_update_time,
    ) = row
    return ModelVersion(
        name=name,
        version=version,
        creation_time=creation_time,
        last_updated_time=last_update_time,
        stage=_STAGES[stage],
        source=source,
        storage_location=storage_location,
        run_id=run_id,
        run_link=run_link,
        description=description,
        user_id=user_id,
        status_message=status_message,
        model_id=model_id,
        semver=semver,
        tags=tuple(tags),
        aliases=tuple(aliases),
    )
