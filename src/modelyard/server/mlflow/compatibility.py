"""The table of MLflow REST endpoints and their status in modelyard.

``endpoints.toml`` next to this module is the source of truth: one entry per endpoint of each RPC
in MLflow's MlflowService, ModelRegistryService, MlflowArtifactsService and WebhookService. This
module loads and validates it, and renders ``docs/mlflow-compatibility.md``::

    python -m modelyard.server.mlflow.compatibility > docs/mlflow-compatibility.md
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

__all__ = [
    "STATUSES",
    "Endpoint",
    "EndpointTableError",
    "load_endpoints",
    "main",
    "parse_endpoints",
    "render_markdown",
    "supported_routes",
]

STATUSES: Final = ("supported", "planned", "unsupported")
METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
API_VERSIONS: Final = frozenset({2, 3})

_PACKAGE: Final = "modelyard.server.mlflow"
_TABLE_FILE: Final = "endpoints.toml"
_DIFFERENCES_FILE: Final = "differences.md"
_REQUIRED_KEYS: Final = frozenset({"service", "rpc", "method", "api_version", "path", "status"})
_OPTIONAL_KEYS: Final = frozenset({"issue", "note"})
_PATH_PARAMETER: Final = re.compile(r"\{[^{}]*\}")
_PATH_SYNTAX: Final = re.compile(r"/[A-Za-z0-9_.\-/{}]*")

_INTRO: Final = """\
# MLflow REST API compatibility

modelyard speaks the REST API of MLflow 3.17.2. This page lists every endpoint of MLflow's
tracking (`MlflowService`), model registry (`ModelRegistryService`), artifact
(`MlflowArtifactsService`) and webhook (`WebhookService`) services with its status in modelyard.

Paths are relative to the API root: modelyard serves them under `/api/2.0/` and `/ajax-api/2.0/`
(`/api/3.0/` and `/ajax-api/3.0/` for the endpoints MLflow introduced with API version 3, marked
3.0 in the *API* column), and under `/projects/<name>/` in front of those for every project other
than `default`. Artifacts are served under `/api/2.0/mlflow-artifacts/`.

- **supported**: served by modelyard with MLflow's request and response format.
- **planned**: not served yet; the issue, where there is one, tracks the work.
- **unsupported**: deliberately not served, for the reason given.

Generated from `src/modelyard/server/mlflow/endpoints.toml` by
`python -m modelyard.server.mlflow.compatibility > docs/mlflow-compatibility.md`; edit the table,
not this page.
"""


class EndpointTableError(ValueError):
    """The endpoint table is malformed."""


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint of one MLflow RPC and modelyard's status for it.

    Attributes:
        service: MLflow service name, e.g. ``MlflowService``.
        rpc: RPC name in the service descriptor, e.g. ``createExperiment``.
        method: HTTP method.
        api_version: major API version; the endpoint lives under ``/api/<api_version>.0``.
        path: path below the API root with ``{name}`` parameters.
        status: one of ``STATUSES``.
        issue: tracking issue of a planned endpoint.
        note: reason for the status.
    """

    service: str
    rpc: str
    method: str
    api_version: int
    path: str
    status: str
    issue: int | None = None
    note: str | None = None

    @property
    def rest_path(self) -> str:
        """The full REST path, e.g. ``/api/2.0/mlflow/experiments/create``."""
        return f"/api/{self.api_version}.0{self.path}"

    @property
    def route_key(self) -> tuple[str, int, str]:
        """What the router matches on: method, API version and path with parameters unnamed."""
        return self.method, self.api_version, _PATH_PARAMETER.sub("{}", self.path)


def load_endpoints() -> list[Endpoint]:
    """Load and validate the endpoint table shipped with the package, in file order."""
    text = resources.files(_PACKAGE).joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    return parse_endpoints(text)


