"""What a Kubernetes deployment renders from: the spec, Kubernetes names and label values
made valid, and the checks a spec must pass before anything is rendered."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from modelyard.domain.registry import parse_models_uri
from modelyard.errors import InvalidArgument

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

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MODEL_LABEL = "modelyard.io/model"
VERSION_LABEL = "modelyard.io/version"
ENVIRONMENT_LABEL = "modelyard.io/environment"
TRACK_LABEL = "modelyard.io/track"
OWN_LABELS = frozenset({NAME_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL})

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


def name_limit(spec: KubernetesSpec, kind: Kind) -> int:
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


def spec_problems(spec: KubernetesSpec, kind: Kind) -> list[str]:
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
        elif key in OWN_LABELS or prefix == "modelyard.io":
            problems.append(f"label {key!r} is set by modelyard and cannot be given")
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            problems.append(f"label {key!r} has a value that is not a valid label value: {value!r}")
    return problems


def _subdomain(text: str) -> bool:
    return len(text) <= 253 and bool(_DNS1123_SUBDOMAIN.match(text))


# --- manifests --------------------------------------------------------------------------------
