"""The CLI on the Azure stack: Azure OpenAI and Azure AI Search (fakes on 127.0.0.1, real SDKs), no code changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.cli import main
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.search_server import FakeSearchServer


@pytest.fixture
def azure_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeSearchServer]]:
    openai = FakeOpenAIServer(deployments={"embed": "text-embedding-3-small"})
    search = FakeSearchServer()
    openai.start()
    search.start()
    for name in (
        "DOCUMENTINTELLIGENCE_ENDPOINT",
        "AZURE_STORAGE_CONNECTION_STRING",
        "EMBEDDING_BACKEND",
        "INDEX_BACKEND",
        "LOCAL_INDEX_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", openai.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", openai.api_key)
    monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "embed")
    monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DIMENSIONS", "256")
    monkeypatch.setenv("AZURE_SEARCH_ENDPOINT", search.url)
    monkeypatch.setenv("AZURE_SEARCH_API_KEY", search.api_key)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rotation.md").write_text(
        "# Key rotation\n\nStorage keys are rotated every ninety days by the platform team.\n"
    )
    (docs / "regions.txt").write_text("Backups are replicated to Sweden Central and West Europe.\n")
    try:
        yield docs, search
    finally:
        search.stop()
        openai.stop()


def test_ingest_and_search_against_azure(azure_env, capsys: pytest.CaptureFixture[str]) -> None:
    docs, search = azure_env
    assert main(["ingest", str(docs), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["added"], counts["failed"]) == (2, 0) and counts["tokens_embedded"] > 0
    assert "grounding-v3" in search.indexes

    assert main(["search", "how often are keys rotated", "--top", "1", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["source"].endswith("rotation.md") and hit["title"] == "Key rotation"
    assert hit["reranker_score"] is not None  # v1 has a semantic configuration: hybrid + semantic

    assert main(["ingest", str(docs), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["unchanged"], again["tokens_embedded"]) == (2, 0)

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["index_backend"], status["documents"], status["dimensions"]) == ("azure_search", 2, 256)
    assert search.api_key not in json.dumps(status)


def test_eval_runs_the_same_golden_set_against_azure(azure_env, tmp_path: Path, capsys) -> None:
    docs, _ = azure_env
    (docs / "wal.md").write_text("# Replication\n\nmax_wal_senders caps the WAL sender processes.\n")
    assert main(["ingest", str(docs), "--json"]) == 0
    golden = tmp_path / "golden.jsonl"
    rows = [
        {"id": "nl", "query": "how often are keys rotated", "relevant": ["rotation.md"]},
        {"id": "exact", "query": "What does max_wal_senders do?", "relevant": ["wal.md"]},
    ]
    golden.write_text("".join(json.dumps(row) + "\n" for row in rows))
    capsys.readouterr()
    assert main(["eval", str(golden), "--root", str(docs), "--mode", "all", "--json"]) == 0
    reports = {r["mode"]: r for r in json.loads(capsys.readouterr().out)["modes"]}
    assert set(reports) == {"hybrid", "text", "vector"}
    assert reports["hybrid"]["recall@5"] == reports["text"]["recall@5"] == 1.0
    assert reports["hybrid"]["search_ms_p95"] > 0 and reports["hybrid"]["distinct@5"] >= 1