def parse_endpoints(text: str) -> list[Endpoint]:
    """Parse and validate an endpoint table given as TOML text.

    Raises:
        EndpointTableError: the text is not valid TOML or an entry breaks a rule of the table.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EndpointTableError(f"endpoint table is not valid TOML: {exc}") from exc
    unknown = set(document) - {"endpoint"}
    if unknown:
        raise EndpointTableError(f"unknown top-level keys: {sorted(unknown)}")
    entries = document.get("endpoint", [])
    endpoints = [_parse_entry(index, entry) for index, entry in enumerate(entries, start=1)]
    _check_unique_routes(endpoints)
    return endpoints


def supported_routes(endpoints: Iterable[Endpoint]) -> set[tuple[str, str]]:
    """The ``(method, rest_path)`` pairs of the supported endpoints.

    Paths include the versioned API root (``/api/2.0/...``) because MLflow reuses some paths
    across API versions, and keep MLflow's ``{name}`` parameter syntax.
    """
    return {(e.method, e.rest_path) for e in endpoints if e.status == "supported"}


def load_differences() -> str:
    """The hand-written section on behaviour that deliberately differs from MLflow."""
    return resources.files(_PACKAGE).joinpath(_DIFFERENCES_FILE).read_text(encoding="utf-8")


def render_markdown(endpoints: Iterable[Endpoint], differences: str = "") -> str:
    """Render the compatibility page: intro, status counts, one table per service, and the
    section on deliberate differences."""
    endpoints = list(endpoints)
    parts = [_INTRO, f"**Summary:** {_count_text(endpoints)}\n"]
    for service, members in _group_by_service(endpoints).items():
        parts.append(_service_section(service, members))
    if differences:
        parts.append(differences)
    return "\n".join(parts)


def main() -> None:
    """Write the compatibility page for the packaged table to standard output."""
    sys.stdout.write(render_markdown(load_endpoints(), load_differences()))


def _parse_entry(index: int, entry: Mapping[str, Any]) -> Endpoint:
    where = f"endpoint #{index} ({entry.get('method')} {entry.get('path')})"
    missing = _REQUIRED_KEYS - set(entry)
    unknown = set(entry) - _REQUIRED_KEYS - _OPTIONAL_KEYS
    if missing:
        raise EndpointTableError(f"{where}: missing keys {sorted(missing)}")
    if unknown:
        raise EndpointTableError(f"{where}: unknown keys {sorted(unknown)}")
    endpoint = Endpoint(
        service=_require_text(where, entry, "service"),
        rpc=_require_text(where, entry, "rpc"),
        method=_require_text(where, entry, "method"),
        api_version=_require_int(where, entry, "api_version"),
        path=_require_text(where, entry, "path"),
        status=_require_text(where, entry, "status"),
        issue=_require_int(where, entry, "issue") if "issue" in entry else None,
        note=_require_text(where, entry, "note") if "note" in entry else None,
    )
    _check_endpoint(where, endpoint)
    return endpoint


def _require_text(where: str, entry: Mapping[str, Any], key: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise EndpointTableError(f"{where}: {key} must be a non-empty string")
    return value


def _require_int(where: str, entry: Mapping[str, Any], key: str) -> int:
    value = entry[key]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise EndpointTableError(f"{where}: {key} must be a positive integer")
    return value


def _check_endpoint(where: str, endpoint: Endpoint) -> None:
    if endpoint.method not in METHODS:
        raise EndpointTableError(f"{where}: method must be one of {sorted(METHODS)}")
    if endpoint.api_version not in API_VERSIONS:
        raise EndpointTableError(f"{where}: api_version must be one of {sorted(API_VERSIONS)}")
    if not _PATH_SYNTAX.fullmatch(endpoint.path):
        raise EndpointTableError(f"{where}: path must start with / and use {{name}} parameters")
    if endpoint.status not in STATUSES:
        raise EndpointTableError(f"{where}: status must be one of {list(STATUSES)}")
    if endpoint.issue is not None and endpoint.status != "planned":
        raise EndpointTableError(f"{where}: only planned endpoints have an issue")
    if endpoint.note is None and _note_required(endpoint):
        raise EndpointTableError(f"{where}: a {endpoint.status} endpoint needs a note")


def _note_required(endpoint: Endpoint) -> bool:
    return endpoint.status == "unsupported" or (
        endpoint.status == "planned" and endpoint.issue is None
    )


def _check_unique_routes(endpoints: list[Endpoint]) -> None:
    counts = Counter(e.route_key for e in endpoints)
    duplicates = sorted(
        f"{method} /api/{version}.0{path}" for (method, version, path), n in counts.items() if n > 1
    )
    if duplicates:
        raise EndpointTableError(f"duplicate routes in endpoint table: {duplicates}")


def _group_by_service(endpoints: list[Endpoint]) -> dict[str, list[Endpoint]]:
    groups: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        groups.setdefault(endpoint.service, []).append(endpoint)
    return groups


def _count_text(endpoints: list[Endpoint]) -> str:
    counts = Counter(e.status for e in endpoints)
    by_status = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    return f"{len(endpoints)} endpoints: {by_status}."


def _service_section(service: str, endpoints: list[Endpoint]) -> str:
    lines = [
        f"## {service}\n",
        f"{_count_text(endpoints)}\n",
        "| Method | API | Path | RPC | Status | Issue / note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines.extend(_table_row(endpoint) for endpoint in endpoints)
    return "\n".join(lines) + "\n"


def _table_row(endpoint: Endpoint) -> str:
    cells = [
        endpoint.method,
        f"{endpoint.api_version}.0",
        f"`{endpoint.path}`",
        f"`{endpoint.rpc}`",
        endpoint.status,
        _escape_text(_issue_and_note(endpoint)),
    ]
    return "| " + " | ".join(cells) + " |"


def _issue_and_note(endpoint: Endpoint) -> str:
    parts = []
    if endpoint.issue is not None:
        parts.append(f"#{endpoint.issue}")
    if endpoint.note is not None:
        parts.append(endpoint.note)
    return ": ".join(parts)


def _escape_text(text: str) -> str:
    return re.sub(r"([\\|<>*_`\[\]])", r"\\\1", text).replace("\n", " ")


if __name__ == "__main__":
    main()
