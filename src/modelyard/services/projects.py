"""Use cases of projects (tenants)."""

from __future__ import annotations

import re
from collections.abc import Callable

from modelyard.domain.experiments import Project
from modelyard.errors import InvalidArgument
from modelyard.stores.base import UnitOfWorkFactory

_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def check_project_name(name: str) -> None:
    """Project names appear in URLs, so they are short, lower-case and path-safe."""
    if not _PROJECT_NAME.match(name):
        raise InvalidArgument(
            f"Invalid project name {name!r}: use 1 to 64 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or digit."
        )


class Projects:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    def create(self, name: str) -> Project:
        """Create a project with its own Default experiment (id 0).

        Raises:
            InvalidArgument: the name is not URL-safe.
            AlreadyExists: the name is taken.
        """
        check_project_name(name)
        with self._uow(write=True) as tx:
            project = tx.projects.create_project(name, self._now())
            tx.commit()
        return project

    def get(self, name: str) -> Project:
        with self._uow(write=False) as tx:
            return tx.projects.get_project(name)

    def list(self) -> list[Project]:
        with self._uow(write=False) as tx:
            return tx.projects.list_projects()
