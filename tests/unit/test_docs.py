"""The documentation keeps up with the code: settings, error codes, commands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from modelyard.cli import main
from modelyard.config import Settings
from modelyard.errors import all_error_classes

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented_with_its_default() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        row = next(
            (line for line in text.splitlines() if f"`MODELYARD_{name.upper()}`" in line), ""
        )
        assert row, f"docs/configuration.md lacks MODELYARD_{name.upper()}"
        assert f"`{field.default}`" in row, f"default of {name} is {field.default!r}"


def test_every_error_code_is_documented() -> None:
    documented = set(re.findall(r"^## (\w+)$", (DOCS / "errors.md").read_text(), re.M))
    assert {cls.code for cls in all_error_classes()} <= documented


def commands(group: click.Group, prefix: str = "modelyard") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += commands(command, path)
        else:
            found.append(path)
    return found


def test_every_command_is_documented() -> None:
    documented = set(re.findall(r"^## (.+)$", (DOCS / "cli.md").read_text(), re.M))
    assert set(commands(main)) <= documented
