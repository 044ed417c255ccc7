"""Delivery rules without storage or network: MLflow's signature, the request each target gets,
the internal-address guard, backoff, retry decisions, subscriptions, payloads and stored secrets.

The expected values come from notes/mlflow-webhooks-spec.md (MLflow 3.17.2), not from the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from modelyard.delivery import signing
from modelyard.delivery.requests import OutgoingRequest, build_request
from modelyard.delivery.secrets import SecretBox, key_from
from modelyard.delivery.ssrf import Unresolvable, check_destination, check_url, parse_networks
from modelyard.domain.audit import Action, Change
from modelyard.domain.events import (
    Event,
    EventType,
    Filters,
    NewEvent,
    Outcome,
    Target,
    TargetKind,
    Webhook,
    WebhookStatus,
    event_for,
    retry_delay_ms,
    run_finished,
)
from modelyard.domain.experiments import LifecycleStage
from modelyard.domain.runs import RunInfo, RunStatus
from modelyard.errors import InvalidArgument

# 2023-11-14T22:13:20Z, the instant of the spec's worked example.
T0_S = 1_700_000_000
T0_MS = T0_S * 1000
DELIVERY_KEY = "123e4567-e89b-12d3-a456-426614174000"

# MLflow's fixed model_version.created example (spec §7.3).
VERSION_DATA: dict[str, Any] = {
    "name": "example_model",
    "version": "1",
    "source": "models:/123",
    "run_id": "abcd1234abcd5678",
    "tags": {"example_key": "example_value"},
    "description": "An example model version",
}


def make_event(
    type_: EventType = EventType.VERSION_CREATED,
    payload: dict[str, Any] | None = None,
    *,
    model_name: str | None = "example_model",
    alias: str | None = None,
    created_at: int = T0_MS,
) -> Event:
    return Event(
        id=7,
        project_id=1,
        type=type_,
        payload=dict(VERSION_DATA) if payload is None else payload,
        created_at=created_at,
        model_name=model_name,
        alias=alias,
    )


def published(new: NewEvent) -> Event:
    """The event as the outbox stores it."""
    return make_event(new.type, new.payload, model_name=new.model_name, alias=new.alias)


def send_webhook(
    event: Event, secret: str | None = "s3cr3t", now_s: int = T0_S + 5, attempt: int = 1
) -> OutgoingRequest:
    target = Target(TargetKind.WEBHOOK, "https://receiver.example.com/hook")
    return build_request(target, event, DELIVERY_KEY, secret, now_s, attempt)


# ---------------------------------------------------------------- signing (spec §7.5)


def receiver_signature(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """The spec's recipe, as a receiver written for MLflow computes it (not signing.signature)."""
    signed = f"{delivery_id}.{timestamp}.{body}"
    digest = hmac.new(secret.encode("utf-8"), signed.encode("utf-8"), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def receiver_accepts(secret: str, request: OutgoingRequest) -> bool:
    headers = request.headers
    expected = receiver_signature(
        secret,
        headers["X-MLflow-Delivery-Id"],
        headers["X-MLflow-Timestamp"],
        request.body.decode("utf-8"),
    )
    return hmac.compare_digest(expected, headers["X-MLflow-Signature"])


SPEC_SECRET = "whsec_test"
SPEC_TIMESTAMP = "1700000000"
SPEC_BODY = (
    '{"entity": "registered_model", "action": "created", '
    '"timestamp": "2023-11-14T22:13:20.000001+00:00", '
    '"data": {"name": "m", "tags": {}, "description": null}}'
)
SPEC_HEX = "065ddbf2f2dada305dd0e12db6803cc31f354f01eaff98f26ed69b6151807ee4"
SPEC_SIGNATURE = "v1,Bl3b8vLa2jBd0OEttoA8wx81TwHq/5jybtabYVGAfuQ="


def test_signature_reproduces_the_spec_worked_example() -> None:
    header = signing.signature(SPEC_SECRET, DELIVERY_KEY, SPEC_TIMESTAMP, SPEC_BODY.encode())

    assert header == SPEC_SIGNATURE
    assert base64.b64decode(header.removeprefix("v1,")).hex() == SPEC_HEX


def test_the_receiver_recipe_of_this_file_reproduces_the_spec_worked_example() -> None:
    assert receiver_signature(SPEC_SECRET, DELIVERY_KEY, SPEC_TIMESTAMP, SPEC_BODY) == (
        SPEC_SIGNATURE
    )


def test_a_receiver_written_for_mlflow_verifies_a_signed_delivery() -> None:
    request = send_webhook(make_event(), secret="s3cr3t", now_s=T0_S + 5)

    assert receiver_accepts("s3cr3t", request)
    assert not receiver_accepts("other", request)
    assert request.headers["X-MLflow-Signature"] == signing.signature(
        "s3cr3t", DELIVERY_KEY, str(T0_S + 5), request.body
    )
    assert signing.verify(
        "s3cr3t",
        DELIVERY_KEY,
        request.headers["X-MLflow-Timestamp"],
        request.body,
        request.headers["X-MLflow-Signature"],
        now_s=T0_S + 10,
    )


def test_a_signature_with_non_ascii_text_is_computed_over_utf8() -> None:
    body = '{"name": "mod\u00e8le"}'
    assert signing.signature("cl\u00e9", "id", "1", body.encode("utf-8")) == (
        receiver_signature("cl\u00e9", "id", "1", body)
    )


BODY = b'{"entity": "model_version", "action": "created"}'


def signed_header(timestamp: str = SPEC_TIMESTAMP, body: bytes = BODY) -> str:
    return signing.signature("s3cr3t", DELIVERY_KEY, timestamp, body)


def test_verify_accepts_a_matching_signature_within_the_tolerance() -> None:
    for now in (T0_S, T0_S + 300, T0_S - 300):
        assert signing.verify(
            "s3cr3t", DELIVERY_KEY, SPEC_TIMESTAMP, BODY, signed_header(), now_s=now
        )


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "header", "now_s"),
    [
        pytest.param(
            "s3cr3t", SPEC_TIMESTAMP, BODY + b" ", signed_header(), T0_S, id="changed-body"
        ),
        pytest.param("wrong", SPEC_TIMESTAMP, BODY, signed_header(), T0_S, id="wrong-secret"),
        pytest.param("s3cr3t", SPEC_TIMESTAMP, BODY, signed_header(), T0_S + 301, id="too-old"),
        pytest.param("s3cr3t", SPEC_TIMESTAMP, BODY, signed_header(), T0_S - 301, id="in-future"),
        pytest.param("s3cr3t", "soon", BODY, signed_header("soon"), T0_S, id="non-numeric-ts"),
        pytest.param("s3cr3t", "1700000001", BODY, signed_header(), T0_S, id="other-timestamp"),
        pytest.param("s3cr3t", SPEC_TIMESTAMP, BODY, "v1,", T0_S, id="empty-signature"),
    ],
)
def test_verify_refuses(secret: str, timestamp: str, body: bytes, header: str, now_s: int) -> None:
    assert not signing.verify(secret, DELIVERY_KEY, timestamp, body, header, now_s=now_s)


