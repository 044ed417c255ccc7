"""Deployments on SQLite and PostgreSQL, through the services: environments and policies,
canaries, rollbacks, history, status reports, events and lineage."""

from __future__ import annotations

import pytest

from modelyard.bootstrap import Container
from modelyard.domain.deployments import DeploymentStatus, Policies, Strategy, TargetKind
from modelyard.domain.evaluations import GateResult, NewEvaluation
from modelyard.errors import AlreadyExists, InvalidArgument, InvalidState, NotFound, PolicyRefused
from modelyard.services.context import Caller
from modelyard.services.deployments import DeployRequest
from modelyard.services.model_versions import VersionRequest

ALICE = Caller(user="alice")
BOB = Caller(user="bob")


def _versions(container: Container, name: str, count: int) -> None:
    container.registry.create_model(ALICE, name)
    for _ in range(count):
        container.model_versions.create(ALICE, name, VersionRequest(source="s3://b/model"))


def _evaluated(container: Container, name: str, version: int, passed: bool) -> None:
    container.evaluations.record(
        ALICE,
        name,
        version,
        NewEvaluation(
            passed=passed,
            metrics={"accuracy": 0.9 if passed else 0.5},
            gates=(GateResult("accuracy >= 0.8", passed, 0.9 if passed else 0.5, 0.8),),
        ),
    )


def _events(container: Container) -> list[tuple[str, dict[str, object]]]:
    with container.uow(write=False) as tx:
        return [
            (str(e.type), e.payload)
            for e in tx.events.claim_undispatched(1000)
            if str(e.type).startswith("deployment.")
        ]


def test_environments_exist_by_default_and_more_can_be_added(container: Container) -> None:
    names = {e.name: e.policies for e in container.deployments.environments(ALICE)}
    assert set(names) == {"development", "staging", "production"}
    assert names["production"] == Policies(require_passing_evaluation=True, require_approval=True)
    created = container.deployments.create_environment(
        ALICE, "edge-eu", Policies(require_approval=True), "shops in Europe"
    )
    assert created.name == "edge-eu"
    with pytest.raises(AlreadyExists):
        container.deployments.create_environment(ALICE, "edge-eu", Policies())
    with pytest.raises(InvalidArgument, match="Invalid environment name"):
        container.deployments.create_environment(ALICE, "Bad Name", Policies())
    updated = container.deployments.set_policies(ALICE, "edge-eu", Policies())
    assert updated.policies == Policies()


def test_policies_refuse_and_name_each_failing_rule(container: Container) -> None:
    _versions(container, "fraud", 2)
    to_production = DeployRequest("fraud", 1, "production")
    with pytest.raises(PolicyRefused) as refused:
        container.deployments.deploy(ALICE, to_production)
    assert "passing evaluation: no evaluation recorded" in refused.value.message
    assert "approval: not approved" in refused.value.message

    _evaluated(container, "fraud", 1, passed=False)
    with pytest.raises(PolicyRefused, match=r"latest evaluation failed accuracy >= 0\.8"):
        container.deployments.deploy(ALICE, DeployRequest("fraud", 1, "staging"))
    _evaluated(container, "fraud", 1, passed=True)
    assert container.deployments.deploy(ALICE, DeployRequest("fraud", 1, "staging"))

    container.deployments.approve(ALICE, "fraud", 1, "production", "my own")
    with pytest.raises(PolicyRefused, match="anyone other than the deployer"):
        container.deployments.deploy(ALICE, to_production)
    assert container.deployments.approve(BOB, "fraud", 1, "production", "looks good") == [
        "alice",
        "bob",
    ]
    checks = container.deployments.check(ALICE, to_production)
    assert all(c.passed for c in checks) and {c.rule for c in checks} == {
        "passing evaluation",
        "approval",
    }
    deployed = container.deployments.deploy(ALICE, to_production)
    assert deployed.current.version == 1 and deployed.current.status is DeploymentStatus.PENDING
    with pytest.raises(InvalidArgument, match="named user"):
        container.deployments.approve(Caller(), "fraud", 2, "production", None)
    with pytest.raises(NotFound, match="Environment 'nowhere' does not exist"):
        container.deployments.deploy(ALICE, DeployRequest("fraud", 1, "nowhere"))


