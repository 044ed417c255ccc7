"""The client: one httpx.Client, errors in MLflow's shape turned into ClientError."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"


class ClientError(Exception):
    """The server refused a request; ``error_code`` is MLflow's (RESOURCE_DOES_NOT_EXIST...)."""

    def __init__(self, status_code: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.message = message


def tracking_uri_from_env(environment: Mapping[str, str] | None = None) -> str:
    """``MODELYARD_TRACKING_URI``, else ``MLFLOW_TRACKING_URI``, else the local default."""
    env = os.environ if environment is None else environment
    return (
        env.get("MODELYARD_TRACKING_URI")
        or env.get("MLFLOW_TRACKING_URI")
        or (DEFAULT_TRACKING_URI)
    )


def _auth_from_env(environment: Mapping[str, str]) -> httpx.Auth | None:
    """The credentials the mlflow client would send, from the same variables."""
    user = environment.get("MLFLOW_TRACKING_USERNAME")
    if user:
        return httpx.BasicAuth(user, environment.get("MLFLOW_TRACKING_PASSWORD", ""))
    token = environment.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return _Bearer(token)
    return None


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = self._header
        yield request


class Client:
    """``Client("http://host:5000")`` or, for a project, ``Client("http://host:5000/projects/x")``
    (the same URI the mlflow client uses)."""

    def __init__(
        self,
        tracking_uri: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environment is None else environment
        if not tracking_uri.startswith(("http://", "https://")):
            raise ValueError(
                f"The tracking URI {tracking_uri!r} is not an http(s) URL of a modelyard server."
            )
        self._http = httpx.Client(
            base_url=tracking_uri.rstrip("/") + "/api/v1",
            transport=transport,
            timeout=timeout,
            auth=_auth_from_env(env),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def lineage(self, model_uri: str) -> dict[str, Any]:
        """``{"model_version": ..., "lineage": ...}`` of ``models:/name/3`` (or ``@alias``)."""
        return self._get("/lineage", params={"model": model_uri})

    def audit(self, **filters: Any) -> list[dict[str, Any]]:
        """Every audit entry matching the filters (model, version, action, actor, since,
        until), newest first, following pages."""
        entries: list[dict[str, Any]] = []
        params = {k: v for k, v in filters.items() if v is not None}
        while True:
            page = self._get("/audit", params=params)
            entries += page["entries"]
            token = page.get("next_page_token")
            if not token:
                return entries
            params["page_token"] = token

    def create_version(self, name: str, source: str, **fields: Any) -> dict[str, Any]:
        """Register a version; ``semver="1.2.0"`` or ``bump="minor"`` give it a semver."""
        body = {"source": source, **{k: v for k, v in fields.items() if v is not None}}
        created = self._send("POST", f"/registered-models/{name}/versions", json=body)
        version: dict[str, Any] = created["model_version"]
        return version

    def alias_at(self, name: str, alias: str, at: int | str) -> int | None:
        """The version ``alias`` pointed at at time ``at`` (ms or ISO 8601), or None."""
        found = self._get(f"/registered-models/{name}/aliases/{alias}/history", params={"at": at})
        version: int | None = found["version"]
        return version

    def record_evaluation(
        self, name: str, version: int | str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Record an evaluation on a model version (what ``modelyard evaluate`` found): body
        ``{"run_id", "passed", "metrics", "baseline", "gates", "dataset"}``; returns the
        stored evaluation with its ``id`` and ``created_at``.

        Raises:
            ClientError: RESOURCE_DOES_NOT_EXIST for an unknown version, ENDPOINT_NOT_FOUND
                from a server that does not record evaluations yet.
        """
        found = self._send("POST", _evaluations_path(name, version), json=dict(body))
        evaluation: dict[str, Any] = found["evaluation"]
        return evaluation

    def evaluations(self, name: str, version: int | str) -> list[dict[str, Any]]:
        """The evaluations recorded on a model version, newest first.

        Raises:
            ClientError: as record_evaluation.
        """
        found: list[dict[str, Any]] = self._get(_evaluations_path(name, version), params={})[
            "evaluations"
        ]
        return found

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        """The newest deliveries first; filters: status, webhook_id, event_type, max_results."""
        params = {k: v for k, v in filters.items() if v is not None}
        found: list[dict[str, Any]] = self._get("/deliveries", params=params)["deliveries"]
        return found

    def redeliver(self, delivery_id: int) -> dict[str, Any]:
        """Make the delivery due now, with a fresh allowance of attempts."""
        found: dict[str, Any] = self._send("POST", f"/deliveries/{delivery_id}/redeliver")[
            "delivery"
        ]
        return found

    def deploy(self, model_uri: str, environment: str, **options: Any) -> dict[str, Any]:
        """Deploy (options: target, strategy, canary_percent, dry_run); with dry_run, the
        policy checks instead of a deployment."""
        body = {"model": model_uri, "environment": environment}
        body.update({k: v for k, v in options.items() if v is not None})
        return self._send("POST", "/deployments", json=body)

    def rollback(self, environment: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._send(
            "POST", "/deployments/rollback", json={"environment": environment, "name": name}
        )["deployment"]
        return found

    def approve(self, model_uri: str, environment: str, comment: str | None) -> dict[str, Any]:
        body = {"model": model_uri, "environment": environment, "comment": comment}
        return self._send("POST", "/approvals", json=body)

    def deployments(
        self, environment: str | None = None, name: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"environment": environment, "name": name}.items() if v}
        found: list[dict[str, Any]] = self._get("/deployments", params=params)["deployments"]
        return found

    def deployment(self, environment: str, name: str, at: str | None = None) -> dict[str, Any]:
        """The deployment, its history, and with ``at`` the revision in force then."""
        params = {"at": at} if at else {}
        return self._get(
            f"/deployments/{quote(environment, safe='')}/{quote(name, safe='')}", params=params
        )

    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._send("GET", path, params=params)

    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(
                0, "UNREACHABLE", f"Cannot reach {self._http.base_url}: {exc}"
            ) from exc
        if response.is_success:
            body: dict[str, Any] = response.json()
            return body
        try:
            error = response.json()
            raise ClientError(response.status_code, error["error_code"], error["message"])
        except (ValueError, KeyError, TypeError):
            raise ClientError(
                response.status_code, "HTTP_ERROR", f"{response.status_code}: {response.text[:200]}"
            ) from None


def _evaluations_path(name: str, version: int | str) -> str:
    # A model name may hold "/" and other characters that must not split the path.
    return f"/registered-models/{quote(name, safe='')}/versions/{version}/evaluations"
