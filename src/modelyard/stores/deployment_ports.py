"""Ports of environments, deployments, approvals and evaluations."""

from __future__ import annotations

from typing import Protocol

from modelyard.domain.deployments import (
    Deployment,
    DeploymentStatus,
    Environment,
    Policies,
    Revision,
)
from modelyard.domain.deployments import TargetKind as DeploymentTarget
from modelyard.domain.evaluations import Evaluation, NewEvaluation
from modelyard.domain.experiments import Project
from modelyard.stores.base import RegisteredModelRef, VersionRef


class EvaluationStore(Protocol):
    def record_evaluation(
        self, version: VersionRef, new: NewEvaluation, now_ms: int, actor: str | None
    ) -> Evaluation: ...

    def evaluations_of(self, version: VersionRef) -> list[Evaluation]:
        """Newest first."""


class DeploymentStore(Protocol):
    def ensure_environments(
        self, project: Project, defaults: dict[str, Policies], now_ms: int
    ) -> None:
        """Create the default environments the project lacks."""

    def list_environments(self, project: Project) -> list[Environment]: ...

    def find_environment(self, project: Project, name: str) -> Environment | None: ...

    def create_environment(self, project: Project, environment: Environment) -> None: ...

    def set_policies(self, project: Project, name: str, policies: Policies) -> None: ...

    def find_deployment(
        self, project: Project, environment: str, model: RegisteredModelRef
    ) -> Deployment | None: ...

    def get_by_id(self, deployment_id: int) -> Deployment | None: ...

    def create_deployment(
        self,
        project: Project,
        environment: str,
        model: RegisteredModelRef,
        target: DeploymentTarget,
        revision: Revision,
    ) -> int: ...

    def add_revision(
        self, deployment_id: int, revision: Revision, target: DeploymentTarget
    ) -> None: ...

    def set_status(
        self,
        deployment_id: int,
        revision: int,
        status: DeploymentStatus,
        message: str | None,
        endpoint: str | None,
        now_ms: int,
    ) -> None: ...

    def list_deployments(
        self, project: Project, environment: str | None, model_name: str | None
    ) -> list[Deployment]: ...

    def revisions(self, deployment_id: int) -> list[Revision]:
        """Oldest first."""

    def deployments_of_model(self, model: RegisteredModelRef) -> list[Deployment]: ...

    def project_of(self, deployment_id: int) -> str | None: ...

    def target_deployments(self, target: DeploymentTarget) -> list[tuple[str, Deployment]]:
        """Every project's deployments on ``target``, with the project's name."""

    def approve(
        self,
        version: VersionRef,
        project: Project,
        environment: str,
        approver: str,
        comment: str | None,
        now_ms: int,
    ) -> None: ...

    def approvers(self, version: VersionRef, project: Project, environment: str) -> list[str]: ...