def test_canary_rollback_history_and_events(container: Container) -> None:
    _versions(container, "churn", 3)
    dev = "development"
    with pytest.raises(InvalidState, match="needs another version already deployed"):
        container.deployments.deploy(
            ALICE, DeployRequest("churn", 1, dev, strategy=Strategy.CANARY, canary_percent=10)
        )
    first = container.deployments.deploy(ALICE, DeployRequest("churn", 1, dev))
    container.deployments.report(first.id, 1, DeploymentStatus.RUNNING, None, "http://127.0.0.1:9")
    with pytest.raises(InvalidArgument, match="canary_percent between 1 and 99"):
        container.deployments.deploy(
            ALICE, DeployRequest("churn", 2, dev, strategy=Strategy.CANARY)
        )
    canary = container.deployments.deploy(
        BOB, DeployRequest("churn", 2, dev, strategy=Strategy.CANARY, canary_percent=10)
    )
    assert (canary.current.version, canary.current.stable_version) == (2, 1)
    assert canary.current.canary_percent == 10 and canary.current.number == 2
    third = container.deployments.deploy(ALICE, DeployRequest("churn", 3, dev))
    container.deployments.report(third.id, 3, DeploymentStatus.FAILED, "crashed", None)

    rolled = container.deployments.rollback(ALICE, dev, "churn")
    # Back to what served every request before the failed revision: the canary's stable one.
    assert (rolled.current.version, rolled.current.reason.value) == (1, "rollback")
    assert rolled.current.strategy is Strategy.REPLACE
    with pytest.raises(InvalidState, match="no earlier version"):
        container.deployments.rollback(ALICE, dev, "churn")  # version 2 never served alone

    _deployment, history = container.deployments.get(ALICE, dev, "churn")
    assert [(r.number, r.version, r.reason.value) for r in history] == [
        (1, 1, "deploy"),
        (2, 2, "deploy"),
        (3, 3, "deploy"),
        (4, 1, "rollback"),
    ]
    assert [r.status.value for r in history][:3] == ["running", "pending", "failed"]
    at_canary = container.deployments.at(ALICE, dev, "churn", history[1].created_at)
    assert at_canary is not None and at_canary.version in (1, 2)
    assert container.deployments.at(ALICE, dev, "churn", history[0].created_at - 1) is None

    kinds = [kind for kind, _ in _events(container)]
    assert kinds.count("deployment.started") == 3
    assert kinds.count("deployment.rolled_back") == 1
    assert "deployment.succeeded" in kinds and "deployment.failed" in kinds
    started = [p for k, p in _events(container) if k == "deployment.started"][1]
    assert started["strategy"] == "canary" and started["stable_version"] == "1"

    lineage = container.model_versions.lineage(ALICE, "churn", 1)[1]
    assert [d["environment"] for d in lineage["deployments"]] == [dev]
    assert "deployments" not in (container.model_versions.lineage(ALICE, "churn", 3)[1] or {})
    with pytest.raises(NotFound, match="not deployed to staging"):
        container.deployments.rollback(ALICE, "staging", "churn")
    listed = container.deployments.search(ALICE, environment=dev)
    assert [(d.model_name, d.target) for d in listed] == [("churn", TargetKind.LOCAL)]


def test_a_report_for_a_superseded_revision_changes_nothing(container: Container) -> None:
    _versions(container, "m", 2)
    first = container.deployments.deploy(ALICE, DeployRequest("m", 1, "development"))
    container.deployments.deploy(ALICE, DeployRequest("m", 2, "development"))
    container.deployments.report(first.id, 1, DeploymentStatus.RUNNING, None, "http://x")
    deployment, _ = container.deployments.get(ALICE, "development", "m")
    assert deployment.current.number == 2 and deployment.current.status is DeploymentStatus.PENDING
    assert deployment.endpoint is None
