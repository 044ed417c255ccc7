"""Checking rendered manifests without a cluster: the Kubernetes API schemas bundled with
kubernetes-validate, what those schemas leave to the API server, and a schema of the KServe
``InferenceService`` fields modelyard renders."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from modelyard.deploy.kubernetes_spec import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    INSTALL_HINT,
    KSERVE_API_VERSION,
    QUANTITY_PATTERN,
    Manifest,
)
from modelyard.errors import InvalidArgument


def validate(manifests: Iterable[Manifest], kubernetes_version: str = "1.30") -> None:
    """Check manifests as the API server would take them, without a cluster.

    Deployments, Services and HorizontalPodAutoscalers (any built-in kind) are checked against
    the OpenAPI schemas of ``kubernetes_version`` bundled with kubernetes-validate, in strict
    mode (an unknown field is an error); it reports the first error of each manifest. Then
    what the schemas leave to the API server: every container has an image, and a workload's
    selector matches its pod labels. An ``InferenceService`` is checked against a schema of the
    KServe v1beta1 fields modelyard renders (every error is reported) and minReplicas <=
    maxReplicas. Every manifest is checked before anything is raised.

    Raises:
        InvalidArgument: one line per problem, ``Kind/name: path: message``; or the version is
            not one kubernetes-validate has schemas for; or the ``kubernetes`` extra is missing.
    """
    try:
        import jsonschema
        import kubernetes_validate
        from kubernetes_validate.utils import all_versions
    except ImportError:
        raise InvalidArgument(
            f"Validating manifests needs kubernetes-validate: {INSTALL_HINT}"
        ) from None
    version = _major_minor(kubernetes_version)
    supported = sorted({_major_minor(v) for v in all_versions()}, key=_version_key)
    if version not in supported:
        raise InvalidArgument(
            f"Kubernetes {kubernetes_version!r}: kubernetes-validate "
            f"{kubernetes_validate.__version__} has schemas for {supported[0]} to {supported[-1]}."
        )
    isvc_validator = jsonschema.Draft202012Validator(INFERENCE_SERVICE_SCHEMA)
    problems: list[str] = []
    for index, manifest in enumerate(manifests):
        if not isinstance(manifest, dict) or not all(
            isinstance(manifest.get(key), str) for key in ("apiVersion", "kind")
        ):
            problems.append(f"manifest {index}: apiVersion and kind must be strings")
            continue
        subject = f"{manifest['kind']}/{_name_of(manifest) or f'(manifest {index})'}"
        found: list[tuple[str, str]] = []
        if (manifest["apiVersion"], manifest["kind"]) == (KSERVE_API_VERSION, "InferenceService"):
            errors = sorted(
                isvc_validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path))
            )
            found += [(_path(e.absolute_path), e.message) for e in errors]
            found += _replica_bounds(manifest)
        else:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                found.append((_path(exc.absolute_path), exc.message))
            except (
                kubernetes_validate.SchemaNotFoundError,
                kubernetes_validate.InvalidSchemaError,
            ) as exc:
                found.append(("apiVersion", exc.message))
            found += _workload_problems(manifest)
        problems += [f"{subject}: {path}: {message}" for path, message in found]
    if problems:
        raise InvalidArgument(
            f"{len(problems)} problem(s) in the manifests (Kubernetes {version}):\n"
            + "\n".join(f"- {p}" for p in problems)
        )


def _major_minor(version: str) -> str:
    found = re.match(r"^v?(\d+)\.(\d+)(\.\d+)?$", version)
    if found is None:
        raise InvalidArgument(f"Kubernetes version {version!r} is not like 1.30 or 1.30.2.")
    return f"{found[1]}.{found[2]}"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _name_of(manifest: Manifest) -> str | None:
    metadata = manifest.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _path(parts: Iterable[str | int]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return text or "(top level)"


def _at(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


# Kinds whose pod template lives at spec.template.
_WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})


def _workload_problems(manifest: Manifest) -> list[tuple[str, str]]:
    if manifest["kind"] not in _WORKLOADS:
        return []
    found = []
    containers = _at(manifest, "spec", "template", "spec", "containers")
    if not isinstance(containers, list) or not containers:
        found.append(("spec.template.spec.containers", "a pod needs at least one container"))
        containers = []
    for i, container in enumerate(containers):
        image = container.get("image") if isinstance(container, dict) else None
        if not isinstance(image, str) or not image.strip():
            found.append(
                (f"spec.template.spec.containers[{i}].image", "a container needs an image")
            )
    selector = _at(manifest, "spec", "selector", "matchLabels")
    labels = _at(manifest, "spec", "template", "metadata", "labels")
    if isinstance(selector, dict) and (
        not isinstance(labels, dict) or any(labels.get(k) != v for k, v in selector.items())
    ):
        found.append(("spec.selector.matchLabels", "does not match spec.template.metadata.labels"))
    return found


def _replica_bounds(manifest: Manifest) -> list[tuple[str, str]]:
    low = _at(manifest, "spec", "predictor", "minReplicas")
    high = _at(manifest, "spec", "predictor", "maxReplicas")
    if isinstance(low, int) and isinstance(high, int) and high and low > high:
        return [("spec.predictor.maxReplicas", f"{high} is below minReplicas ({low})")]
    return []


# --- the InferenceService schema --------------------------------------------------------------
# The fields of KServe's v1beta1 CRD (config/crd/full/serving.kserve.io_inferenceservices.yaml)
# that render() uses, closed to others so that a misspelt field is an error, with the limits
# KServe's webhook and Knative add: a DNS-1035 name, one port, canaryTrafficPercent 0..100.


def _object(required: Iterable[str] = (), **properties: Any) -> dict[str, Any]:
    closed = {"type": "object", "properties": properties, "additionalProperties": False}
    return closed | {"required": list(required)} if required else closed


def _array(items: dict[str, Any], **limits: int) -> dict[str, Any]:
    return {"type": "array", "items": items, **limits}


def _integer(low: int, high: int | None = None) -> dict[str, Any]:
    return {"type": "integer", "minimum": low} | ({} if high is None else {"maximum": high})


def _text(**constraints: Any) -> dict[str, Any]:
    return {"type": "string", **constraints}


_STRING_MAP = {"type": "object", "additionalProperties": _text()}
_QUANTITY_VALUE = {"anyOf": [_text(pattern=QUANTITY_PATTERN), {"type": "number"}]}
_RESOURCES = _object(cpu=_QUANTITY_VALUE, memory=_QUANTITY_VALUE)
_PROBE = _object(
    ["httpGet"],
    httpGet=_object(
        ["port"],
        path=_text(pattern="^/"),
        port={"anyOf": [_integer(1, 65535), _text(minLength=1)]},
        scheme={"enum": ["HTTP", "HTTPS"]},
    ),
    initialDelaySeconds=_integer(0),
    periodSeconds=_integer(1),
    timeoutSeconds=_integer(1),
    failureThreshold=_integer(1),
    successThreshold=_integer(1),
)
_SECRET_KEY = _object(["name", "key"], name=_text(), key=_text(), optional={"type": "boolean"})
_ENV_VAR = _object(
    ["name"], name=_text(minLength=1), value=_text(), valueFrom=_object(secretKeyRef=_SECRET_KEY)
)
# Knative gives a container one port, named http1 (HTTP/1) or h2c.
_PORTS = _array(
    _object(
        ["containerPort"],
        name={"enum": ["http1", "h2c"]},
        containerPort=_integer(1, 65535),
        protocol={"const": "TCP"},
    ),
    maxItems=1,
)
_SECURITY = _object(
    runAsNonRoot={"type": "boolean"},
    readOnlyRootFilesystem={"type": "boolean"},
    allowPrivilegeEscalation={"type": "boolean"},
    capabilities=_object(drop=_array(_text()), add=_array(_text())),
    seccompProfile=_object(["type"], type={"enum": ["RuntimeDefault", "Localhost"]}),
)
_CONTAINER = _object(
    ["name", "image"],
    name=_text(minLength=1),
    image=_text(minLength=1),
    command=_array(_text()),
    args=_array(_text()),
    ports=_PORTS,
    env=_array(_ENV_VAR),
    resources=_object(requests=_RESOURCES, limits=_RESOURCES),
    readinessProbe=_PROBE,
    livenessProbe=_PROBE,
    volumeMounts=_array(
        _object(["name", "mountPath"], name=_text(), mountPath=_text(pattern="^/"))
    ),
    securityContext=_SECURITY,
)
_VOLUME = _object(
    ["name", "emptyDir"],
    name=_text(maxLength=63, pattern=DNS1123_LABEL.pattern),
    emptyDir=_object(medium=_text(), sizeLimit=_QUANTITY_VALUE),
)
_PREDICTOR = _object(
    ["containers"],
    containers=_array(_CONTAINER, minItems=1),
    minReplicas=_integer(0),
    maxReplicas=_integer(0),
    canaryTrafficPercent=_integer(0, 100),
    labels=_STRING_MAP,
    annotations=_STRING_MAP,
    volumes=_array(_VOLUME),
)
INFERENCE_SERVICE_SCHEMA: dict[str, Any] = _object(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": KSERVE_API_VERSION},
    kind={"const": "InferenceService"},
    metadata=_object(
        ["name"],
        name=_text(maxLength=63, pattern=DNS1035_LABEL.pattern),
        namespace=_text(maxLength=63, pattern=DNS1123_LABEL.pattern),
        labels=_STRING_MAP,
        annotations=_STRING_MAP,
    ),
    spec=_object(["predictor"], predictor=_PREDICTOR),
)
