"""The Kubernetes target: manifests that run ``modelyard serve`` for one model version.

``render`` turns a :class:`KubernetesSpec` into plain dictionaries, either a Deployment, a
Service and a HorizontalPodAutoscaler (plus a second Deployment for a canary), or one KServe
``InferenceService``. ``to_yaml`` writes them as one multi-document YAML file;
``kubernetes_validation.validate`` checks them. Nothing here talks to a cluster: applying the
manifests is the caller's job.

``render`` is pure Python; ``to_yaml`` and ``validate`` need the ``kubernetes`` extra
(``pip install 'modelyard[kubernetes]'``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from modelyard.domain.registry import parse_models_uri
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

Manifest = dict[str, Any]
Kind = Literal["deployment", "kserve"]

INSTALL_HINT = "pip install 'modelyard[kubernetes]'"
APP = "modelyard-inference"
MODEL_ROOT = "/models"
CANARY_SUFFIX = "-canary"
KSERVE_API_VERSION = "serving.kserve.io/v1beta1"
# KServe finds a custom predictor's container by this name and reads its protocol from PROTOCOL.
KSERVE_CONTAINER = "kserve-container"
# Ports of Knative's queue-proxy, which runs next to a KServe (serverless) predictor.
KNATIVE_RESERVED_PORTS = frozenset({8012, 8013, 8022, 9090, 9091})
SERVICE_PORT = 80

_NAME = "app.kubernetes.io/name"
_INSTANCE = "app.kubernetes.io/instance"
_MANAGED_BY = "app.kubernetes.io/managed-by"
_MODEL = "modelyard.io/model"
_VERSION = "modelyard.io/version"
_ENVIRONMENT = "modelyard.io/environment"
_TRACK = "modelyard.io/track"
_OWN_LABELS = frozenset({_NAME, _INSTANCE, _MANAGED_BY})

DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUANTITY = re.compile(
    r"^(?P<number>\d+(\.\d*)?|\.\d+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][-+]?\d+)?$"
)
QUANTITY_PATTERN = _QUANTITY.pattern
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")},
    **{s + "i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class KubernetesSpec:
    """What to run: one pinned model version, how many pods, and with what resources.

    Attributes:
        name: the deployment's name, e.g. ``fraud-production``; made a DNS-1035 label by
            :func:`resource_name` (``Fraud Production`` becomes ``fraud-production``).
        namespace: an existing namespace (a DNS-1123 label, used as given).
        model_uri: ``models:/NAME/VERSION``, pinned to ``model_name`` and ``version``.
        environment: the platform's environment name, recorded as a label.
        image: a container image with ``modelyard[serve]`` installed and a numeric non-root
            ``USER``.
        tracking_uri: the platform the pod downloads the model from (``MODELYARD_TRACKING_URI``).
        replicas: the stable size the canary's replica count is computed from; the
            HorizontalPodAutoscaler owns the stable Deployment's size between ``min_replicas``
            and ``max_replicas``.
        target_cpu_percent: the autoscaler's target, in percent of ``cpu_request``.
        token_secret: a Secret with the key ``MLFLOW_TRACKING_TOKEN``, given to the pod as that
            variable.
        canary_model_uri, canary_version, canary_percent: a second version taking about
            ``canary_percent`` of the requests.
        labels: extra labels for every object and pod.
        startup_seconds: how long a pod may take to download and load the model before it is
            restarted.
    """

    name: str
    namespace: str = "default"
    model_uri: str
    model_name: str
    version: int
    environment: str
    image: str
    tracking_uri: str
    replicas: int = 1
    min_replicas: int = 1
    max_replicas: int = 5
    target_cpu_percent: int = 70
    cpu_request: str = "500m"
    memory_request: str = "512Mi"
    cpu_limit: str | None = None
    memory_limit: str = "1Gi"
    workers: int = 1
    port: int = 8080
    onnx: str = "auto"
    token_secret: str | None = None
    canary_model_uri: str | None = None
    canary_version: int | None = None
    canary_percent: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    startup_seconds: int = 600


def resource_name(text: str, max_length: int = 63) -> str:
    """``text`` as a DNS-1035 label (what Services and InferenceServices need), deterministically.

    Lower-cased; every run of other characters than ``a-z0-9`` becomes one ``-``; ``m-`` is
    put before a leading digit; a name longer than ``max_length`` is cut and ends with 8 hex
    digits of the SHA-256 of ``text``, so that two long names stay apart.

    Raises:
        InvalidArgument: ``text`` has no ASCII letter or digit.
    """
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not name:
        raise InvalidArgument(
            f"The name {text!r} cannot be made a Kubernetes name: it has no letter or digit "
            "from a-z and 0-9."
        )
    if name[0].isdigit():
        name = "m-" + name
    if len(name) > max_length:
        name = name[: max_length - 9].rstrip("-") + "-" + _digest(text)
    return name


def label_value(text: str) -> str:
    """``text`` as a Kubernetes label value, deterministically: ``Fraud Detector/v2`` becomes
    ``Fraud-Detector-v2``. Runs of characters other than letters, digits, ``-_.`` become ``-``;
    a value longer than 63 characters, or with nothing left, ends with (or is) 8 hex digits of
    the SHA-256 of ``text``."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    if len(value) > 63:
        value = value[:54].rstrip("-_.") + "-" + _digest(text)
    elif not value and text:
        value = _digest(text)
    return value


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


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
    problems = _problems(spec, kind)
    name = ""
    try:
        name = resource_name(spec.name, _name_limit(spec, kind))
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