def test_verify_refuses_a_non_ascii_signature_header() -> None:
    assert not signing.verify("s3cr3t", DELIVERY_KEY, SPEC_TIMESTAMP, BODY, "v1,\u00e9", now_s=T0_S)


# ------------------------------------------------------- webhook requests (spec §7.1, §7.4)


def test_a_webhook_body_is_mlflows_envelope() -> None:
    request = send_webhook(make_event(created_at=T0_MS + 123))
    body = json.loads(request.body)

    assert list(body) == ["entity", "action", "timestamp", "data"]
    assert body == {
        "entity": "model_version",
        "action": "created",
        "timestamp": "2023-11-14T22:13:20.123000+00:00",
        "data": VERSION_DATA,
    }
    assert request.url == "https://receiver.example.com/hook"
    assert request.form is None


def test_a_webhook_timestamp_on_a_whole_second_has_no_fraction() -> None:
    body = json.loads(send_webhook(make_event(created_at=T0_MS)).body)
    assert body["timestamp"] == "2023-11-14T22:13:20+00:00"


def test_a_webhook_body_has_mlflows_bytes() -> None:
    payload = {**VERSION_DATA, "description": "d\u00e9sc"}
    request = send_webhook(make_event(payload=payload))
    assert request.body == json.dumps(json.loads(request.body)).encode("utf-8")


