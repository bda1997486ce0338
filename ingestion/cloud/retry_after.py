"""The one parser of a server's "wait this long" headers (Azure OpenAI, AI Search, Document Intelligence, Storage)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any


def parse_retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date); None if absent or
    unreadable. Never negative. ``headers`` may be any mapping (SDK headers are case-insensitive; a plain dict is
    read with the lowercase names, then ``Retry-After``)."""
    if not headers:
        return None
    for names, divisor in ((("retry-after-ms",), 1000.0), (("retry-after", "Retry-After"), 1.0)):
        value = next((headers.get(name) for name in names if headers.get(name) is not None), None)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except (TypeError, ValueError):
            pass
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value:
        try:
            when = email.utils.parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None
