"""Typed, validated reads of setting values, for ``ingestion/settings.py`` (the only module that reads the
environment: it hands a mapping to ``Reader``). Each read fails with a ``ConfigurationError`` naming the variable;
numbers go through ``setting_numbers`` (ASCII digits, a stated range); secrets are wrapped in ``Secret``."""

from __future__ import annotations

import re
from collections.abc import Mapping

from index_schemas.names import is_valid_index_name
from ingestion.errors import ConfigurationError
from ingestion.setting_numbers import parse_integer, parse_number

# The app-setting prefix the Functions triggers connect with: ``DocumentStorage`` (a connection string) or
# ``DocumentStorage__blobServiceUri`` / ``__queueServiceUri`` / ``__tableServiceUri`` (identity-based).
STORAGE_CONNECTION = "DocumentStorage"
_NCRONTAB_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$")
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


class Secret:
    """A string that never shows itself in repr/str/format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def sibling_service_url(blob_url: str | None, service: str) -> str | None:
    """``https://acct.queue.core.windows.net`` from ``https://acct.blob.core.windows.net``; None if not Azure-style."""
    if not blob_url or ".blob." not in blob_url:
        return None
    return blob_url.replace(".blob.", f".{service}.", 1)


class Reader:
    """Typed reads from the environment, each failing with a message that names the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def secret(self, name: str) -> Secret | None:
        value = self.text(name)
        return Secret(value) if value else None

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name) or default
        if value not in allowed:
            raise ConfigurationError(f"{name}={value!r} is not one of: {', '.join(allowed)}")
        return value

    def optional_choice(self, name: str, allowed: tuple[str, ...], *, none: str) -> str | None:
        """One of ``allowed``, or None when unset or ``none`` (itself one of ``allowed``)."""
        value = self.choice(name, allowed, none)
        return None if value == none else value

    # Numbers: every numeric setting states its range; parsing lives in ingestion/setting_numbers.py.
    def optional_integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        value = self.text(name)
        return None if value is None else parse_integer(name, value, minimum=minimum, maximum=maximum)

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.optional_integer(name, minimum=minimum, maximum=maximum)
        return default if value is None else value

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        value = self.optional_number(name, minimum=minimum, maximum=maximum)
        return default if value is None else value

    def optional_number(self, name: str, *, minimum: float, maximum: float) -> float | None:
        value = self.text(name)
        return None if value is None else parse_number(name, value, minimum=minimum, maximum=maximum)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigurationError(f"{name}={value!r} is not a boolean (true/false)")

    def index_name(self, name: str, default: str) -> str:
        value = self.text(name) or default
        if not is_valid_index_name(value):
            raise ConfigurationError(
                f"{name}={value!r} is not a valid Azure AI Search index name "
                "(2-128 lowercase letters, digits, '-' or '_', starting with a letter or digit, no '--' or '__')"
            )
        return value

    def service_url(self, service: str, blob_url: str | None) -> str | None:
        """``DocumentStorage__<service>ServiceUri``, else derived from an Azure-style blob endpoint."""
        return self.text(f"{STORAGE_CONNECTION}__{service}ServiceUri") or sibling_service_url(blob_url, service)

    def ncrontab(self, name: str, default: str) -> str:
        value = self.text(name) or default
        parts = value.split()
        if len(parts) != 6 or not all(_NCRONTAB_FIELD.match(part) for part in parts):
            raise ConfigurationError(
                f"{name}={value!r} is not a six-field NCRONTAB expression ({{second}} {{minute}} {{hour}} {{day}} "
                "{month} {day-of-week}, e.g. '0 0 2 * * *')"
            )
        return " ".join(parts)

    def queue_name(self, name: str, default: str) -> str:
        value = self.text(name) or default
        # 3-63 characters, and room for the host's "-poison" suffix.
        if not 3 <= len(value) <= 56 or not _QUEUE_NAME.match(value):
            raise ConfigurationError(
                f"{name}={value!r} is not a valid storage queue name (3-56 lowercase letters, digits or single "
                "hyphens, starting and ending with a letter or digit)"
            )
        return value

    def table_name(self, name: str, default: str) -> str:
        value = self.text(name) or default
        if not _TABLE_NAME.match(value):
            raise ConfigurationError(
                f"{name}={value!r} is not a valid storage table name (3-63 letters or digits, starting with a letter)"
            )
        return value
