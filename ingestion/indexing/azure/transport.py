"""Plain http to this machine: the one place a bearer token may travel without TLS (the fakes, an emulator)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.policies import SansIOHTTPPolicy

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class AllowHttpTokens(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Lets a bearer token go over http to a loopback host (azure-core refuses non-TLS by default)."""

    def on_request(self, request: Any) -> None:
        request.context.options["enforce_https"] = False


def http_to_loopback(endpoint: str) -> bool:
    """Plain http to this machine (the fakes, an emulator): the only place a token may travel without TLS."""
    parts = urlsplit(endpoint)
    return parts.scheme == "http" and parts.hostname in LOOPBACK