def test_webhook_headers_carry_the_delivery_key_and_the_sending_time() -> None:
    request = send_webhook(make_event(), secret="s3cr3t", now_s=T0_S + 42)

    assert request.headers["X-MLflow-Delivery-Id"] == DELIVERY_KEY
    assert request.headers["X-MLflow-Timestamp"] == str(T0_S + 42)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-MLflow-Signature"].startswith("v1,")


@pytest.mark.parametrize("secret", [None, ""])
def test_a_webhook_without_a_secret_is_not_signed(secret: str | None) -> None:
    request = send_webhook(make_event(), secret=secret)

    assert "X-MLflow-Signature" not in request.headers
    assert request.headers["X-MLflow-Delivery-Id"] == DELIVERY_KEY


def test_retries_resend_the_same_body_with_a_fresh_timestamp() -> None:
    first = send_webhook(make_event(), now_s=T0_S + 1, attempt=1)
    later = send_webhook(make_event(), now_s=T0_S + 900, attempt=4)

    assert later.body == first.body
    assert later.headers["X-MLflow-Delivery-Id"] == first.headers["X-MLflow-Delivery-Id"]
    assert first.headers["X-MLflow-Timestamp"] == str(T0_S + 1)
    assert later.headers["X-MLflow-Timestamp"] == str(T0_S + 900)
    # Each attempt is signed for its own timestamp, so a receiver with a replay window takes it.
    assert receiver_accepts("s3cr3t", first)
    assert receiver_accepts("s3cr3t", later)
    assert later.headers["X-MLflow-Signature"] != first.headers["X-MLflow-Signature"]


# ------------------------------------------------------------------------------- GitLab

GITLAB = Target(TargetKind.GITLAB, "https://gitlab.example.com/", project="group/sub/proj")


def test_a_gitlab_target_triggers_the_projects_pipeline() -> None:
    request = build_request(GITLAB, make_event(), DELIVERY_KEY, "glptt-token", T0_S, 1)

    assert request.url == (
        "https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fproj/trigger/pipeline"
    )
    assert "glptt-token" not in request.url
    assert request.form is not None
    assert request.form["token"] == "glptt-token"
    assert request.form["ref"] == "main"
    assert {k: v for k, v in request.form.items() if k.startswith("variables[MODEL_")} == {
        "variables[MODEL_NAME]": "example_model",
        "variables[MODEL_VERSION]": "1",
        "variables[MODEL_URI]": "models:/example_model/1",
        "variables[MODEL_ALIAS]": "",
    }
    assert request.form["variables[EVENT]"] == "model_version.created"


def test_a_gitlab_target_uses_its_ref() -> None:
    target = Target(TargetKind.GITLAB, "https://gitlab.example.com", project="42", ref="release")
    request = build_request(target, make_event(), DELIVERY_KEY, "glptt-token", T0_S, 1)

    assert request.url == "https://gitlab.example.com/api/v4/projects/42/trigger/pipeline"
    assert request.form is not None
    assert request.form["ref"] == "release"


def test_a_gitlab_pipeline_for_an_alias_learns_the_alias() -> None:
    change = Change(Action.ALIAS_SET, "fraud", 3, after={"alias": "champion", "version": 3})
    new = event_for(change)
    assert new is not None

    request = build_request(GITLAB, published(new), DELIVERY_KEY, "glptt-token", T0_S, 1)

    assert request.form is not None
    assert request.form["variables[MODEL_NAME]"] == "fraud"
    assert request.form["variables[MODEL_VERSION]"] == "3"
    assert request.form["variables[MODEL_URI]"] == "models:/fraud/3"
    assert request.form["variables[MODEL_ALIAS]"] == "champion"
    assert request.form["variables[EVENT]"] == "model_version_alias.created"


# ------------------------------------------------------------------------------- GitHub

