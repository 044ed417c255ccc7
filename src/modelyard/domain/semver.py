"""Semantic versions of model versions (https://semver.org, 2.0.0), as GitLab's registry uses them.

``1.4.2``, ``2.0.0-rc.1``; build metadata (``+build.5``) is accepted and ignored for ordering.
A version with a pre-release part is not *released*: "latest" skips it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from modelyard.errors import InvalidArgument

MAX_SEMVER_LENGTH = 128

_NUMBER = r"0|[1-9]\d*"
_IDENTIFIER = r"[0-9A-Za-z-]+"
_PATTERN = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
    rf"(?:\+(?P<build>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
)


class Bump(StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"


@dataclass(frozen=True, slots=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Raises InvalidArgument, naming the expected form, for anything but a semver."""
        match = _PATTERN.fullmatch(text) if len(text) <= MAX_SEMVER_LENGTH else None
        if match is None:
            raise InvalidArgument(
                f"Invalid semantic version {text[:60]!r}: expected MAJOR.MINOR.PATCH with an "
                "optional -prerelease (e.g. 1.4.2 or 2.0.0-rc.1)."
            )
        prerelease = tuple(match["pre"].split(".")) if match["pre"] else ()
        for identifier in prerelease:
            if identifier.isdigit() and identifier != "0" and identifier.startswith("0"):
                raise InvalidArgument(
                    f"Invalid semantic version {text!r}: numeric pre-release identifiers "
                    "have no leading zeros."
                )
        build = tuple(match["build"].split(".")) if match["build"] else ()
        return cls(int(match["major"]), int(match["minor"]), int(match["patch"]), prerelease, build)

    @property
    def core(self) -> SemVer:
        """The version without build metadata, which does not tell versions apart."""
        return SemVer(self.major, self.minor, self.patch, self.prerelease)

    @property
    def released(self) -> bool:
        return not self.prerelease

    def bumped(self, part: Bump) -> SemVer:
        """The next release: a patch bump of 1.2.3-rc.1 releases 1.2.3, as npm and GitLab do."""
        if part is Bump.MAJOR:
            return SemVer(self.major + 1, 0, 0)
        if part is Bump.MINOR:
            return SemVer(self.major, self.minor + 1, 0)
        if self.prerelease:
            return SemVer(self.major, self.minor, self.patch)
        return SemVer(self.major, self.minor, self.patch + 1)

    def precedence(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """Sort key implementing semver precedence: a release ranks above its pre-releases;
        pre-release identifiers compare numerically or in ASCII order, numbers first, a shorter
        list lower; build metadata does not count."""
        identifiers = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, identifiers)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text