def _name_limit(spec: KubernetesSpec, kind: Kind) -> int:
    if kind == "deployment":
        return 63 - len(CANARY_SUFFIX)
    # KServe names the predictor NAME-predictor, its host NAME-predictor-NAMESPACE (one DNS
    # label) and its Knative revisions NAME-predictor-00001; each must fit in 63 characters.
    limit = min(63 - len("-predictor-00001"), 63 - len("-predictor-") - len(spec.namespace))
    if limit < 12:
        raise InvalidArgument(
            f"the namespace {spec.namespace!r} leaves no room for an InferenceService name "
            "(KServe's host name NAME-predictor-NAMESPACE must fit in 63 characters)"
        )
    return limit


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


def _problems(spec: KubernetesSpec, kind: Kind) -> list[str]:
    problems: list[str] = []
    if not DNS1123_LABEL.match(spec.namespace) or len(spec.namespace) > 63:
        problems.append(f"namespace {spec.namespace!r} is not a DNS-1123 label")
    problems += _pinned("model_uri", spec.model_uri, spec.model_name, spec.version)
    if not spec.environment:
        problems.append("environment is empty")
    if not spec.image or any(c.isspace() for c in spec.image):
        problems.append(f"image {spec.image!r} is not a container image reference")
    if not spec.tracking_uri.startswith(("http://", "https://")):
        problems.append(f"tracking_uri {spec.tracking_uri!r} is not an http(s) URL")
    problems += _sizes(spec)
    problems += _resources(spec)
    if not 1 <= spec.workers <= 64:
        problems.append(f"workers is {spec.workers}, expected 1 to 64")
    if not 1024 <= spec.port <= 65535:
        problems.append(
            f"port {spec.port} is not between 1024 and 65535 (the server runs without root and "
            "without capabilities)"
        )
    elif kind == "kserve" and spec.port in KNATIVE_RESERVED_PORTS:
        problems.append(f"port {spec.port} is taken by Knative's queue-proxy under KServe")
    if spec.onnx not in ("auto", "require", "off"):
        problems.append(f"onnx is {spec.onnx!r}, expected auto, require or off")
    if spec.token_secret is not None and not _subdomain(spec.token_secret):
        problems.append(f"token_secret {spec.token_secret!r} is not a valid Secret name")
    problems += _canary(spec, kind)
    problems += _user_labels(spec.labels)
    if spec.startup_seconds < 10:
        problems.append(f"startup_seconds is {spec.startup_seconds}, expected at least 10")
    return problems


def _pinned(field_name: str, uri: str, model_name: str, version: int | None) -> list[str]:
    expected = f"models:/{model_name}/{version}"
    try:
        parsed = parse_models_uri(uri)
    except InvalidArgument as exc:
        return [f"{field_name}: {exc.message}"]
    if parsed.version is None:
        return [f"{field_name} {uri!r} is not pinned to a version number: use {expected!r}"]
    if (parsed.name, parsed.version) != (model_name, version):
        return [f"{field_name} {uri!r} does not name the model and version given ({expected!r})"]
    return []