GITHUB = Target(TargetKind.GITHUB, "https://api.github.com/", repository="owner/repo")


def test_a_github_target_sends_a_repository_dispatch() -> None:
    event = make_event(
        payload={**VERSION_DATA, "name": "fraud", "version": "3"}, model_name="fraud"
    )
    request = build_request(GITHUB, event, DELIVERY_KEY, "ghp_token", T0_S, 1)
    body = json.loads(request.body)

    assert request.url == "https://api.github.com/repos/owner/repo/dispatches"
    assert request.headers["Authorization"] == "Bearer ghp_token"
    assert "ghp_token" not in request.url
    assert "ghp_token" not in request.body.decode()
    assert body["event_type"] == "model_version.created"
    payload = body["client_payload"]
    assert len(payload) <= 10  # GitHub refuses more top-level properties
    assert payload["model_name"] == "fraud"
    assert payload["model_version"] == "3"
    assert payload["model_uri"] == "models:/fraud/3"
    assert payload["model_alias"] == ""
    assert payload["event"] == "model_version.created"


def test_a_github_target_uses_its_event_type() -> None:
    target = Target(
        TargetKind.GITHUB, "https://ghe.example.com/api/v3", repository="o/r", event_type="deploy"
    )
    request = build_request(target, make_event(), DELIVERY_KEY, "ghp_token", T0_S, 1)

    assert request.url == "https://ghe.example.com/api/v3/repos/o/r/dispatches"
    assert json.loads(request.body)["event_type"] == "deploy"


# ------------------------------------------------------------------- URLs (spec §6.3)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://example.com/hook", "http"),
        ("file:///etc/passwd", "http"),
        ("http:///hook", "no host"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://token@example.com/hook", "credentials"),
        ("https://example.com:99999/hook", "port"),
        ("https://example.com:http/hook", "port"),
        ("https://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_check_url_refuses(url: str, complaint: str) -> None:
    with pytest.raises(InvalidArgument, match=complaint):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/hook", ("https", "example.com", 443)),
        ("http://Example.COM:8080/x?y=1", ("http", "example.com", 8080)),
        ("https://[2001:db8::1]/hook", ("https", "2001:db8::1", 443)),
    ],
)
def test_check_url_reads_scheme_host_and_port(url: str, expected: tuple[str, str, int]) -> None:
    assert check_url(url) == expected


@pytest.mark.parametrize("url", ["https://[::1/hook", "https://[not-an-ip]/hook"])
def test_check_url_refuses_a_malformed_ip_literal(url: str) -> None:
    with pytest.raises(InvalidArgument):
        check_url(url)


def test_check_url_refuses_port_zero() -> None:
    with pytest.raises(InvalidArgument, match="port"):
        check_url("https://example.com:0/hook")


# ------------------------------------------------------------ destinations (SSRF guard)

INTERNAL = [
    pytest.param("http://127.0.0.1:5891/hook", "127.0.0.0/8", id="loopback"),
    pytest.param("http://localhost:8080/hook", "127.0.0.0/8, ::1/128", id="localhost"),
    pytest.param("http://10.1.2.3/hook", "10.0.0.0/8", id="rfc1918"),
    pytest.param("http://169.254.169.254/latest/meta-data/", "169.254.169.254/32", id="metadata"),
    pytest.param("http://[::1]:8080/hook", "::1/128", id="ipv6-loopback"),
    pytest.param("http://[::ffff:127.0.0.1]/hook", "127.0.0.0/8", id="ipv4-mapped"),
    pytest.param("http://0.0.0.0/hook", "0.0.0.0/32", id="unspecified"),
    pytest.param("http://100.64.0.1/hook", "100.64.0.0/10", id="cgnat"),
    pytest.param("http://[fd00::1]/hook", "fc00::/7", id="ipv6-ula"),
]


@pytest.mark.parametrize(("url", "allowance"), INTERNAL)
def test_internal_destinations_are_refused_by_default(url: str, allowance: str) -> None:
    with pytest.raises(InvalidArgument, match="MODELYARD_WEBHOOK_ALLOWED_NETWORKS") as caught:
        check_destination(url, ())
    assert not isinstance(caught.value, Unresolvable)


