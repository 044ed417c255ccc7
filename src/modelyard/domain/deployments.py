"""Environments, their policies, and the deployments of model versions to them.

A deployment is the desired state "this model runs this version in this environment"; every
change of it is a revision, so the history answers "what was in production when" and a rollback
is a new revision pointing at an earlier version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from modelyard.errors import InvalidArgument


class TargetKind(StrEnum):
    LOCAL = "local"  # an inference-server process the platform starts and watches
    KUBERNETES = "kubernetes"  # rendered manifests, applied with kubectl when configured


class Strategy(StrEnum):
    REPLACE = "replace"
    CANARY = "canary"  # a share of the traffic goes to the new version
    SHADOW = "shadow"  # the new version sees copies of the requests; the stable one answers


class DeploymentStatus(StrEnum):
    PENDING = "pending"  # recorded, not started yet
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"
    STOPPED = "stopped"


class Reason(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class Policies:
    """What a version must have before it may run in the environment."""

    require_scan: bool = False  # a clean scan verdict for its files
    require_passing_evaluation: bool = False  # its latest evaluation passed every gate
    require_approval: bool = False  # approved for this environment by someone

    def as_json(self) -> dict[str, bool]:
        return {
            "require_scan": self.require_scan,
            "require_passing_evaluation": self.require_passing_evaluation,
            "require_approval": self.require_approval,
        }


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    policies: Policies
    created_at: int
    description: str | None = None


DEFAULT_ENVIRONMENTS: dict[str, Policies] = {
    "development": Policies(),
    "staging": Policies(require_passing_evaluation=True),
    "production": Policies(require_passing_evaluation=True, require_approval=True),
}

_ENVIRONMENT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")


def check_environment_name(name: str) -> None:
    if not _ENVIRONMENT_NAME.fullmatch(name):
        raise InvalidArgument(
            f"Invalid environment name {name!r}: lower-case letters, digits and '-', starting "
            "and ending with a letter or digit, at most 32 characters."
        )


@dataclass(frozen=True, slots=True)
class Revision:
    """One state of a deployment: which version, how, and why."""

    number: int
    version: int
    strategy: Strategy
    reason: Reason
    created_at: int
    actor: str | None = None
    stable_version: int | None = None  # canary / shadow: the version that keeps answering
    canary_percent: int = 0
    status: DeploymentStatus = DeploymentStatus.PENDING
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    id: int
    environment: str
    model_name: str
    target: TargetKind
    current: Revision
    created_at: int
    updated_at: int
    endpoint: str | None = None

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}/{self.current.version}"


def revision_at(revisions: list[Revision], at_ms: int) -> Revision | None:
    """The revision in force at ``at_ms`` (revisions oldest first): what ran then."""
    before = [r for r in revisions if r.created_at <= at_ms]
    return before[-1] if before else None


@dataclass(frozen=True, slots=True)
class PolicyCheck:
    rule: str
    passed: bool
    detail: str


def check_canary(strategy: Strategy, percent: int | None) -> int:
    """The canary share: 1-99 for a canary, 0 otherwise."""
    if strategy is Strategy.CANARY:
        if percent is None or not 1 <= percent <= 99:
            raise InvalidArgument(
                "A canary needs canary_percent between 1 and 99: the share of requests the new "
                "version answers."
            )
        return percent
    if percent:
        raise InvalidArgument(f"canary_percent applies to the canary strategy, not {strategy}.")
    return 0
