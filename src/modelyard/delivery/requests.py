"""The HTTP request each kind of target receives for an event."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import orjson

from modelyard.delivery import signing
from modelyard.domain.events import Event, Target, TargetKind

USER_AGENT = "modelyard-webhooks"


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None  # sent form-encoded instead of ``body``


def build_request(
    target: Target,
    event: Event,
    delivery_key: str,
    secret: str | None,
    now_s: int,
    attempt: int,
) -> OutgoingRequest:
    """What to send for ``event``. The body is the same on every attempt (its timestamp is the
    event's), so a receiver can deduplicate on the delivery id."""
    common = {
        "User-Agent": USER_AGENT,
        "X-Modelyard-Event": str(event.type),
        "X-Modelyard-Attempt": str(attempt),
        "Idempotency-Key": delivery_key,
    }
    match target.kind:
        case TargetKind.GITLAB:
            return _gitlab(target, event, delivery_key, secret, common)
        case TargetKind.GITHUB:
            return _github(target, event, delivery_key, secret, common)
    # json.dumps with its defaults, byte for byte what MLflow sends: receivers that check the
    # signature over a re-serialised body get the same bytes.
    body = json.dumps(
        {
            "entity": event.type.entity,
            "action": event.type.action,
            "timestamp": datetime.fromtimestamp(event.created_at / 1000, UTC).isoformat(),
            "data": event.payload,
        }
    ).encode()
    timestamp = str(now_s)
    headers = {
        **common,
        "Content-Type": "application/json",
        signing.DELIVERY_ID_HEADER: delivery_key,
        signing.TIMESTAMP_HEADER: timestamp,
    }
    if secret:
        headers[signing.SIGNATURE_HEADER] = signing.signature(secret, delivery_key, timestamp, body)
    return OutgoingRequest(target.url, body, headers)


def model_variables(event: Event) -> dict[str, str]:
    """What a CI pipeline needs to know: MODEL_NAME, MODEL_VERSION, MODEL_URI, MODEL_ALIAS,
    EVENT (empty when the event has no such thing)."""
    name = event.model_name or ""
    version = str(event.payload.get("version") or "")
    # Empty after an alias was removed: it no longer names a version to load.
    uri = f"models:/{name}/{version}" if name and version else ""
    return {
        "MODEL_NAME": name,
        "MODEL_VERSION": version,
        "MODEL_URI": uri,
        "MODEL_ALIAS": event.alias or "",
        "EVENT": str(event.type),
    }


def _gitlab(
    target: Target, event: Event, key: str, token: str | None, common: dict[str, str]
) -> OutgoingRequest:
    # POST /projects/:id/trigger/pipeline with the trigger token, the ref and variables[...]:
    # https://docs.gitlab.com/ci/triggers/
    project = quote(target.project or "", safe="")
    url = f"{target.url.rstrip('/')}/api/v4/projects/{project}/trigger/pipeline"
    form = {"token": token or "", "ref": target.ref or "main"}
    variables = {**model_variables(event), "MODELYARD_DELIVERY_ID": key}
    form.update({f"variables[{k}]": v for k, v in variables.items()})
    return OutgoingRequest(url, b"", dict(common), form=form)


def _github(
    target: Target, event: Event, key: str, token: str | None, common: dict[str, str]
) -> OutgoingRequest:
    # repository_dispatch: https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event
    url = f"{target.url.rstrip('/')}/repos/{target.repository}/dispatches"
    variables = model_variables(event)
    body = orjson.dumps(
        {
            "event_type": target.event_type or str(event.type),
            # GitHub allows at most 10 top-level properties here.
            "client_payload": {
                "model_name": variables["MODEL_NAME"],
                "model_version": variables["MODEL_VERSION"],
                "model_uri": variables["MODEL_URI"],
                "model_alias": variables["MODEL_ALIAS"],
                "event": variables["EVENT"],
                "delivery_id": key,
                "data": event.payload,
            },
        }
    )
    headers = {
        **common,
        "Content-Type": "application/json",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return OutgoingRequest(url, body, headers)
