"""Async storage clients for the document account, built from Settings the same way the Functions host connects.

The triggers connect with the ``DocumentStorage`` setting: either a connection string (``UseDevelopmentStorage=true``
with Azurite) or identity-based ``DocumentStorage__blobServiceUri`` / ``__queueServiceUri`` / ``__tableServiceUri``.
Settings.from_env reads those; this module turns them into clients: one shared ``DefaultAzureCredential`` (the
app's managed identity) when there is no connection string. Queue clients base64-encode message text, as the host's
queue trigger expects (``messageEncoding: base64`` in host.json).
"""

from __future__ import annotations

from typing import Any

from azure.data.tables.aio import TableClient
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from ingestion.cloud.credentials import default_credential
from ingestion.errors import ConfigurationError
from ingestion.settings import STORAGE_CONNECTION, Settings
from ingestion.sources.blob import BlobContainerSource
from ingestion.wiring import build_container_source


class StorageClients:
    """Factory and owner of the async storage clients; ``close()`` closes the shared credential."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        secret = settings.storage_connection_string
        self._connection_string = secret.get() if secret is not None else None
        if self._connection_string is None and not settings.storage_account_url:
            raise ConfigurationError(
                f"no document storage configured: set {STORAGE_CONNECTION} (a connection string) or "
                f"{STORAGE_CONNECTION}__blobServiceUri (identity-based)"
            )
        self._credential: Any = None

    def source(self) -> BlobContainerSource:
        """The configured container's source, built by ``wiring`` (identity: sharing this factory's credential)."""
        credential = None if self._connection_string is not None else self._shared_credential()
        return build_container_source(self._settings, credential=credential)

    def queue(self, name: str) -> QueueClient:
        policies = {
            "message_encode_policy": TextBase64EncodePolicy(),
            "message_decode_policy": TextBase64DecodePolicy(),
        }
        if self._connection_string is not None:
            return _configured(
                lambda: QueueClient.from_connection_string(self._connection_string, name, **policies), "queue"
            )
        url = self._endpoint(self._settings.storage_queue_url, "queue")
        return _configured(lambda: QueueClient(url, name, credential=self._shared_credential(), **policies), "queue")

    def table(self, name: str) -> TableClient:
        if self._connection_string is not None:
            return _configured(lambda: TableClient.from_connection_string(self._connection_string, name), "table")
        url = self._endpoint(self._settings.storage_table_url, "table")
        return _configured(lambda: TableClient(url, name, credential=self._shared_credential()), "table")

    async def close(self) -> None:
        credential, self._credential = self._credential, None
        if credential is not None:
            await credential.close()

    def _endpoint(self, url: str | None, service: str) -> str:
        if not url:
            raise ConfigurationError(
                f"{STORAGE_CONNECTION}__{service}ServiceUri is required with an identity-based {STORAGE_CONNECTION}"
            )
        return url

    def _shared_credential(self) -> Any:
        if self._credential is None:
            self._credential = default_credential()
        return self._credential


def _configured(build: Any, service: str) -> Any:
    try:
        return build()
    except ValueError as error:  # a malformed connection string or URL; the SDK's message may quote it: leave it out
        raise ConfigurationError(
            f"document storage {service} settings are not usable ({type(error).__name__})"
        ) from None
