"""Kubernetes manifests for a model deployment: what render() writes, and that validate() takes
it for Kubernetes 1.30 (and refuses real mistakes). No cluster."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from modelyard.deploy.kubernetes import (
    KubernetesSpec,
    Manifest,
    canary_replicas,
    label_value,
    render,
    resource_name,
    to_yaml,
)
from modelyard.deploy.kubernetes_validation import validate
from modelyard.errors import InvalidArgument

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md"
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

BASE = KubernetesSpec(
    name="fraud-production",
    namespace="ml",
    model_uri="models:/fraud/3",
    model_name="fraud",
    version=3,
    environment="production",
    image="registry.example.com/modelyard-serve:0.1.0",
    tracking_uri="http://modelyard.platform.svc:5000",
)
CANARY = {"canary_model_uri": "models:/fraud/4", "canary_version": 4, "canary_percent": 20}


def spec(**changes: Any) -> KubernetesSpec:
    return dataclasses.replace(BASE, **changes)


def only(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(found) == 1, [m["kind"] for m in manifests]
    return found[0]


def pod_spec(manifest: Manifest) -> dict[str, Any]:
    if manifest["kind"] == "InferenceService":
        return manifest["spec"]["predictor"]
    return manifest["spec"]["template"]["spec"]


def container(manifest: Manifest) -> dict[str, Any]:
    (found,) = pod_spec(manifest)["containers"]
    return found


def env(manifest: Manifest) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(manifest)["env"]}


SPECS = {
    "plain": BASE,
    "canary": spec(**CANARY, replicas=4, max_replicas=8),
    "everything": spec(
        **CANARY,
        token_secret="modelyard-token",
        labels={"team": "risk", "example.com/cost-centre": "cc-42"},
        cpu_limit="2",
        memory_limit="2Gi",
        workers=3,
        port=9000,
        onnx="require",
        min_replicas=2,
        replicas=3,
        max_replicas=10,
    ),
    "odd names": spec(
        name="Fraud Detector/v2 (Production)",
        model_name="Fraud Detector v2",
        model_uri="models:/Fraud Detector v2/3",
        environment="Prod EU",
    ),
}


# --- every rendering validates ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["deployment", "kserve"])
@pytest.mark.parametrize("case", SPECS)
def test_every_rendered_manifest_validates_for_kubernetes_1_30(case: str, kind: str) -> None:
    manifests = render(SPECS[case], kind)
    validate(manifests, "1.30")
    names = [m["metadata"]["name"] for m in manifests]
    assert all(DNS1035.match(n) and len(n) <= 63 for n in names), names
    for manifest in manifests:
        for labels in (manifest["metadata"]["labels"], _pod_labels(manifest)):
            assert all(LABEL_VALUE.match(v) and len(v) <= 63 for v in labels.values()), labels


def _pod_labels(manifest: Manifest) -> dict[str, str]:
    if manifest["kind"] == "Deployment":
        return manifest["spec"]["template"]["metadata"]["labels"]
    if manifest["kind"] == "InferenceService":
        return manifest["spec"]["predictor"]["labels"]
    return {}


def test_the_manifests_validate_for_an_older_and_the_latest_kubernetes() -> None:
    manifests = render(SPECS["everything"], "deployment")
    validate(manifests, "1.28")
    validate(manifests, "v1.37.2")


# --- validate() catches real mistakes ---------------------------------------------------------


def test_a_wrong_type_is_reported_with_the_manifest_and_the_path() -> None:
    manifests = render(BASE, "deployment")
    only(manifests, "Deployment")["spec"]["replicas"] = "two"
    with pytest.raises(InvalidArgument) as caught:
        validate(manifests)
    assert (
        "Deployment/fraud-production: spec.replicas: 'two' is not of type" in caught.value.message
    )


def test_a_container_without_an_image_is_refused_in_a_deployment() -> None:
    manifests = render(BASE, "deployment")
    del container(only(manifests, "Deployment"))["image"]
    with pytest.raises(InvalidArgument) as caught:
        validate(manifests)
    assert (
        "Deployment/fraud-production: spec.template.spec.containers[0].image: "
        "a container needs an image"
    ) in caught.value.message


def test_a_container_without_an_image_is_refused_in_an_inference_service() -> None:
    manifests = render(BASE, "kserve")
    del container(manifests[0])["image"]
    with pytest.raises(InvalidArgument) as caught:
        validate(manifests)
    assert (
        "InferenceService/fraud-production: spec.predictor.containers[0]: "
        "'image' is a required property"
    ) in caught.value.message


def test_every_problem_of_every_manifest_is_listed_at_once() -> None:
    manifests = render(BASE, "deployment") + render(BASE, "kserve")
    only(manifests, "Service")["spec"]["ports"][0]["port"] = "eighty"
    only(manifests, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["kindd"] = "Deployment"
    isvc = only(manifests, "InferenceService")
    isvc["spec"]["predictor"]["canaryTrafficPercent"] = 150
    container(isvc)["readinessProbe"]["httpGet"]["path"] = "v2/health/ready"
    with pytest.raises(InvalidArgument) as caught:
        validate(manifests)
    lines = caught.value.message.splitlines()[1:]
    assert len(lines) == 4, lines
    assert any(line.startswith("- Service/fraud-production: spec.ports[0].port:") for line in lines)
    assert any(
        "HorizontalPodAutoscaler/fraud-production: spec.scaleTargetRef: Additional properties"
        in line
        for line in lines
    )
    assert any("spec.predictor.canaryTrafficPercent: 150 is greater than" in x for x in lines)
    assert any("containers[0].readinessProbe.httpGet.path" in line for line in lines)


def test_a_selector_that_misses_the_pod_labels_is_refused() -> None:
    manifests = render(BASE, "deployment")
    only(manifests, "Deployment")["spec"]["selector"]["matchLabels"]["modelyard.io/track"] = "x"
    with pytest.raises(InvalidArgument, match=r"spec\.selector\.matchLabels: does not match"):
        validate(manifests)


def test_an_unknown_api_or_malformed_manifest_is_reported() -> None:
    manifests: list[Manifest] = [
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}},
        {"kind": "Service"},
    ]
    with pytest.raises(InvalidArgument) as caught:
        validate(manifests)
    assert "Gadget/g: apiVersion: Couldn't find schema for kind Gadget" in caught.value.message
    assert "manifest 1: apiVersion and kind must be strings" in caught.value.message


@pytest.mark.parametrize("version", ["1.2", "1.99", "latest", "2"])
def test_a_kubernetes_version_without_schemas_is_refused(version: str) -> None:
    with pytest.raises(InvalidArgument, match="Kubernetes"):
        validate(render(BASE, "deployment"), version)


# --- the Deployment, Service and HorizontalPodAutoscaler ---------------------------------------


def test_the_service_selects_exactly_the_pods_of_the_deployments() -> None:
    manifests = render(SPECS["canary"], "deployment")
    selector = only(manifests, "Service")["spec"]["selector"]
    assert selector == {
        "app.kubernetes.io/name": "modelyard-inference",
        "app.kubernetes.io/instance": "fraud-production",
    }
    deployments = [m for m in manifests if m["kind"] == "Deployment"]
    assert len(deployments) == 2
    for deployment in deployments:
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    # The two Deployments never claim each other's pods.
    stable, canary = (d["spec"]["selector"]["matchLabels"] for d in deployments)
    assert stable["modelyard.io/track"] == "stable" and canary["modelyard.io/track"] == "canary"
    port = only(manifests, "Service")["spec"]["ports"][0]
    assert port["targetPort"] == container(deployments[0])["ports"][0]["name"] == "http"


def test_the_autoscaler_targets_the_stable_deployment_by_name_on_cpu() -> None:
    manifests = render(
        spec(min_replicas=2, replicas=3, max_replicas=7, target_cpu_percent=65), "deployment"
    )
    hpa = only(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": only(manifests, "Deployment")["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 7)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 65},
            },
        }
    ]
    # The autoscaler owns the size: an apply must not reset it.
    assert "replicas" not in only(manifests, "Deployment")["spec"]
    assert container(only(manifests, "Deployment"))["resources"]["requests"]["cpu"] == "500m"


def test_the_container_serves_the_model_on_the_port_with_probes_and_metrics() -> None:
    manifests = render(spec(port=9000, workers=2, onnx="off"), "deployment")
    deployment = only(manifests, "Deployment")
    served = container(deployment)
    assert served["command"] == ["modelyard"]
    assert served["args"] == [
        "serve",
        "models:/fraud/3",
        *["--host", "0.0.0.0", "--port", "9000", "--workers", "2", "--onnx", "off"],
        *["--model-dir", "/models/fraud-production"],
    ]
    assert served["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
    assert served["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 9000}
    assert served["readinessProbe"]["periodSeconds"] == 5
    assert served["readinessProbe"]["failureThreshold"] == 6
    assert served["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 9000}
    # The server listens only after the download: liveness waits for the startup probe.
    startup = served["startupProbe"]
    assert startup["httpGet"] == {"path": "/v2/health/live", "port": 9000}
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9000",
        "prometheus.io/path": "/metrics",
    }
    assert env(deployment)["MODELYARD_TRACKING_URI"] == "http://modelyard.platform.svc:5000"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["modelyard.io/model"] == "fraud"
    assert labels["modelyard.io/version"] == "3"
    assert labels["modelyard.io/environment"] == "production"


@pytest.mark.parametrize("kind", ["deployment", "kserve"])
def test_the_server_runs_locked_down_with_writable_emptydirs(kind: str) -> None:
    (workload, *_) = render(BASE, kind)
    served = container(workload)
    assert served["securityContext"] == {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    mounts = {m["mountPath"]: m["name"] for m in served["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    assert set(mounts) == {"/models", "/tmp"}
    assert all(volumes[name] == {"name": name, "emptyDir": {}} for name in mounts.values())


def test_the_token_comes_from_the_secret_when_one_is_named() -> None:
    for kind in ("deployment", "kserve"):
        with_token = render(spec(token_secret="modelyard-token"), kind)
        assert env(with_token[0])["MLFLOW_TRACKING_TOKEN"] == {
            "secretKeyRef": {"name": "modelyard-token", "key": "MLFLOW_TRACKING_TOKEN"}
        }
        assert "MLFLOW_TRACKING_TOKEN" not in env(render(BASE, kind)[0])
    assert "modelyard-token" not in to_yaml(render(BASE, "deployment"))


# --- canaries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "percent", "expected"),
    [(4, 20, 1), (9, 10, 1), (3, 50, 3), (10, 25, 3), (4, 75, 12), (1, 10, 1)],
)
def test_the_canary_deployment_has_replicas_in_proportion(
    replicas: int, percent: int, expected: int
) -> None:
    canary_spec = spec(**CANARY | {"canary_percent": percent}, replicas=replicas, max_replicas=10)
    manifests = render(canary_spec, "deployment")
    assert [m["kind"] for m in manifests] == [
        "Deployment",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
    ]
    canary = only(manifests, "Deployment", "fraud-production-canary")
    assert canary["spec"]["replicas"] == expected == canary_replicas(canary_spec)
    assert container(canary)["args"][1] == "models:/fraud/4"
    assert canary["spec"]["template"]["metadata"]["labels"]["modelyard.io/version"] == "4"
    assert canary["metadata"]["annotations"]["modelyard.io/canary-percent"] == str(percent)
    stable = only(manifests, "Deployment", "fraud-production")
    assert container(stable)["args"][1] == "models:/fraud/3"
    hpa = only(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "fraud-production"


def test_canary_replicas_refuses_a_share_a_deployment_cannot_take() -> None:
    for percent in (0, 100):
        with pytest.raises(InvalidArgument, match="1 to 99"):
            canary_replicas(spec(**CANARY | {"canary_percent": percent}))


def test_kserve_renders_one_inference_service_with_its_own_canary_split() -> None:
    (isvc,) = render(spec(**CANARY, min_replicas=2, replicas=2, max_replicas=6), "kserve")
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 20
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 6)
    served = container(isvc)
    assert served["name"] == "kserve-container"
    assert served["args"][:2] == ["serve", "models:/fraud/4"]
    assert env(isvc)["PROTOCOL"] == "v2"
    assert served["ports"] == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]
    assert served["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    assert served["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8080}
    assert served["livenessProbe"]["initialDelaySeconds"] == 600
    assert isvc["metadata"]["annotations"]["modelyard.io/stable-model-uri"] == "models:/fraud/3"
    assert predictor["labels"]["modelyard.io/version"] == "4"
    assert predictor["annotations"]["prometheus.io/port"] == "8080"
    (plain,) = render(BASE, "kserve")
    assert "canaryTrafficPercent" not in plain["spec"]["predictor"]
    assert container(plain)["args"][1] == "models:/fraud/3"


def test_kserve_may_hold_a_canary_at_zero_or_send_it_everything() -> None:
    for percent in (0, 100):
        (isvc,) = render(spec(**CANARY | {"canary_percent": percent}), "kserve")
        assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == percent
        validate([isvc])


# --- names ------------------------------------------------------------------------------------


def test_names_and_label_values_are_sanitised_deterministically() -> None:
    assert resource_name("Fraud Detector/v2") == "fraud-detector-v2"
    assert resource_name("fraud_production") == "fraud-production"
    assert resource_name("2024 churn") == "m-2024-churn"
    assert label_value("Fraud Detector/v2") == "Fraud-Detector-v2"
    assert label_value("__x__") == "x"
    assert label_value("日本") == label_value("日本") != label_value("中国")
    long = "a" * 80
    assert resource_name(long) == resource_name(long)
    assert len(resource_name(long)) <= 63
    assert resource_name(long) != resource_name(long + "b")
    assert len(label_value("B" * 100)) <= 63


def test_a_spec_is_rendered_under_its_sanitised_names() -> None:
    manifests = render(SPECS["odd names"], "deployment")
    assert {m["metadata"]["name"] for m in manifests} == {"fraud-detector-v2-production"}
    deployment = only(manifests, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["modelyard.io/model"] == "Fraud-Detector-v2"
    assert labels["modelyard.io/environment"] == "Prod-EU"
    assert deployment["metadata"]["annotations"]["modelyard.io/model-name"] == "Fraud Detector v2"
    assert container(deployment)["args"][1] == "models:/Fraud Detector v2/3"


def test_long_names_fit_the_suffixes_each_kind_adds() -> None:
    long = spec(**CANARY, name="fraud-detection-for-card-payments-in-the-european-union-production")
    deployment_names = {m["metadata"]["name"] for m in render(long, "deployment")}
    assert all(len(n) <= 63 for n in deployment_names)
    assert max(map(len, deployment_names)) == 63  # NAME-canary
    (isvc,) = render(long, "kserve")
    name = isvc["metadata"]["name"]
    assert len(f"{name}-predictor-{long.namespace}") <= 63
    assert len(f"{name}-predictor-00001") <= 63


@pytest.mark.parametrize("name", ["", "!!!", "日本語", "---"])
def test_a_name_that_cannot_be_made_valid_is_refused(name: str) -> None:
    with pytest.raises(InvalidArgument, match="cannot be made a Kubernetes name"):
        render(spec(name=name), "deployment")


@given(st.text(max_size=120))
def test_sanitised_names_and_label_values_are_always_valid(text: str) -> None:
    value = label_value(text)
    assert LABEL_VALUE.match(value) and len(value) <= 63
    try:
        name = resource_name(text, 56)
    except InvalidArgument:
        assert not re.search(r"[a-z0-9]", text.lower())
    else:
        assert DNS1035.match(name) and len(name) <= 56


# --- refused specs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"model_uri": "models:/fraud@production"}, "not pinned to a version number"),
        ({"model_uri": "models:/fraud/4"}, "does not name the model and version"),
        ({"model_uri": "runs:/abc/model"}, "Not a proper models:/ URI"),
        ({"namespace": "ML_Team"}, "namespace 'ML_Team' is not a DNS-1123 label"),
        ({"port": 80}, "port 80 is not between 1024 and 65535"),
        ({"workers": 0}, "workers is 0"),
        ({"onnx": "maybe"}, "onnx is 'maybe'"),
        ({"cpu_request": "lots"}, "cpu_request 'lots' is not a positive Kubernetes quantity"),
        ({"memory_request": "2Gi"}, "memory_request is above memory_limit"),
        ({"cpu_request": "2", "cpu_limit": "1500m"}, "cpu_request is above cpu_limit"),
        ({"min_replicas": 3, "max_replicas": 2, "replicas": 3}, "max_replicas (2) is below"),
        ({"replicas": 9}, "replicas (9) is outside"),
        ({"canary_percent": 10}, "no canary version is given"),
        ({"canary_model_uri": "models:/fraud/4"}, "needs both canary_model_uri and canary_version"),
        ({**CANARY, "canary_percent": 100}, "expected 1 to 99 for 'deployment'"),
        ({**CANARY, "canary_percent": 0}, "expected 1 to 99 for 'deployment'"),
        ({**CANARY, "canary_version": 3, "canary_model_uri": "models:/fraud/3"}, "stable one"),
        ({"token_secret": "Bad Secret"}, "token_secret 'Bad Secret' is not a valid Secret name"),
        ({"labels": {"app.kubernetes.io/instance": "x"}}, "is set by modelyard"),
        ({"labels": {"modelyard.io/team": "x"}}, "is set by modelyard"),
        ({"labels": {"bad key!": "x"}}, "label key 'bad key!' is not a valid"),
        ({"labels": {"team": "risk & fraud"}}, "not a valid label value"),
        ({"tracking_uri": "modelyard:5000"}, "is not an http(s) URL"),
        ({"image": ""}, "is not a container image reference"),
    ],
)
def test_an_invalid_spec_is_refused_with_the_reason(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        render(spec(**changes), "deployment")
    assert fragment in caught.value.message
    assert caught.value.message.startswith("Cannot render Kubernetes manifests for")


def test_every_problem_of_a_spec_is_listed() -> None:
    with pytest.raises(InvalidArgument) as caught:
        render(spec(name="!!", port=22, onnx="maybe"), "deployment")
    message = caught.value.message
    assert "cannot be made a Kubernetes name" in message
    assert "port 22" in message and "onnx is 'maybe'" in message


def test_kserve_refuses_knative_ports_and_namespaces_too_long_for_host_names() -> None:
    with pytest.raises(InvalidArgument, match="queue-proxy"):
        render(spec(port=9090), "kserve")
    with pytest.raises(InvalidArgument, match="leaves no room"):
        render(spec(namespace="n" * 50), "kserve")
    with pytest.raises(InvalidArgument, match="Unknown manifest kind"):
        render(BASE, "helm")


# --- YAML -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["deployment", "kserve"])
def test_to_yaml_round_trips_and_is_stable(kind: str) -> None:
    manifests = render(SPECS["everything"], kind)
    text = to_yaml(manifests)
    assert list(yaml.safe_load_all(text)) == manifests
    assert text == to_yaml(copy.deepcopy(manifests)) == to_yaml(render(SPECS["everything"], kind))
    assert text.startswith("---\napiVersion: ")
    assert text.count("---\n") == len(manifests)
    assert "&id" not in text and "*id" not in text
    assert "prometheus.io/scrape: 'true'" in text  # a string, not a YAML boolean


def test_to_yaml_writes_no_aliases_for_shared_objects() -> None:
    shared = {"app": "x"}
    text = to_yaml([{"a": shared, "b": shared}])
    assert "&" not in text and list(yaml.safe_load_all(text)) == [{"a": shared, "b": shared}]


# --- the documentation and the public surface -------------------------------------------------

DOC_SPECS = {
    "deployment": spec(min_replicas=2, replicas=2, max_replicas=8, token_secret="modelyard-token"),
    "kserve": spec(**CANARY, min_replicas=2, replicas=2, max_replicas=8),
}


def documented_yaml(heading: str) -> str:
    text = DOCS.read_text()
    section = text.split(heading, 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize(
    ("heading", "kind"),
    [("## Example: a Deployment", "deployment"), ("## Example: KServe with a canary", "kserve")],
)
def test_the_documented_examples_are_what_render_writes(heading: str, kind: str) -> None:
    assert documented_yaml(heading) == to_yaml(render(DOC_SPECS[kind], kind))
