"""Semantic versions: parsing, precedence and bumps (semver.org 2.0.0)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelyard.domain.semver import Bump, SemVer
from modelyard.errors import InvalidArgument


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0",
        "1.2.3",
        "10.20.30",
        "1.0.0-alpha",
        "1.0.0-rc.1",
        "1.0.0-0.3.7",
        "1.0.0-x.7.z.92",
        "1.0.0+20130313144700",
        "1.0.0-beta+exp.sha.5114f85",
    ],
)
def test_valid_versions_round_trip(text: str) -> None:
    assert str(SemVer.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "v1.2.3",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3-a..b",
        "1.2.3+",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3-é",
        "",
        "1." * 100 + "1",
    ],
)
def test_invalid_versions_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"MAJOR\.MINOR\.PATCH|leading zeros"):
        SemVer.parse(text)


def test_precedence_follows_the_specification_example() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    shuffled = sorted(ordered, key=lambda t: hash(t))
    assert sorted(shuffled, key=lambda t: SemVer.parse(t).precedence()) == ordered


def test_build_metadata_does_not_change_precedence() -> None:
    assert SemVer.parse("1.0.0+a").precedence() == SemVer.parse("1.0.0+b").precedence()


@pytest.mark.parametrize(
    ("start", "part", "expected"),
    [
        ("1.2.3", Bump.PATCH, "1.2.4"),
        ("1.2.3", Bump.MINOR, "1.3.0"),
        ("1.2.3", Bump.MAJOR, "2.0.0"),
        ("1.2.3-rc.1", Bump.PATCH, "1.2.3"),
        ("1.2.3+build", Bump.PATCH, "1.2.4"),
    ],
)
def test_bumps(start: str, part: Bump, expected: str) -> None:
    assert str(SemVer.parse(start).bumped(part)) == expected


def test_released_means_no_prerelease() -> None:
    assert SemVer.parse("1.0.0+build").released
    assert not SemVer.parse("1.0.0-rc.1").released


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))
def test_a_bump_always_sorts_higher(major: int, minor: int, patch: int) -> None:
    version = SemVer(major, minor, patch)
    for part in Bump:
        assert version.bumped(part).precedence() > version.precedence()
