"""Fixtures for the Functions app: a real Azurite for the session, and per-test app settings pointing at it.

``app_env`` sets the environment the way the Functions host would from app settings (fresh container, queue and
table names per test, the hash embedder, a SQLite index in tmp_path) and closes the per-process services after the
test. ``host`` delivers triggers to the handlers the way the host does (see host.py).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.storage.blob.aio import ContainerClient

from ingestion.functions.services import close_services
from tests.functions.host import FunctionsHost
from tests.support.azurite import Azurite, azurite  # noqa: F401  (re-exported as the `azurite` fixture)

# Settings a developer's shell may carry that would change what the app builds.
_CLEARED = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_URL",
    "AzureWebJobsStorage",
    "DocumentStorage__blobServiceUri",
    "DocumentStorage__queueServiceUri",
    "DocumentStorage__tableServiceUri",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_SEARCH_ENDPOINT",
    "DOCUMENTINTELLIGENCE_ENDPOINT",
    "BLOB_TRIGGER_SOURCE",
    "MAX_DOCUMENT_BYTES",
)


@dataclass(frozen=True)
class AppEnv:
    connection_string: str
    container: str
    queue: str
    table: str
    index_path: Path


@pytest.fixture
async def app_env(azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppEnv]:  # noqa: F811
    suffix = secrets.token_hex(4)
    env = AppEnv(
        azurite.connection_string, f"docs-{suffix}", f"reindex-{suffix}", f"runs{suffix}", tmp_path / "ix.sqlite"
    )
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    values = {
        "DocumentStorage": env.connection_string,
        "SOURCE_CONTAINER": env.container,
        "REINDEX_QUEUE": env.queue,
        "RUNS_TABLE": env.table,
        "EMBEDDING_BACKEND": "hash",
        "INDEX_BACKEND": "local",
        "LOCAL_INDEX_PATH": str(env.index_path),
        "CHUNK_MAX_TOKENS": "128",
        "CHUNK_OVERLAP_TOKENS": "16",
        # A message per document, so that tests can deliver, fail and poison documents one by one; messages of
        # several documents (the default) are tested in test_reindex_batched.py and test_scale_shared.py.
        "REINDEX_DOCUMENTS_PER_MESSAGE": "1",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    async with ContainerClient.from_connection_string(env.connection_string, env.container) as container:
        await container.create_container()
    try:
        yield env
    finally:
        await close_services()


@pytest.fixture
async def host(app_env: AppEnv) -> AsyncIterator[FunctionsHost]:
    functions_host = FunctionsHost(app_env.connection_string, container=app_env.container, queue=app_env.queue)
    try:
        yield functions_host
    finally:
        await functions_host.close()
