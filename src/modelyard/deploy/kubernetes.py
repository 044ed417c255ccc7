"""The Kubernetes target: manifests that run ``modelyard serve`` for one model version.

``render`` turns a :class:`KubernetesSpec` (from ``kubernetes_spec``) into plain dictionaries,
either a Deployment, a Service and a HorizontalPodAutoscaler (plus a second Deployment for a
canary), or one KServe ``InferenceService``. ``to_yaml`` writes them as one multi-document
YAML file; ``kubernetes_validation.validate`` checks them. Nothing here talks to a cluster:
applying the manifests is the caller's job.

``render`` is pure Python; ``to_yaml`` and ``validate`` need the ``kubernetes`` extra
(``pip install 'modelyard[kubernetes]'``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from modelyard.deploy.kubernetes_spec import (
    APP,
    CANARY_SUFFIX,
    ENVIRONMENT_LABEL,
    INSTALL_HINT,
    INSTANCE_LABEL,
    KSERVE_API_VERSION,
    KSERVE_CONTAINER,
    MANAGED_BY_LABEL,
    MODEL_LABEL,
    MODEL_ROOT,
    NAME_LABEL,
    SERVICE_PORT,
    TRACK_LABEL,
    VERSION_LABEL,
    Kind,
    KubernetesSpec,
    Manifest,
    label_value,
    name_limit,
    resource_name,
    spec_problems,
)
from modelyard.errors import InvalidArgument

__all__ = [
    "KubernetesSpec",
    "Manifest",
    "canary_replicas",
    "label_value",
    "render",
    "resource_name",
    "to_yaml",
]


def render(spec: KubernetesSpec, kind: Kind) -> list[Manifest]:
    """The manifests that serve ``spec``, in the order to apply them.

    ``deployment``: a Deployment (its size owned by the autoscaler), a Service over all of the
    instance's pods, an ``autoscaling/v2`` HorizontalPodAutoscaler on CPU, and with a canary a
    second Deployment ``NAME-canary`` whose fixed replica count puts about ``canary_percent`` of
    the pods, so of the requests, on the canary: the split is by pod count, so approximate (a
    mesh or KServe splits precisely). ``kserve``: one ``InferenceService`` with a custom
    predictor on the Open Inference Protocol v2; with a canary, it declares the canary version
    and ``canaryTrafficPercent``, KServe's own split between it and the last revision rolled out
    to 100% (which should be ``model_uri``).

    Raises:
        InvalidArgument: a spec field is invalid (every problem is listed), or ``kind`` is
            unknown.
    """
    if kind not in ("deployment", "kserve"):
        raise InvalidArgument(f"Unknown manifest kind {kind!r}: use 'deployment' or 'kserve'.")
    problems = spec_problems(spec, kind)
    name = ""
    try:
        name = resource_name(spec.name, name_limit(spec, kind))
    except InvalidArgument as exc:
        problems.insert(0, exc.message)
    if problems:
        raise InvalidArgument(
            f"Cannot render Kubernetes manifests for {spec.name!r}: " + "; ".join(problems)
        )
    if kind == "kserve":
        return [_inference_service(spec, name)]
    manifests = [
        _deployment(spec, name, canary=False),
        _service(spec, name),
        _autoscaler(spec, name),
    ]
    if spec.canary_model_uri is not None:
        manifests.insert(1, _deployment(spec, name, canary=True))
    return manifests


def canary_replicas(spec: KubernetesSpec) -> int:
    """Canary pods next to ``spec.replicas`` stable ones so that the canary has about
    ``canary_percent`` of all pods; at least one.

    Raises:
        InvalidArgument: ``canary_percent`` is not between 1 and 99.
    """
    if not 1 <= spec.canary_percent <= 99:
        raise InvalidArgument(f"A canary Deployment takes 1 to 99%, not {spec.canary_percent}%.")
    share = spec.canary_percent / (100 - spec.canary_percent)
    return max(1, round(spec.replicas * share))


# --- checks -----------------------------------------------------------------------------------


def _labels(
    spec: KubernetesSpec, name: str, version: int, track: str | None = None
) -> dict[str, str]:
    labels = {
        **spec.labels,
        NAME_LABEL: APP,
        INSTANCE_LABEL: name,
        MANAGED_BY_LABEL: "modelyard",
        MODEL_LABEL: label_value(spec.model_name),
        VERSION_LABEL: str(version),
        ENVIRONMENT_LABEL: label_value(spec.environment),
    }
    if track is not None:
        labels[TRACK_LABEL] = track
    return labels


def _service_selector(name: str) -> dict[str, str]:
    """Every pod of the instance, stable and canary: the split follows the pod counts."""
    return {NAME_LABEL: APP, INSTANCE_LABEL: name}


def _metadata(spec: KubernetesSpec, name: str, labels: dict[str, str], uri: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": spec.namespace,
        "labels": labels,
        "annotations": {"modelyard.io/model-name": spec.model_name, "modelyard.io/model-uri": uri},
    }


def _scrape_annotations(spec: KubernetesSpec) -> dict[str, str]:
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(spec.port),
        "prometheus.io/path": "/metrics",
    }


def _container(spec: KubernetesSpec, name: str, uri: str, *, kserve: bool) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "MODELYARD_TRACKING_URI", "value": spec.tracking_uri},
        # The root filesystem is read-only: anything written under $HOME goes to /tmp.
        {"name": "HOME", "value": "/tmp"},
    ]
    if spec.token_secret is not None:
        env.append(
            {
                "name": "MLFLOW_TRACKING_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": spec.token_secret, "key": "MLFLOW_TRACKING_TOKEN"}
                },
            }
        )
    if kserve:
        env.append({"name": "PROTOCOL", "value": "v2"})
    limits = {"memory": spec.memory_limit}
    if spec.cpu_limit is not None:
        limits["cpu"] = spec.cpu_limit
    args = ["serve", uri, "--host", "0.0.0.0", "--port", str(spec.port)]
    args += ["--workers", str(spec.workers), "--onnx", spec.onnx]
    args += ["--model-dir", f"{MODEL_ROOT}/{name}"]
    container: dict[str, Any] = {
        "name": KSERVE_CONTAINER if kserve else "modelyard",
        "image": spec.image,
        "command": ["modelyard"],
        "args": args,
        "ports": [
            {"name": "http1" if kserve else "http", "containerPort": spec.port, "protocol": "TCP"}
        ],
        "env": env,
        "resources": {
            "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
            "limits": limits,
        },
        "readinessProbe": _probe(
            spec, "/v2/health/ready", initialDelaySeconds=5, periodSeconds=5, failureThreshold=6
        ),
        "volumeMounts": [
            {"name": "models", "mountPath": MODEL_ROOT},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    # The server listens only once the model is downloaded and loaded. A startup probe gives it
    # startup_seconds before liveness counts; KServe's Knative predictors get the same time as
    # the liveness probe's initial delay.
    if kserve:
        container["livenessProbe"] = _probe(
            spec,
            "/v2/health/live",
            initialDelaySeconds=spec.startup_seconds,
            periodSeconds=10,
            failureThreshold=3,
        )
    else:
        container["startupProbe"] = _probe(
            spec,
            "/v2/health/live",
            periodSeconds=5,
            failureThreshold=math.ceil(spec.startup_seconds / 5),
        )
        container["livenessProbe"] = _probe(
            spec, "/v2/health/live", periodSeconds=10, failureThreshold=3
        )
    return container


def _probe(spec: KubernetesSpec, path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": spec.port}, **timing, "timeoutSeconds": 2}


def _volumes() -> list[dict[str, Any]]:
    return [{"name": "models", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]


def _deployment(spec: KubernetesSpec, name: str, *, canary: bool) -> Manifest:
    track = "canary" if canary else "stable"
    uri = spec.canary_model_uri if canary else spec.model_uri
    version = spec.canary_version if canary else spec.version
    assert uri is not None and version is not None  # checked by _canary
    deployment_name = name + CANARY_SUFFIX if canary else name
    labels = _labels(spec, name, version, track)
    metadata = _metadata(spec, deployment_name, labels, uri)
    if canary:
        metadata["annotations"]["modelyard.io/canary-percent"] = str(spec.canary_percent)
    body: dict[str, Any] = {
        "selector": {"matchLabels": {**_service_selector(name), TRACK_LABEL: track}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "progressDeadlineSeconds": max(600, spec.startup_seconds + 120),
        "template": {
            "metadata": {"labels": labels.copy(), "annotations": _scrape_annotations(spec)},
            "spec": {
                "automountServiceAccountToken": False,
                # Service links would put NAME_PORT-style variables, MODELYARD_* among them
                # for a Service called modelyard, into the server's environment.
                "enableServiceLinks": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [_container(spec, deployment_name, uri, kserve=False)],
                "volumes": _volumes(),
            },
        },
    }
    if canary:
        # The stable Deployment has no replicas field: its autoscaler owns it, and an apply
        # that set it would undo the autoscaler's work every time.
        body = {"replicas": canary_replicas(spec), **body}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": body}


def _service(spec: KubernetesSpec, name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, name, _labels(spec, name, spec.version), spec.model_uri),
        "spec": {
            "type": "ClusterIP",
            "selector": _service_selector(name),
            "ports": [
                {
                    "name": "http",
                    "port": SERVICE_PORT,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }


def _autoscaler(spec: KubernetesSpec, name: str) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, name, _labels(spec, name, spec.version), spec.model_uri),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": spec.target_cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def _inference_service(spec: KubernetesSpec, name: str) -> Manifest:
    canary = spec.canary_model_uri is not None and spec.canary_version is not None
    uri = spec.canary_model_uri if canary else spec.model_uri
    version = spec.canary_version if canary else spec.version
    assert uri is not None and version is not None
    labels = _labels(spec, name, version)
    metadata = _metadata(spec, name, labels, uri)
    predictor: dict[str, Any] = {
        "minReplicas": spec.min_replicas,
        "maxReplicas": spec.max_replicas,
        "labels": labels.copy(),
        "annotations": _scrape_annotations(spec),
        "containers": [_container(spec, name, uri, kserve=True)],
        "volumes": _volumes(),
    }
    if canary:
        metadata["annotations"]["modelyard.io/stable-model-uri"] = spec.model_uri
        predictor["canaryTrafficPercent"] = spec.canary_percent
    return {
        "apiVersion": KSERVE_API_VERSION,
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }


# --- output and validation --------------------------------------------------------------------


def to_yaml(manifests: Iterable[Manifest]) -> str:
    """One YAML document per manifest, each opened by ``---``, keys sorted (as kubectl prints
    them), so the same manifests always give the same text.

    Raises:
        InvalidArgument: PyYAML is not installed.
    """
    try:
        import yaml
    except ImportError:
        raise InvalidArgument(f"Writing manifests as YAML needs PyYAML: {INSTALL_HINT}") from None

    class Dumper(yaml.SafeDumper):
        """No anchors and aliases (&id001) for objects met twice: kubectl reads them, but
        people and diffs should not have to."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump_all(
        list(manifests),
        Dumper=Dumper,
        explicit_start=True,
        sort_keys=True,
        default_flow_style=False,
        width=4096,
    )
