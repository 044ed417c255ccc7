"""MLflow's webhook signature, so receivers written for MLflow verify ours unchanged.

``X-MLflow-Signature: v1,<base64 of HMAC-SHA256(secret, "<delivery id>.<timestamp>.<body>")>``
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
VERSION = "v1"


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def verify(
    secret: str,
    delivery_id: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now_s: float,
    tolerance_s: float = 300,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (replays of an
    old request are refused)."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now_s - sent_at) > tolerance_s:
        return False
    expected = signature(secret, delivery_id, timestamp, body).encode()
    return hmac.compare_digest(expected, header.encode("utf-8", "surrogateescape"))
