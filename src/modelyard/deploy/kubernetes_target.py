"""The Kubernetes target: each new revision of a Kubernetes deployment is rendered, validated
against the schemas, written out, and applied with kubectl when one is configured.

Without kubectl the manifests are the deliverable (a GitOps repository or a CI job applies
them): the revision stays ``pending`` with a message naming the file. A canary renders the
stable version and the candidate with its share; a shadow renders the candidate beside the
stable version with no share of the traffic (mirroring requests needs a service mesh).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from modelyard.deploy.kubernetes import KubernetesSpec, render, resource_name, to_yaml
from modelyard.deploy.kubernetes_validation import validate
from modelyard.domain.deployments import Deployment, DeploymentStatus, Strategy
from modelyard.domain.deployments import TargetKind as DeploymentTarget
from modelyard.domain.experiments import DEFAULT_PROJECT
from modelyard.errors import InvalidArgument
from modelyard.services.deployments import Deployments
from modelyard.stores.base import UnitOfWorkFactory

log = logging.getLogger("modelyard.deploy")


class KubernetesTarget:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        deployments: Deployments,
        *,
        platform_url: str,
        image: str | None,
        namespace: str,
        kind: str,
        manifests_dir: Path,
        kubectl: str | None,
    ) -> None:
        self._uow = uow
        self._deployments = deployments
        self._platform_url = platform_url.rstrip("/")
        self._image = image
        self._namespace = namespace
        self._kind = kind
        self._dir = manifests_dir
        self._kubectl = kubectl
        self._done: set[tuple[int, int]] = set()  # (deployment, revision) handled

    def reconcile(self) -> None:
        with self._uow(write=False) as tx:
            wanted = tx.deployments.target_deployments(DeploymentTarget.KUBERNETES)
        for project, deployment in wanted:
            key = (deployment.id, deployment.current.number)
            if key in self._done or deployment.current.status is not DeploymentStatus.PENDING:
                continue
            self._done.add(key)
            self._apply(project, deployment)

    def manifests(self, project: str, deployment: Deployment) -> str:
        """The YAML of the deployment's current revision, validated."""
        rendered = render(self._spec(project, deployment), self._kind)  # type: ignore[arg-type]
        validate(rendered)
        return to_yaml(rendered)

    def _apply(self, project: str, deployment: Deployment) -> None:
        if not self._image:
            self._report(
                deployment,
                DeploymentStatus.FAILED,
                "No container image to run: set MODELYARD_KUBERNETES_IMAGE to an image with "
                "modelyard[serve] installed.",
            )
            return
        try:
            text = self.manifests(project, deployment)
        except InvalidArgument as exc:
            self._report(deployment, DeploymentStatus.FAILED, exc.message)
            return
        path = self._dir / project / deployment.environment / f"{_name(deployment)}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if self._kubectl is None:
            self._report(
                deployment,
                DeploymentStatus.PENDING,
                f"manifests written to {path}; apply them with `kubectl apply -f {path}`",
            )
            return
        done = subprocess.run(
            [self._kubectl, "apply", "-f", str(path)], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            self._report(
                deployment, DeploymentStatus.FAILED, f"kubectl apply failed: {done.stderr[-500:]}"
            )
            return
        self._report(deployment, DeploymentStatus.RUNNING, f"applied: {done.stdout.strip()}")

    def _spec(self, project: str, deployment: Deployment) -> KubernetesSpec:
        revision = deployment.current
        tracking_uri = self._platform_url
        if project != DEFAULT_PROJECT:
            tracking_uri = f"{tracking_uri}/projects/{project}"
        stable = revision.version
        canary: dict[str, object] = {}
        if revision.strategy is not Strategy.REPLACE and revision.stable_version is not None:
            if revision.strategy is Strategy.SHADOW and self._kind != "kserve":
                raise InvalidArgument(
                    "A shadow on Kubernetes needs MODELYARD_KUBERNETES_KIND=kserve (the candidate "
                    "at 0% of the traffic) or a service mesh that mirrors requests."
                )
            stable = revision.stable_version
            canary = {
                "canary_model_uri": f"models:/{deployment.model_name}/{revision.version}",
                "canary_version": revision.version,
                "canary_percent": revision.canary_percent,
            }
        return KubernetesSpec(
            name=_name(deployment),
            namespace=self._namespace,
            model_uri=f"models:/{deployment.model_name}/{stable}",
            model_name=deployment.model_name,
            version=stable,
            environment=deployment.environment,
            image=self._image or "",
            tracking_uri=tracking_uri,
            **canary,  # type: ignore[arg-type]
        )

    def _report(self, deployment: Deployment, status: DeploymentStatus, message: str) -> None:
        self._deployments.report(deployment.id, deployment.current.number, status, message, None)


def _name(deployment: Deployment) -> str:
    return resource_name(f"{deployment.model_name}-{deployment.environment}")