@pytest.mark.parametrize(("url", "allowance"), INTERNAL)
def test_internal_destinations_pass_when_their_network_is_allowed(url: str, allowance: str) -> None:
    check_destination(url, parse_networks(allowance))


def test_allowing_some_networks_keeps_refusing_the_others() -> None:
    allowed = parse_networks("127.0.0.0/8, 169.254.169.254/32")

    check_destination("http://127.0.0.1:5891/hook", allowed)
    check_destination("http://169.254.169.254/latest/meta-data/", allowed)
    with pytest.raises(InvalidArgument, match=re.escape("10.1.2.3")):
        check_destination("http://10.1.2.3/hook", allowed)
    with pytest.raises(InvalidArgument, match=re.escape("169.254.169.253")):
        check_destination("http://169.254.169.253/hook", allowed)


def test_a_bare_address_allows_that_address_only() -> None:
    allowed = parse_networks("127.0.0.1")

    check_destination("http://127.0.0.1/hook", allowed)
    with pytest.raises(InvalidArgument):
        check_destination("http://127.0.0.2/hook", allowed)


@pytest.mark.parametrize(
    "url",
    ["https://93.184.216.34/hook", "http://93.184.216.34:8080/", "https://[2606:4700::1111]/"],
)
def test_public_addresses_need_no_allowance(url: str) -> None:
    check_destination(url, ())


def test_check_destination_refuses_a_bad_url_before_resolving() -> None:
    with pytest.raises(InvalidArgument, match="http"):
        check_destination("ftp://93.184.216.34/hook", ())


def test_an_unresolvable_host_is_reported_as_such() -> None:
    with pytest.raises(Unresolvable, match=re.escape("no-such-receiver.invalid")):
        check_destination("https://no-such-receiver.invalid/hook", ())


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://[64:ff9b::a01:203]/hook", id="nat64-10.1.2.3"),
        pytest.param("http://[2002:a9fe:a9fe::]/hook", id="6to4-169.254.169.254"),
    ],
)
def test_internal_addresses_wrapped_in_ipv6_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument, match="MODELYARD_WEBHOOK_ALLOWED_NETWORKS"):
        check_destination(url, ())


@pytest.mark.parametrize("host", ["receiver..example.com", "a" * 64 + ".example.com"])
def test_a_host_with_an_invalid_label_is_refused(host: str) -> None:
    # Refused as a 400 when the webhook is created, not left to crash a delivery later.
    with pytest.raises(InvalidArgument, match="not a host name"):
        check_url(f"https://{host}/hook")
    with pytest.raises(InvalidArgument, match="not a host name"):
        check_destination(f"https://{host}/hook", ())


def test_parse_networks_reads_a_list() -> None:
    assert parse_networks("") == ()
    assert [str(n) for n in parse_networks(" 10.0.0.0/8 ,, 127.0.0.1, ::1 ")] == [
        "10.0.0.0/8",
        "127.0.0.1/32",
        "::1/128",
    ]


@pytest.mark.parametrize("spec", ["10.0.0.0/8, not-a-network", "10.0.0.0/33", "localhost"])
def test_parse_networks_refuses_garbage(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="CIDR") as caught:
        parse_networks(spec)
    bad = spec.rsplit(",", 1)[-1].strip()
    assert repr(bad) in caught.value.message


# ----------------------------------------------------------------------------- backoff

BASE_MS, CAP_MS = 1_000, 60_000


def ceiling(attempt: int) -> int:
    return min(CAP_MS, BASE_MS * 2 ** (attempt - 1))


@pytest.mark.parametrize("seed", range(20))
def test_backoff_grows_exponentially_within_jitter_up_to_the_cap(seed: int) -> None:
    rng = random.Random(seed)
    delays = [retry_delay_ms(n, BASE_MS, CAP_MS, rng) for n in range(1, 13)]

    for n, delay in enumerate(delays, start=1):
        assert ceiling(n) / 2 <= delay <= ceiling(n) <= CAP_MS
    # While the ceiling doubles, the lower half of the next window starts where this one ends.
    doubling = [n for n in range(1, 12) if ceiling(n + 1) == 2 * ceiling(n)]
    assert doubling == [1, 2, 3, 4, 5]
    for n in doubling:
        assert delays[n] >= delays[n - 1]
    assert CAP_MS / 2 <= retry_delay_ms(64, BASE_MS, CAP_MS, rng) <= CAP_MS