def _sizes(spec: KubernetesSpec) -> list[str]:
    problems = []
    if spec.min_replicas < 1:
        problems.append(f"min_replicas is {spec.min_replicas}, expected at least 1")
    if spec.max_replicas < spec.min_replicas:
        problems.append(
            f"max_replicas ({spec.max_replicas}) is below min_replicas ({spec.min_replicas})"
        )
    if not spec.min_replicas <= spec.replicas <= spec.max_replicas:
        problems.append(
            f"replicas ({spec.replicas}) is outside min_replicas..max_replicas "
            f"({spec.min_replicas}..{spec.max_replicas})"
        )
    if spec.target_cpu_percent < 1:
        problems.append(f"target_cpu_percent is {spec.target_cpu_percent}, expected at least 1")
    return problems


def _resources(spec: KubernetesSpec) -> list[str]:
    problems = []
    values: dict[str, Decimal] = {}
    for name in ("cpu_request", "memory_request", "cpu_limit", "memory_limit"):
        text = getattr(spec, name)
        if text is None:
            continue
        value = _quantity(text)
        if value is None or value <= 0:
            problems.append(f"{name} {text!r} is not a positive Kubernetes quantity (500m, 1Gi)")
        else:
            values[name] = value
    for resource in ("cpu", "memory"):
        request, limit = values.get(f"{resource}_request"), values.get(f"{resource}_limit")
        if request is not None and limit is not None and request > limit:
            problems.append(f"{resource}_request is above {resource}_limit")
    return problems


def _quantity(text: str) -> Decimal | None:
    found = _QUANTITY.match(text)
    if found is None:
        return None
    number, suffix = Decimal(found["number"]), found["suffix"] or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


def _canary(spec: KubernetesSpec, kind: Kind) -> list[str]:
    if spec.canary_model_uri is None and spec.canary_version is None:
        if spec.canary_percent:
            return [f"canary_percent is {spec.canary_percent} but no canary version is given"]
        return []
    if spec.canary_model_uri is None or spec.canary_version is None:
        return ["a canary needs both canary_model_uri and canary_version"]
    problems = _pinned(
        "canary_model_uri", spec.canary_model_uri, spec.model_name, spec.canary_version
    )
    if spec.canary_version == spec.version:
        problems.append(f"the canary version is the stable one ({spec.version})")
    low = 1 if kind == "deployment" else 0
    high = 99 if kind == "deployment" else 100
    if not low <= spec.canary_percent <= high:
        problems.append(
            f"canary_percent is {spec.canary_percent}, expected {low} to {high} for {kind!r}"
        )
    return problems


def _user_labels(labels: Mapping[str, str]) -> list[str]:
    problems = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (
            not name
            or len(name) > 63
            or not _LABEL_VALUE.match(name)
            or (prefix and not _subdomain(prefix))
        ):
            problems.append(f"label key {key!r} is not a valid Kubernetes label key")
        elif key in _OWN_LABELS or prefix == "modelyard.io":
            problems.append(f"label {key!r} is set by modelyard and cannot be given")
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            problems.append(f"label {key!r} has a value that is not a valid label value: {value!r}")
    return problems


def _subdomain(text: str) -> bool:
    return len(text) <= 253 and bool(_DNS1123_SUBDOMAIN.match(text))


# --- manifests --------------------------------------------------------------------------------


def _labels(
    spec: KubernetesSpec, name: str, version: int, track: str | None = None
) -> dict[str, str]:
    labels = {
        **spec.labels,
        _NAME: APP,
        _INSTANCE: name,
        _MANAGED_BY: "modelyard",
        _MODEL: label_value(spec.model_name),
        _VERSION: str(version),
        _ENVIRONMENT: label_value(spec.environment),
    }
    if track is not None:
        labels[_TRACK] = track
    return labels


def _service_selector(name: str) -> dict[str, str]:
    """Every pod of the instance, stable and canary: the split follows the pod counts."""
    return {_NAME: APP, _INSTANCE: name}


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
        "selector": {"matchLabels": {**_service_selector(name), _TRACK: track}},
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
