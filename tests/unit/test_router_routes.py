"""The router's split: smooth weighted round robin gives each backend exactly its share,
spread evenly, and bad routes are refused."""

from __future__ import annotations

import pytest

from modelyard.serving.router import routes_from


def test_weights_give_exact_shares_spread_evenly() -> None:
    routes = routes_from(
        {
            "primary": [
                {"url": "http://a", "version": "1", "weight": 80},
                {"url": "http://b", "version": "2", "weight": 20},
            ]
        }
    )
    picks = [routes.pick().version for _ in range(100)]
    assert picks.count("2") == 20
    # Evenly: never two canary answers in a row, one in every five.
    assert all(picks[i : i + 5].count("2") == 1 for i in range(0, 100, 5))


def test_a_single_backend_takes_everything_and_a_shadow_is_kept() -> None:
    routes = routes_from(
        {
            "primary": [{"url": "http://a/", "version": "1"}],
            "shadow": {"url": "http://b", "version": "2"},
        }
    )
    assert {routes.pick().url for _ in range(10)} == {"http://a"}
    assert routes.shadow is not None and routes.shadow.version == "2"
    assert routes.as_json()["shadow"] == {"url": "http://b", "version": "2"}


@pytest.mark.parametrize(
    "document",
    [
        {"primary": []},
        {"primary": [{"url": "http://a", "version": "1", "weight": 0}]},
        {"primary": [{"url": "http://a", "version": "1", "weight": -5}]},
        {"primary": [{"version": "1"}]},
    ],
)
def test_routes_without_a_usable_backend_are_refused(document: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError)):
        routes_from(document)
