"""The one path-confinement function: what it accepts, normalises and refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelyard.artifacts.paths import MAX_PATH_LENGTH, artifact_path
from modelyard.errors import InvalidArgument


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("a/b/c.txt", "a/b/c.txt"),
        ("a//b/./c.txt", "a/b/c.txt"),
        ("a/b/", "a/b"),
        ("./model/MLmodel", "model/MLmodel"),
        ("my model/données ü.txt", "my model/données ü.txt"),
        ("a..b/c...d", "a..b/c...d"),
        ("50%/done", "50%/done"),
        ("%41%42", "AB"),  # decoded until stable, as MLflow stores it
        ("x%2520y.txt", "x y.txt"),
    ],
)
def test_safe_paths_are_normalised(raw: str, normalised: str) -> None:
    assert artifact_path(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("../etc/passwd", "'..'"),
        ("a/../../b", "'..'"),
        ("a/..", "'..'"),
        ("/etc/passwd", "relative"),
        ("C:/Windows/win.ini", "relative"),
        ("c:evil", "relative"),
        ("a\\..\\b", "backslash"),
        ("..\\windows", "backslash"),
        ("a/b\x00.txt", "control"),
        ("a/\nb", "control"),
        ("%2e%2e/etc/passwd", "'..'"),
        ("a/%2E%2E/%2e%2e/b", "'..'"),
        ("%252e%252e/secret", "'..'"),
        ("%25252e%25252e/secret", "'..'"),
        ("%2fetc/passwd", "relative"),
        ("a%5c..%5cb", "backslash"),
        ("a%00b", "control"),
        ("h#ash.txt", "'#'"),
        ("h%23ash.txt", "'#'"),
        ("", "empty"),
        ("./.", "empty"),
        ("x" * (MAX_PATH_LENGTH + 1), "longer than"),
        ("a/" + "é" * 200, "longer than 255 bytes"),
    ],
)
def test_unsafe_paths_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        artifact_path(raw)


def test_the_root_is_allowed_only_for_listings() -> None:
    assert artifact_path("", allow_root=True) == ""
    assert artifact_path("./", allow_root=True) == ""
    with pytest.raises(InvalidArgument, match="empty"):
        artifact_path("./")


@given(st.text(max_size=300))
def test_any_accepted_path_stays_inside_the_root(raw: str) -> None:
    try:
        path = artifact_path(raw)
    except InvalidArgument:
        return
    segments = path.split("/")
    assert ".." not in segments and "" not in segments and "." not in segments
    assert not path.startswith("/") and "\\" not in path and "\x00" not in path
