"""The router's split: smooth weighted round robin gives each backend exactly its share,
spread evenly, and bad routes are refused."""

from __future__ import annotations

import asyncio

import pytest

from modelyard.serving import router
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


def test_a_body_over_the_limit_is_refused_before_it_is_forwarded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(router, "MAX_BODY_BYTES", 1000)
    app = router.Router()
    app.routes = routes_from({"primary": [{"url": "http://127.0.0.1:9", "version": "1"}]})
    chunks = [
        {"type": "http.request", "body": b"x" * 600, "more_body": True},
        {"type": "http.request", "body": b"x" * 600, "more_body": False},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return chunks.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/invocations", "method": "POST", "headers": []}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b"exceeds 1000 bytes" in sent[1]["body"]  # type: ignore[operator]
