"""Environments, deployments with their revisions, and approvals."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, and_, insert, select, update

from modelyard.domain.deployments import (
    Deployment,
    DeploymentStatus,
    Environment,
    Policies,
    Reason,
    Revision,
    Strategy,
    TargetKind,
)
from modelyard.domain.experiments import Project
from modelyard.stores.base import RegisteredModelRef, VersionRef
from modelyard.stores.sql.dialect import insert_ignore
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import (
    deployment_approvals,
    deployment_revisions,
    deployments,
    environments,
    projects,
    registered_models,
)

_DEPLOYMENT_COLUMNS = (
    deployments.c.id,
    environments.c.name.label("environment"),
    registered_models.c.name.label("model_name"),
    deployments.c.target,
    deployments.c.endpoint,
    deployments.c.created_at,
    deployments.c.updated_at,
    deployment_revisions.c.number,
    deployment_revisions.c.version,
    deployment_revisions.c.strategy,
    deployment_revisions.c.reason,
    deployment_revisions.c.stable_version,
    deployment_revisions.c.canary_percent,
    deployment_revisions.c.status,
    deployment_revisions.c.message,
    deployment_revisions.c.actor,
    deployment_revisions.c.created_at.label("revised_at"),
)
_CURRENT = (
    select(*_DEPLOYMENT_COLUMNS)
    .join_from(deployments, environments)
    .join(registered_models, registered_models.c.id == deployments.c.registered_model_id)
    .join(
        deployment_revisions,
        and_(
            deployment_revisions.c.deployment_id == deployments.c.id,
            deployment_revisions.c.number == deployments.c.current_revision,
        ),
    )
)


class SqlDeploymentStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    # --- environments

    def ensure_environments(
        self, project: Project, defaults: dict[str, Policies], now_ms: int
    ) -> None:
        self._db.execute(
            insert_ignore(self._db, environments, ["project_id", "name"]),
            [
                {
                    "project_id": project.id,
                    "name": name,
                    "policies": orjson.dumps(policies.as_json()).decode(),
                    "created_at": now_ms,
                }
                for name, policies in defaults.items()
            ],
        )

    def list_environments(self, project: Project) -> list[Environment]:
        rows = self._db.execute(
            select(environments)
            .where(environments.c.project_id == project.id)
            .order_by(environments.c.created_at, environments.c.name)
        ).all()
        return [_environment(r) for r in rows]

    def find_environment(self, project: Project, name: str) -> Environment | None:
        row = self._db.execute(
            select(environments).where(
                environments.c.project_id == project.id, environments.c.name == name
            )
        ).first()
        return None if row is None else _environment(row)

    def create_environment(self, project: Project, environment: Environment) -> None:
        self._db.execute(
            insert(environments).values(
                project_id=project.id,
                name=environment.name,
                description=environment.description,
                policies=orjson.dumps(environment.policies.as_json()).decode(),
                created_at=environment.created_at,
            )
        )

    def set_policies(self, project: Project, name: str, policies: Policies) -> None:
        self._db.execute(
            update(environments)
            .where(environments.c.project_id == project.id, environments.c.name == name)
            .values(policies=orjson.dumps(policies.as_json()).decode())
        )

    # --- deployments

    def find_deployment(
        self, project: Project, environment: str, model: RegisteredModelRef
    ) -> Deployment | None:
        row = self._db.execute(
            _CURRENT.where(
                deployments.c.project_id == project.id,
                environments.c.name == environment,
                deployments.c.registered_model_id == model.key,
            )
        ).first()
        return None if row is None else _deployment(row)

    def get_by_id(self, deployment_id: int) -> Deployment | None:
        row = self._db.execute(_CURRENT.where(deployments.c.id == deployment_id)).first()
        return None if row is None else _deployment(row)

    def create_deployment(
        self,
        project: Project,
        environment: str,
        model: RegisteredModelRef,
        target: TargetKind,
        revision: Revision,
    ) -> int:
        environment_id = self._db.execute(
            select(environments.c.id).where(
                environments.c.project_id == project.id, environments.c.name == environment
            )
        ).scalar_one()
        key = int(
            self._db.execute(
                insert(deployments)
                .values(
                    project_id=project.id,
                    environment_id=environment_id,
                    registered_model_id=model.key,
                    target=str(target),
                    current_revision=revision.number,
                    created_at=revision.created_at,
                    updated_at=revision.created_at,
                )
                .returning(deployments.c.id)
            ).scalar_one()
        )
        self._insert_revision(key, revision)
        return key

    def _insert_revision(self, deployment_id: int, revision: Revision) -> None:
        self._db.execute(
            insert(deployment_revisions).values(
                deployment_id=deployment_id,
                number=revision.number,
                version=revision.version,
                strategy=str(revision.strategy),
                reason=str(revision.reason),
                stable_version=revision.stable_version,
                canary_percent=revision.canary_percent,
                status=str(revision.status),
                message=revision.message,
                actor=revision.actor,
                created_at=revision.created_at,
            )
        )

    def add_revision(self, deployment_id: int, revision: Revision, target: TargetKind) -> None:
        self._insert_revision(deployment_id, revision)
        self._db.execute(
            update(deployments)
            .where(deployments.c.id == deployment_id)
            .values(
                current_revision=revision.number,
                target=str(target),
                updated_at=revision.created_at,
            )
        )

    def set_status(
        self,
        deployment_id: int,
        revision: int,
        status: DeploymentStatus,
        message: str | None,
        endpoint: str | None,
        now_ms: int,
    ) -> None:
        self._db.execute(
            update(deployment_revisions)
            .where(
                deployment_revisions.c.deployment_id == deployment_id,
                deployment_revisions.c.number == revision,
            )
            .values(status=str(status), message=message)
        )
        self._db.execute(
            update(deployments)
            .where(deployments.c.id == deployment_id)
            .values(endpoint=endpoint, updated_at=now_ms)
        )

    def list_deployments(
        self, project: Project, environment: str | None, model_name: str | None
    ) -> list[Deployment]:
        statement = _CURRENT.where(deployments.c.project_id == project.id)
        if environment is not None:
            statement = statement.where(environments.c.name == environment)
        if model_name is not None:
            statement = statement.where(registered_models.c.name == model_name)
        rows = self._db.execute(
            statement.order_by(environments.c.name, registered_models.c.name)
        ).all()
        return [_deployment(r) for r in rows]

    def revisions(self, deployment_id: int) -> list[Revision]:
        rows = self._db.execute(
            select(deployment_revisions)
            .where(deployment_revisions.c.deployment_id == deployment_id)
            .order_by(deployment_revisions.c.number)
        ).all()
        return [_revision(r, r.created_at) for r in rows]

    def deployments_of_model(self, model: RegisteredModelRef) -> list[Deployment]:
        rows = self._db.execute(
            _CURRENT.where(deployments.c.registered_model_id == model.key).order_by(
                environments.c.name
            )
        ).all()
        return [_deployment(r) for r in rows]

    def project_of(self, deployment_id: int) -> str | None:
        found = self._db.execute(
            select(projects.c.name)
            .join_from(deployments, projects)
            .where(deployments.c.id == deployment_id)
        ).scalar()
        return None if found is None else str(found)

    def target_deployments(self, target: TargetKind) -> list[tuple[str, Deployment]]:
        """Every project's deployments on ``target``, with the project's name."""
        rows = self._db.execute(
            _CURRENT.add_columns(projects.c.name.label("project"))
            .join(projects, projects.c.id == deployments.c.project_id)
            .where(deployments.c.target == str(target))
        ).all()
        return [(r.project, _deployment(r)) for r in rows]

    # --- approvals

    def approve(
        self,
        version: VersionRef,
        project: Project,
        environment: str,
        approver: str,
        comment: str | None,
        now_ms: int,
    ) -> None:
        environment_id = self._db.execute(
            select(environments.c.id).where(
                environments.c.project_id == project.id, environments.c.name == environment
            )
        ).scalar_one()
        self._db.execute(
            insert_ignore(
                self._db, deployment_approvals, ["version_id", "environment_id", "approver"]
            ),
            [
                {
                    "version_id": version.key,
                    "environment_id": environment_id,
                    "approver": approver,
                    "comment": comment,
                    "created_at": now_ms,
                }
            ],
        )

    def approvers(self, version: VersionRef, project: Project, environment: str) -> list[str]:
        rows = self._db.execute(
            select(deployment_approvals.c.approver)
            .join_from(deployment_approvals, environments)
            .where(
                deployment_approvals.c.version_id == version.key,
                environments.c.project_id == project.id,
                environments.c.name == environment,
            )
            .order_by(deployment_approvals.c.created_at)
        ).all()
        return [r.approver for r in rows]


def _environment(row: AnyRow) -> Environment:
    return Environment(
        name=row.name,
        policies=Policies(**orjson.loads(row.policies)),
        created_at=row.created_at,
        description=row.description,
    )


def _revision(row: AnyRow, created_at: int) -> Revision:
    return Revision(
        number=row.number,
        version=row.version,
        strategy=Strategy(row.strategy),
        reason=Reason(row.reason),
        created_at=created_at,
        actor=row.actor,
        stable_version=row.stable_version,
        canary_percent=row.canary_percent,
        status=DeploymentStatus(row.status),
        message=row.message,
    )


def _deployment(row: AnyRow) -> Deployment:
    return Deployment(
        id=row.id,
        environment=row.environment,
        model_name=row.model_name,
        target=TargetKind(row.target),
        current=_revision(row, row.revised_at),
        created_at=row.created_at,
        updated_at=row.updated_at,
        endpoint=row.endpoint,
    )
