"""Deploying versions to environments under their policies, rolling back, and the history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelyard.domain.deployments import (
    DEFAULT_ENVIRONMENTS,
    Deployment,
    DeploymentStatus,
    Environment,
    Policies,
    PolicyCheck,
    Reason,
    Revision,
    Strategy,
    TargetKind,
    check_canary,
    check_environment_name,
    revision_at,
)
from modelyard.domain.events import EventType, deployment_event
from modelyard.domain.experiments import Project
from modelyard.errors import AlreadyExists, InvalidArgument, InvalidState, NotFound, PolicyRefused
from modelyard.services.context import Caller
from modelyard.services.registry import version_ref
from modelyard.stores.base import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class DeployRequest:
    name: str
    version: int
    environment: str
    target: TargetKind = TargetKind.LOCAL
    strategy: Strategy = Strategy.REPLACE
    canary_percent: int | None = None


class Deployments:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    # --- environments

    def environments(self, caller: Caller) -> list[Environment]:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            found = tx.deployments.list_environments(project)
        if set(DEFAULT_ENVIRONMENTS) <= {e.name for e in found}:
            return found
        with self._uow(write=True) as tx:  # a project's first look: create the defaults
            project = self._project(tx, caller)
            found = tx.deployments.list_environments(project)
            tx.commit()
        return found

    def create_environment(
        self, caller: Caller, name: str, policies: Policies, description: str | None = None
    ) -> Environment:
        check_environment_name(name)
        environment = Environment(name, policies, self._now(), description)
        with self._uow(write=True) as tx:
            project = self._project(tx, caller)
            if tx.deployments.find_environment(project, name) is not None:
                raise AlreadyExists(f"Environment {name!r} already exists.")
            tx.deployments.create_environment(project, environment)
            tx.commit()
        return environment

    def set_policies(self, caller: Caller, name: str, policies: Policies) -> Environment:
        with self._uow(write=True) as tx:
            project = self._project(tx, caller)
            _environment(tx, project, name)
            tx.deployments.set_policies(project, name, policies)
            updated = _environment(tx, project, name)
            tx.commit()
        return updated

    # --- deploying

    def check(self, caller: Caller, request: DeployRequest) -> list[PolicyCheck]:
        """Each rule of the environment's policy, passed or not, for this version."""
        with self._uow(write=True) as tx:
            project = self._project(tx, caller)
            checks = _policy_checks(tx, project, caller, request)
            tx.commit()
        return checks

    def deploy(self, caller: Caller, request: DeployRequest) -> Deployment:
        """Record the new desired state; the target brings it about and reports its status.

        Raises:
            PolicyRefused: a rule of the environment's policy fails; the message names each.
            InvalidState: a canary or shadow without a running version to share traffic with.
        """
        percent = check_canary(request.strategy, request.canary_percent)
        now = self._now()
        with self._uow(write=True) as tx:
            project = self._project(tx, caller)
            failed = [c for c in _policy_checks(tx, project, caller, request) if not c.passed]
            if failed:
                raise PolicyRefused(
                    f"models:/{request.name}/{request.version} may not be deployed to "
                    f"{request.environment}: " + "; ".join(f"{c.rule}: {c.detail}" for c in failed)
                )
            model = version_ref(tx, project, request.name, request.version).model
            existing = tx.deployments.find_deployment(project, request.environment, model)
            stable = None
            if request.strategy is not Strategy.REPLACE:
                stable = None if existing is None else _serving_version(existing.current)
                if stable is None or stable == request.version:
                    raise InvalidState(
                        f"A {request.strategy} needs another version already deployed to "
                        f"{request.environment} to share the traffic with; deploy one first."
                    )
            revision = Revision(
                number=1 if existing is None else existing.current.number + 1,
                version=request.version,
                strategy=request.strategy,
                reason=Reason.DEPLOY,
                created_at=now,
                actor=caller.user,
                stable_version=stable,
                canary_percent=percent,
            )
            if existing is None:
                key = tx.deployments.create_deployment(
                    project, request.environment, model, request.target, revision
                )
            else:
                key = existing.id
                tx.deployments.add_revision(key, revision, request.target)
            deployment = _found(tx.deployments.get_by_id(key))
            tx.events.append(
                project, [deployment_event(EventType.DEPLOYMENT_STARTED, view(deployment))], now
            )
            tx.commit()
        return deployment

    def rollback(self, caller: Caller, environment: str, name: str) -> Deployment:
        """A new revision serving the version that served before the current one (a canary's
        stable version, not its candidate). Policies are not checked again: it ran here."""
        now = self._now()
        with self._uow(write=True) as tx:
            project = self._project(tx, caller)
            deployment = _deployment(tx, project, environment, name)
            current = _serving_version(deployment.current)
            earlier = [
                r
                for r in tx.deployments.revisions(deployment.id)
                if r.number < deployment.current.number
                and _serving_version(r) != current
                and r.status is not DeploymentStatus.FAILED
            ]
            if not earlier:
                raise InvalidState(
                    f"{name} in {environment} has no earlier version to roll back to."
                )
            revision = Revision(
                number=deployment.current.number + 1,
                version=_serving_version(earlier[-1]),
                strategy=Strategy.REPLACE,
                reason=Reason.ROLLBACK,
                created_at=now,
                actor=caller.user,
            )
            tx.deployments.add_revision(deployment.id, revision, deployment.target)
            rolled = _found(tx.deployments.get_by_id(deployment.id))
            tx.events.append(
                project, [deployment_event(EventType.DEPLOYMENT_ROLLED_BACK, view(rolled))], now
            )
            tx.commit()
        return rolled

    def approve(
        self, caller: Caller, name: str, version: int, environment: str, comment: str | None
    ) -> list[str]:
        """Record the caller's approval of the version for the environment; the approvers."""
        if not caller.user:
            raise InvalidArgument(
                "An approval needs a named user: set MLFLOW_TRACKING_USERNAME (Basic auth)."
            )
        with self._uow(write=True) as tx:
            project = self._project(tx, caller)
            _environment(tx, project, environment)
            ref = version_ref(tx, project, name, version)
            tx.deployments.approve(ref, project, environment, caller.user, comment, self._now())
            approvers = tx.deployments.approvers(ref, project, environment)
            tx.commit()
        return approvers

    # --- reading and reporting

    def search(
        self, caller: Caller, environment: str | None = None, name: str | None = None
    ) -> list[Deployment]:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.deployments.list_deployments(project, environment, name)

    def get(self, caller: Caller, environment: str, name: str) -> tuple[Deployment, list[Revision]]:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            deployment = _deployment(tx, project, environment, name)
            return deployment, tx.deployments.revisions(deployment.id)

    def at(self, caller: Caller, environment: str, name: str, at_ms: int) -> Revision | None:
        """The revision in force at ``at_ms``: what ran there then."""
        _deployment_found, revisions = self.get(caller, environment, name)
        return revision_at(revisions, at_ms)

    def report(
        self,
        deployment_id: int,
        revision: int,
        status: DeploymentStatus,
        message: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """What the target found: running (deployment.succeeded) or failed (.failed)."""
        now = self._now()
        with self._uow(write=True) as tx:
            deployment = tx.deployments.get_by_id(deployment_id)
            if deployment is None or deployment.current.number != revision:
                return  # superseded meanwhile: the newer revision reports for itself
            current = deployment.current
            if (current.status, current.message, deployment.endpoint) == (
                status,
                message,
                endpoint,
            ):
                return
            tx.deployments.set_status(deployment_id, revision, status, message, endpoint, now)
            updated = _found(tx.deployments.get_by_id(deployment_id))
            kind = {
                DeploymentStatus.RUNNING: EventType.DEPLOYMENT_SUCCEEDED,
                DeploymentStatus.FAILED: EventType.DEPLOYMENT_FAILED,
            }.get(status)
            if kind is not None and current.status is not status:
                project = _project_of(tx, updated)
                if project is not None:
                    tx.events.append(project, [deployment_event(kind, view(updated))], now)
            tx.commit()

    def _project(self, tx: UnitOfWork, caller: Caller) -> Project:
        project = tx.projects.get_project(caller.project)
        tx.deployments.ensure_environments(project, DEFAULT_ENVIRONMENTS, self._now())
        return project


def view(deployment: Deployment) -> dict[str, Any]:
    """A deployment as the API, events and lineage show it."""
    current = deployment.current
    return {
        "deployment_id": deployment.id,
        "environment": deployment.environment,
        "model_name": deployment.model_name,
        "version": str(current.version),
        "model_uri": deployment.model_uri,
        "target": str(deployment.target),
        "strategy": str(current.strategy),
        "stable_version": None if current.stable_version is None else str(current.stable_version),
        "canary_percent": current.canary_percent,
        "status": str(current.status),
        "message": current.message,
        "revision": current.number,
        "reason": str(current.reason),
        "actor": current.actor,
        "endpoint": deployment.endpoint,
        "updated_at": deployment.updated_at,
    }


def _policy_checks(
    tx: UnitOfWork, project: Project, caller: Caller, request: DeployRequest
) -> list[PolicyCheck]:
    environment = _environment(tx, project, request.environment)
    ref = version_ref(tx, project, request.name, request.version)
    policies = environment.policies
    checks: list[PolicyCheck] = []
    if policies.require_passing_evaluation:
        evaluations = tx.evaluations.evaluations_of(ref)
        if not evaluations:
            checks.append(
                PolicyCheck(
                    "passing evaluation",
                    False,
                    "no evaluation recorded; run `modelyard evaluate` with gates",
                )
            )
        else:
            latest = evaluations[0]
            failed = [g.expression for g in latest.result.gates if not g.passed]
            checks.append(
                PolicyCheck(
                    "passing evaluation",
                    latest.result.passed,
                    "latest evaluation passed"
                    if latest.result.passed
                    else "latest evaluation failed " + (", ".join(failed) or "its gates"),
                )
            )
    if policies.require_approval:
        approvers = [
            a
            for a in tx.deployments.approvers(ref, project, request.environment)
            if a != caller.user
        ]
        checks.append(
            PolicyCheck(
                "approval",
                bool(approvers),
                f"approved by {', '.join(approvers)}"
                if approvers
                else "not approved for this environment by anyone other than the deployer; "
                f"`modelyard approve models:/{request.name}/{request.version} "
                f"--env {request.environment}`",
            )
        )
    if policies.require_scan:
        checks.append(
            PolicyCheck(
                "clean scan",
                False,
                "no scan verdict is recorded for its files (model scanning is not available yet)",
            )
        )
    return checks


def _serving_version(revision: Revision) -> int:
    """The version that answered all requests: a canary's or shadow's stable one."""
    if revision.strategy is Strategy.REPLACE or revision.stable_version is None:
        return revision.version
    return revision.stable_version


def _environment(tx: UnitOfWork, project: Project, name: str) -> Environment:
    found = tx.deployments.find_environment(project, name)
    if found is None:
        known = ", ".join(e.name for e in tx.deployments.list_environments(project))
        raise NotFound(f"Environment {name!r} does not exist; environments: {known}.")
    return found


def _deployment(tx: UnitOfWork, project: Project, environment: str, name: str) -> Deployment:
    _environment(tx, project, environment)
    model = tx.registered_models.find_model_ref(project, name)
    found = None if model is None else tx.deployments.find_deployment(project, environment, model)
    if found is None:
        raise NotFound(f"{name} is not deployed to {environment}.")
    return found


def _found(deployment: Deployment | None) -> Deployment:
    assert deployment is not None
    return deployment


def _project_of(tx: UnitOfWork, deployment: Deployment) -> Project | None:
    name = tx.deployments.project_of(deployment.id)
    return None if name is None else tx.projects.get_project(name)
