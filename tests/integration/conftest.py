"""Fixtures for integration tests: a real Azurite for the session (see tests/support/azurite.py), and the Azure AI
Search fake as the command line's index (``azure``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.indexing.azure import admin as azure_admin
from ingestion.indexing.azure import visibility as azure_visibility
from tests.fakes.search_server import FakeSearchServer
from tests.support.azurite import azurite  # noqa: F401  (re-exported as the `azurite` fixture)
from tests.support.schema_versions import TOPICS

TOKEN = "token-for-tests"
"""A bearer token the ``azure`` fixture's fake accepts (writers may authenticate with a token instead of the key)."""
_CLEARED = (
    "AZURE_OPENAI_ENDPOINT",
    "DOCUMENTINTELLIGENCE_ENDPOINT",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_SEARCH_VECTOR_COMPRESSION",
    "AZURE_SEARCH_VECTORIZER",
)


@pytest.fixture
def azure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeSearchServer]]:
    """The fake Azure AI Search service as INDEX_BACKEND (API key; ``TOKEN`` accepted too), the hash embedder, and a
    folder of TOPICS documents to ingest or migrate: ``(folder, server)``."""
    server = FakeSearchServer(bearer_tokens=[TOKEN])
    server.start()
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("INDEX_BACKEND", "azure_search")
    monkeypatch.setenv("AZURE_SEARCH_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_SEARCH_API_KEY", server.api_key)
    monkeypatch.setattr(azure_admin, "PROPAGATION_SECONDS", 0.0)  # our constant, not the SDK's: no 10 s waits
    # The fake refreshes at once unless a test sets ``server.indexing_delay``: no 10 s waits on failure
    monkeypatch.setattr(azure_visibility, "DEFAULT_SETTLE_SECONDS", 2.0)
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in TOPICS.items():
        (root / name).write_text(text)
    try:
        yield root, server
    finally:
        server.stop()
