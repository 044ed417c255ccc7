"""The Kubernetes target through the services: revisions rendered, validated, written and
applied with kubectl (a stand-in script that records what it was asked)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from modelyard.bootstrap import Container
from modelyard.deploy.kubernetes_target import KubernetesTarget
from modelyard.domain.deployments import DeploymentStatus, Strategy, TargetKind
from modelyard.services.context import Caller
from modelyard.services.deployments import DeployRequest
from modelyard.services.model_versions import VersionRequest

pytest.importorskip("kubernetes_validate")
ALICE = Caller(user="alice")


def _target(container: Container, tmp_path: Path, **overrides: object) -> KubernetesTarget:
    options: dict[str, object] = {
        "platform_url": "https://modelyard.example.com",
        "image": "registry.example.com/modelyard:1.0",
        "namespace": "ml",
        "kind": "deployment",
        "manifests_dir": tmp_path / "manifests",
        "kubectl": None,
        **overrides,
    }
    return KubernetesTarget(container.uow, container.deployments, **options)  # type: ignore[arg-type]


def _kubectl(tmp_path: Path, exit_code: int = 0) -> str:
    script = tmp_path / "kubectl"
    script.write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/kubectl.calls\n'
        'echo "deployment.apps/fraud-development configured"\n'
        f'[ {exit_code} -eq 0 ] || echo "error: the server rejected it" >&2\nexit {exit_code}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _deploy(container: Container, version: int, **options: object) -> None:
    container.deployments.deploy(
        ALICE,
        DeployRequest("fraud", version, "development", target=TargetKind.KUBERNETES, **options),  # type: ignore[arg-type]
    )


@pytest.fixture
def fraud(container: Container) -> Container:
    container.registry.create_model(ALICE, "fraud")
    for _ in range(2):
        container.model_versions.create(ALICE, "fraud", VersionRequest(source="s3://b/m"))
    return container


def test_manifests_are_applied_with_kubectl(fraud: Container, tmp_path: Path) -> None:
    _deploy(fraud, 1)
    target = _target(fraud, tmp_path, kubectl=_kubectl(tmp_path))
    target.reconcile()
    deployment, _ = fraud.deployments.get(ALICE, "development", "fraud")
    assert deployment.current.status is DeploymentStatus.RUNNING
    assert "deployment.apps/fraud-development configured" in (deployment.current.message or "")
    written = tmp_path / "manifests" / "default" / "development" / "fraud-development.yaml"
    calls = (tmp_path / "kubectl.calls").read_text().split()
    assert calls == ["apply", "-f", str(written)]
    documents = list(yaml.safe_load_all(written.read_text()))
    assert [d["kind"] for d in documents] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    container = documents[0]["spec"]["template"]["spec"]["containers"][0]
    assert "models:/fraud/1" in container["args"] or "models:/fraud/1" in " ".join(
        container.get("command", []) + container.get("args", [])
    )
    target.reconcile()  # a revision is applied once
    assert len((tmp_path / "kubectl.calls").read_text().splitlines()) == 1


def test_without_kubectl_the_manifests_are_written_and_named(
    fraud: Container, tmp_path: Path
) -> None:
    _deploy(fraud, 1)
    _target(fraud, tmp_path).reconcile()
    deployment, _ = fraud.deployments.get(ALICE, "development", "fraud")
    assert deployment.current.status is DeploymentStatus.PENDING
    assert "kubectl apply -f" in (deployment.current.message or "")


def test_a_canary_renders_both_versions_and_failures_are_reported(
    fraud: Container, tmp_path: Path
) -> None:
    _deploy(fraud, 1)
    target = _target(fraud, tmp_path, kubectl=_kubectl(tmp_path))
    target.reconcile()
    _deploy(fraud, 2, strategy=Strategy.CANARY, canary_percent=20)
    target.reconcile()
    written = tmp_path / "manifests" / "default" / "development" / "fraud-development.yaml"
    text = written.read_text()
    assert "models:/fraud/1" in text and "models:/fraud/2" in text

    _deploy(fraud, 1)
    _target(fraud, tmp_path, kubectl=_kubectl(tmp_path, exit_code=1)).reconcile()
    deployment, _ = fraud.deployments.get(ALICE, "development", "fraud")
    assert deployment.current.status is DeploymentStatus.FAILED
    assert "the server rejected it" in (deployment.current.message or "")

    _deploy(fraud, 2, strategy=Strategy.SHADOW)
    _target(fraud, tmp_path).reconcile()
    deployment, _ = fraud.deployments.get(ALICE, "development", "fraud")
    assert deployment.current.status is DeploymentStatus.FAILED
    assert "MODELYARD_KUBERNETES_KIND=kserve" in (deployment.current.message or "")

    _deploy(fraud, 1)
    _target(fraud, tmp_path, image=None).reconcile()
    deployment, _ = fraud.deployments.get(ALICE, "development", "fraud")
    assert "MODELYARD_KUBERNETES_IMAGE" in (deployment.current.message or "")