def test_backoff_is_jittered_and_reproducible() -> None:
    by_seed = [retry_delay_ms(5, BASE_MS, CAP_MS, random.Random(seed)) for seed in range(10)]

    assert len(set(by_seed)) > 5
    assert by_seed == [retry_delay_ms(5, BASE_MS, CAP_MS, random.Random(s)) for s in range(10)]


# ------------------------------------------------------------------------------ outcomes


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504])
def test_transient_failures_are_retried(status: int | None) -> None:
    outcome = Outcome(status, error="boom")
    assert outcome.worth_retrying
    assert not outcome.succeeded


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_refusals_by_the_receiver_are_not_retried(status: int) -> None:
    outcome = Outcome(status, error="no")
    assert not outcome.worth_retrying
    assert not outcome.succeeded


@pytest.mark.parametrize("status", [None, 503])
def test_permanent_failures_are_never_retried(status: int | None) -> None:
    assert not Outcome(status, error="internal address", permanent=True).worth_retrying


@pytest.mark.parametrize(
    ("status", "succeeded"),
    [(200, True), (201, True), (204, True), (None, False), (301, False), (304, False)],
)
def test_only_2xx_succeeds(status: int | None, succeeded: bool) -> None:
    assert Outcome(status).succeeded is succeeded


# ------------------------------------------------------------------ filters and webhooks


@pytest.mark.parametrize(
    ("model_name", "accepted"),
    [("fraud-v2", True), ("fraud-", True), ("xfraud", False), ("fraud", False), (None, False)],
)
def test_a_model_name_filter_is_a_glob(model_name: str | None, accepted: bool) -> None:
    assert Filters(model_name="fraud-*").accept(make_event(model_name=model_name)) is accepted


@pytest.mark.parametrize(
    ("alias", "accepted"), [("champion", True), ("challenger", False), (None, False)]
)
def test_an_alias_filter_matches_the_alias_exactly(alias: str | None, accepted: bool) -> None:
    event = make_event(EventType.ALIAS_CREATED, model_name="fraud", alias=alias)
    assert Filters(alias="champion").accept(event) is accepted


def test_no_filters_accept_events_without_a_model() -> None:
    new = run_finished(run_info())
    assert Filters().accept(make_event(new.type, new.payload, model_name=None))


def make_webhook(
    status: WebhookStatus = WebhookStatus.ACTIVE, filters: Filters | None = None
) -> Webhook:
    return Webhook(
        id="wh-1",
        project_id=1,
        name="deploy",
        target=Target(TargetKind.WEBHOOK, "https://receiver.example.com/hook"),
        events=(EventType.VERSION_CREATED, EventType.ALIAS_CREATED),
        status=status,
        created_at=T0_MS,
        updated_at=T0_MS,
        filters=filters or Filters(),
    )


def test_an_active_webhook_wants_its_subscribed_events() -> None:
    hook = make_webhook()

    assert hook.wants(make_event(EventType.VERSION_CREATED))
    assert hook.wants(make_event(EventType.ALIAS_CREATED, alias="champion"))
    assert not hook.wants(make_event(EventType.ALIAS_DELETED, alias="champion"))
    assert not hook.wants(make_event(EventType.MODEL_CREATED))


def test_a_disabled_webhook_wants_nothing() -> None:
    assert not make_webhook(WebhookStatus.DISABLED).wants(make_event(EventType.VERSION_CREATED))


def test_a_webhook_applies_its_filters() -> None:
    hook = make_webhook(filters=Filters(model_name="fraud-*"))

    assert hook.wants(make_event(model_name="fraud-v2"))
    assert not hook.wants(make_event(model_name="churn"))


# ----------------------------------------------------------------- payloads (spec §7.2)

