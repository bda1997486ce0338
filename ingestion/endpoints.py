"""Where credentials may travel: over TLS, or in plain http to this machine only (emulators and test fakes).

Every service endpoint is checked with ``require_tls`` before any credential is attached to it, in two places: once
by ``Settings`` (so a deployment fails at start, naming the setting) and again by each adapter's constructor (so code
that builds an adapter directly gets the same rule). API keys and bearer tokens are treated alike: either one sent
over plain http to another host can be read on the way.

Loopback means ``localhost``, ``127.0.0.0/8`` and ``::1``; a host name that merely resolves to loopback does not
count (resolution can change between the check and the request).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ingestion.errors import ConfigurationError


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_tls(setting: str, endpoint: str) -> str:
    """``endpoint`` if ``https://host...`` or ``http://<loopback>...``, else ConfigurationError naming ``setting``.

    The error shows the endpoint's scheme and host only (never a path, query string or user info)."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        raise ConfigurationError(f"{setting} is not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"{setting} is not an http(s) URL (e.g. https://<resource>.<service domain>)")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigurationError(
            f"{setting} uses plain http to {host}: API keys and tokens are never sent over plain http except to "
            "localhost (emulators); use https"
        )
    return endpoint


def storage_connection_tls(setting: str, connection_string: str) -> None:
    """The same rule for a storage connection string: every endpoint it names, and its default protocol."""
    pairs = (part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    fields = {key.strip().lower(): value.strip() for key, value in pairs}
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        return
    for key, value in fields.items():
        if key.endswith("endpoint") and value:
            require_tls(f"{setting} ({key})", value)
    if fields.get("defaultendpointsprotocol", "https").lower() == "http" and not any(
        key.endswith("endpoint") for key in fields
    ):
        raise ConfigurationError(
            f"{setting} says DefaultEndpointsProtocol=http: storage credentials are only sent over https"
        )
