"""Projects (tenants)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from modelyard.domain.experiments import DEFAULT_EXPERIMENT_NAME, LifecycleStage, Project
from modelyard.errors import AlreadyExists, NotFound
from modelyard.stores.sql.tables import experiments, projects

_PROJECT_ID = select(projects.c.id).where(projects.c.name == bindparam("name"))


class ProjectCache:
    """Projects by name, shared by the units of work of one process.

    Every request looks up its project; projects are created rarely and never renamed, so a
    found project is remembered for a short while (a miss is never remembered, so a project
    created by another process is seen at once).
    """

    def __init__(self, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._clock = clock
        self._found: dict[str, tuple[Project, float]] = {}

    def get(self, name: str) -> Project | None:
        entry = self._found.get(name)
        if entry is None or entry[1] < self._clock():
            return None
        return entry[0]

    def put(self, project: Project) -> None:
        self._found[project.name] = (project, self._clock() + self._ttl)


class SqlProjectStore:
    def __init__(self, connection: Connection, cache: ProjectCache | None = None) -> None:
        self._db = connection
        self._cache = cache or ProjectCache(ttl_seconds=0)

    def create_project(self, name: str, now_ms: int) -> Project:
        try:
            with self._db.begin_nested():
                project_id = self._db.execute(
                    insert(projects)
                    .values(name=name, created_at=now_ms, next_experiment_number=1)
                    .returning(projects.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExists(f"Project '{name}' already exists.") from exc
        self._db.execute(
            insert(experiments).values(
                project_id=project_id,
                number=0,
                name=DEFAULT_EXPERIMENT_NAME,
                artifact_location="mlflow-artifacts:/0",
                lifecycle_stage=LifecycleStage.ACTIVE,
                creation_time=now_ms,
                last_update_time=now_ms,
            )
        )
        return Project(id=project_id, name=name)

    def get_project(self, name: str) -> Project:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        project_id = self._db.execute(_PROJECT_ID, {"name": name}).scalar_one_or_none()
        if project_id is None:
            raise NotFound(
                f"Project '{name}' does not exist. Create it with: modelyard projects create {name}"
            )
        project = Project(id=project_id, name=name)
        self._cache.put(project)
        return project

    def list_projects(self) -> list[Project]:
        rows = self._db.execute(select(projects.c.id, projects.c.name).order_by(projects.c.name))
        return [Project(id=row.id, name=row.name) for row in rows]
