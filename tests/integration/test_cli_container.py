"""`ingest --container` against a real Azurite: blobs in, chunks searchable, a deleted blob leaves the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from ingestion.cli import main

pytestmark = pytest.mark.azurite


def test_container_ingest_sync_and_delete(azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    for name in (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_SEARCH_ENDPOINT",
        "DOCUMENTINTELLIGENCE_ENDPOINT",
        "AzureWebJobsStorage",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "index.sqlite"))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container("cli-docs")
    container.upload_blob("policies/travel policy.md", b"# Travel\n\nBook trains for trips under four hours.\n")
    container.upload_blob("policies/expenses.txt", b"Expenses are reimbursed within thirty days.\n")
    container.upload_blob(".hidden/skip.txt", b"never indexed")

    assert main(["ingest", "--container", "cli-docs", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["documents"], counts["added"], counts["failed"]) == (2, 2, 0)

    assert main(["search", "trains four hours", "--mode", "text", "--json", "--top", "1"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["source"] == "cli-docs/policies/travel policy.md" and hit["title"] == "Travel"

    container.delete_blob("policies/expenses.txt")
    assert main(["ingest", "--container", "cli-docs", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["documents"], counts["unchanged"], counts["deleted"]) == (1, 1, 1)
    assert main(["search", "reimbursed thirty days", "--mode", "text", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"] == []