VERSION_STATE: dict[str, Any] = {  # what the audit log records of a new version
    "name": "wh-model",
    "version": 1,
    "semver": None,
    "stage": "None",
    "description": "v1 desc",
    "source": "/tmp/whspec/art/0/7bb37e17185f4e3c80e2b9b62e8083a0/artifacts/model",
    "run_id": "7bb37e17185f4e3c80e2b9b62e8083a0",
    "model_id": None,
    "tags": {"stage": "dev"},
    "aliases": [],
}


@pytest.mark.parametrize(
    ("change", "type_", "data"),
    [
        pytest.param(
            Change(
                Action.MODEL_CREATED,
                "wh-model",
                after={
                    "name": "wh-model",
                    "description": "a model",
                    "tags": {"team": "ml"},
                    "aliases": {},
                },
            ),
            "registered_model.created",
            {"name": "wh-model", "tags": {"team": "ml"}, "description": "a model"},
            id="registered_model.created",
        ),
        pytest.param(
            Change(Action.VERSION_CREATED, "wh-model", 1, after=VERSION_STATE),
            "model_version.created",
            {
                "name": "wh-model",
                "version": "1",
                "source": VERSION_STATE["source"],
                "run_id": "7bb37e17185f4e3c80e2b9b62e8083a0",
                "tags": {"stage": "dev"},
                "description": "v1 desc",
            },
            id="model_version.created",
        ),
        pytest.param(
            Change(
                Action.VERSION_CREATED,
                "wh-model",
                2,
                after={**VERSION_STATE, "version": 2, "run_id": None, "description": None},
            ),
            "model_version.created",
            {
                "name": "wh-model",
                "version": "2",
                "source": VERSION_STATE["source"],
                "run_id": None,
                "tags": {"stage": "dev"},
                "description": None,
            },
            id="model_version.created-bare",
        ),
        pytest.param(
            Change(
                Action.VERSION_TAG_SET,
                "wh-model",
                1,
                before={"key": "validated", "value": "false"},
                after={"key": "validated", "value": "true"},
            ),
            "model_version_tag.set",
            {"name": "wh-model", "version": "1", "key": "validated", "value": "true"},
            id="model_version_tag.set",
        ),
        pytest.param(
            Change(
                Action.VERSION_TAG_DELETED,
                "wh-model",
                1,
                before={"key": "validated", "value": "true"},
            ),
            "model_version_tag.deleted",
            {"name": "wh-model", "version": "1", "key": "validated"},
            id="model_version_tag.deleted",
        ),
        pytest.param(
            Change(
                Action.ALIAS_SET,
                "wh-model",
                1,
                before=None,
                after={"alias": "champion", "version": 1},
            ),
            "model_version_alias.created",
            {"name": "wh-model", "alias": "champion", "version": "1"},
            id="model_version_alias.created",
        ),
        pytest.param(
            Change(
                Action.ALIAS_DELETED,
                "wh-model",
                1,
                before={"alias": "champion", "version": 1},
            ),
            "model_version_alias.deleted",
            {"name": "wh-model", "alias": "champion"},
            id="model_version_alias.deleted",
        ),
    ],
)
def test_registry_changes_publish_mlflows_payloads(
    change: Change, type_: str, data: dict[str, Any]
) -> None:
    new = event_for(change)

    assert new is not None
    assert new.type == type_
    assert new.payload == data
    assert list(new.payload) == list(data)  # MLflow's key order, so json.dumps bytes match
    assert new.model_name == "wh-model"


def test_alias_events_carry_the_alias_for_filters() -> None:
    created = event_for(Change(Action.ALIAS_SET, "m", 2, after={"alias": "prod", "version": 2}))
    deleted = event_for(
        Change(Action.ALIAS_DELETED, "m", 2, before={"alias": "prod", "version": 2})
    )
    tagged = event_for(Change(Action.VERSION_TAG_SET, "m", 2, after={"key": "k", "value": "v"}))

    assert created is not None and created.alias == "prod"
    assert deleted is not None and deleted.alias == "prod"
    assert tagged is not None and tagged.alias is None


