"""Projects (tenants)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from modelyard.domain.experiments import DEFAULT_EXPERIMENT_NAME, LifecycleStage, Project
from modelyard.errors import AlreadyExists, NotFound
from modelyard.stores.sql.tables import experiments, projects

_PROJECT_ID = select(projects.c.id).where(projects.c.name == bindparam("name"))


class SqlProjectStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

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
        project_id = self._db.execute(_PROJECT_ID, {"name": name}).scalar_one_or_none()
        if project_id is None:
            raise NotFound(
                f"Project '{name}' does not exist. Create it with: modelyard projects create {name}"
            )
        return Project(id=project_id, name=name)

    def list_projects(self) -> list[Project]:
        rows = self._db.execute(select(projects.c.id, projects.c.name).order_by(projects.c.name))
        return [Project(id=row.id, name=row.name) for row in rows]
