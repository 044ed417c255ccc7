"""A small Python client of modelyard's own API (/api/v1), on httpx."""

from __future__ import annotations

from modelyard.client.http import Client, ClientError, tracking_uri_from_env

__all__ = ["Client", "ClientError", "tracking_uri_from_env"]