def test_a_model_created_without_description_publishes_an_empty_description() -> None:
    after = {"name": "wh-model-2", "description": None, "tags": {}, "aliases": {}}
    new = event_for(Change(Action.MODEL_CREATED, "wh-model-2", after=after))

    assert new is not None
    assert new.payload == {"name": "wh-model-2", "tags": {}, "description": ""}


@pytest.mark.parametrize(
    "change",
    [
        Change(Action.MODEL_RENAMED, "new", before={"name": "old"}, after={"name": "new"}),
        Change(
            Action.MODEL_UPDATED,
            "m",
            before={"description": "a"},
            after={"description": "b"},
        ),
        Change(Action.MODEL_DELETED, "m", before={"name": "m", "tags": {}}),
        Change(Action.MODEL_TAG_SET, "m", after={"key": "k", "value": "v"}),
        Change(Action.MODEL_TAG_DELETED, "m", before={"key": "k", "value": "v"}),
        Change(
            Action.VERSION_UPDATED, "m", 1, before={"description": "a"}, after={"description": "b"}
        ),
        Change(Action.VERSION_DELETED, "m", 1, before=VERSION_STATE),
    ],
    ids=lambda change: str(change.action),
)
def test_changes_mlflow_does_not_announce_publish_nothing(change: Change) -> None:
    assert event_for(change) is None


def run_info() -> RunInfo:
    return RunInfo(
        run_id="0f3c",
        experiment_id="4",
        run_name="nightly-train",
        user_id="alice",
        status=RunStatus.FAILED,
        start_time=T0_MS,
        end_time=T0_MS + 60_000,
        artifact_uri="s3://bucket/4/0f3c/artifacts",
        lifecycle_stage=LifecycleStage.ACTIVE,
    )


def test_a_finished_run_publishes_its_outcome() -> None:
    new = run_finished(run_info())

    assert new.type is EventType.RUN_FINISHED
    assert json.loads(json.dumps(new.payload)) == {
        "run_id": "0f3c",
        "experiment_id": "4",
        "run_name": "nightly-train",
        "status": "FAILED",
        "user_id": "alice",
        "start_time": T0_MS,
        "end_time": T0_MS + 60_000,
    }
    assert new.model_name is None
    body = json.loads(send_webhook(published(new)).body)
    assert (body["entity"], body["action"]) == ("run", "finished")


# ----------------------------------------------------------------------- secrets at rest


def test_a_sealed_secret_opens_with_its_key_only_and_hides_the_secret() -> None:
    box = SecretBox(Fernet.generate_key())
    sealed = box.seal("s3cr3t-value")

    assert "s3cr3t-value" not in sealed
    assert box.open(sealed) == "s3cr3t-value"
    assert box.seal("s3cr3t-value") != sealed  # equal secrets are not recognisable at rest


def test_a_secret_sealed_under_another_key_says_how_to_recover() -> None:
    sealed = SecretBox(Fernet.generate_key()).seal("s3cr3t-value")

    with pytest.raises(InvalidArgument, match=r"key changed\..*Set the webhook's secret again"):
        SecretBox(Fernet.generate_key()).open(sealed)


def test_an_invalid_key_names_the_setting_and_how_to_generate_one() -> None:
    with pytest.raises(InvalidArgument, match="MODELYARD_SECRET_KEY") as caught:
        SecretBox(b"not a key")
    assert "Fernet.generate_key()" in caught.value.message


def test_a_missing_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "secret.key"

    key = key_from(None, key_file)

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_from(None, key_file) == key
    sealed = SecretBox(key).seal("s3cr3t-value")
    assert SecretBox(key_from(None, key_file)).open(sealed) == "s3cr3t-value"


def test_a_key_file_with_a_trailing_newline_is_read(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(key + b"\n")

    assert key_from(None, key_file) == key


def test_a_configured_key_leaves_the_key_file_alone(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    existing = tmp_path / "existing.key"
    existing.write_bytes(b"kept")

    assert key_from("configured", missing) == b"configured"
    assert key_from("configured", existing) == b"configured"
    assert not missing.exists()
    assert existing.read_bytes() == b"kept"
