"""Dependencies point inward (docs/architecture.md): checked on the import statements."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "modelyard"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (module level or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in paths
        for name in sorted(imports_of(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_domain_uses_the_standard_library_only() -> None:
    allowed_prefixes = ("modelyard.domain", "modelyard.errors", "__future__")
    problems = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules_under("domain")
        for name in imports_of(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith(allowed_prefixes)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        (
            "services",
            (
                "sqlalchemy",
                "alembic",
                "starlette",
                "uvicorn",
                "modelyard.server",
                "modelyard.stores.sql",
                "modelyard.cli",
            ),
        ),
        (
            "stores",
            ("starlette", "uvicorn", "modelyard.server", "modelyard.services", "modelyard.cli"),
        ),
        ("domain", ("modelyard.stores", "modelyard.services", "modelyard.server")),
        # The client talks to a server over HTTP only, so it runs where none of these exist.
        (
            "client",
            (
                "sqlalchemy",
                "starlette",
                "modelyard.server",
                "modelyard.services",
                "modelyard.stores",
                "modelyard.bootstrap",
            ),
        ),
    ],
)
def test_inner_layers_do_not_import_outer_ones(folder: str, forbidden: tuple[str, ...]) -> None:
    assert offending(modules_under(folder), forbidden) == []


def test_only_the_sql_adapter_and_the_composition_root_touch_sqlalchemy() -> None:
    allowed = {PACKAGE / "bootstrap.py", *modules_under("stores/sql")}
    users = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path not in allowed
        and any(n.split(".")[0] in ("sqlalchemy", "alembic") for n in imports_of(path))
    ]
    assert users == []


def test_only_the_servers_import_the_web_framework() -> None:
    """The platform's server, and the inference server (uvicorn only: no framework)."""
    users = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(PACKAGE / "server")
        and any(n.split(".")[0] in ("starlette", "uvicorn") for n in imports_of(path))
    ]
    assert [u for u in users if not u.startswith("serving/")] == ["listening.py"]
    serving = {n.split(".")[0] for p in modules_under("serving") for n in imports_of(p)}
    assert "starlette" not in serving


def test_the_inference_server_reaches_the_platform_over_http_only() -> None:
    """It runs where no database is: in a container next to the application."""
    forbidden = (
        "sqlalchemy",
        "alembic",
        "starlette",
        "modelyard.stores",
        "modelyard.services",
        "modelyard.server",
    )
    assert offending(modules_under("serving"), forbidden) == []


def test_the_cli_imports_nothing_heavy_until_a_command_runs() -> None:
    heavy = ["sqlalchemy", "alembic", "starlette", "uvicorn", "pydantic", "httpx", "orjson"]
    code = f"import sys, modelyard.cli\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
