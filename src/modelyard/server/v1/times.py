"""Points in time as the API accepts them: milliseconds since the epoch, or ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime

from modelyard.errors import InvalidArgument


def parse_time(text: str, parameter: str) -> int:
    """Milliseconds since the epoch of ``1795680000000`` or ``2026-11-26T10:00:00Z`` (a time
    without zone is UTC).

    Raises:
        InvalidArgument: neither form.
    """
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"Invalid value {text!r} for '{parameter}': give milliseconds since the epoch or "
            "an ISO 8601 time such as 2026-11-26T10:00:00Z."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
