"""With DOCUMENTINTELLIGENCE_ENDPOINT set, wiring picks Document Intelligence: PDFs go to the service (fake on
127.0.0.1, real SDK) and their page numbers reach the search hits; plain text never leaves the machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.cli import main
from tests.fakes.docintel_server import FakeDocumentIntelligenceServer
from tests.support.bad_corpus import text_pdf


def test_pdf_pages_flow_from_document_intelligence_to_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.pdf").write_bytes(
        text_pdf([["Onboarding handbook", "Laptops are issued on day one."], ["Parking permits are renewed yearly."]])
    )
    (docs / "notes.txt").write_text("Plain notes about the cafeteria menu.\n")
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_SEARCH_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMBEDDING_BACKEND", "hash")
    monkeypatch.setenv("LOCAL_INDEX_PATH", str(tmp_path / "index.sqlite"))
    monkeypatch.setenv("DOCUMENTINTELLIGENCE_POLLING_SECONDS", "0.01")
    with FakeDocumentIntelligenceServer(polls_before_done=1) as server:
        monkeypatch.setenv("DOCUMENTINTELLIGENCE_ENDPOINT", server.url)
        monkeypatch.setenv("DOCUMENTINTELLIGENCE_API_KEY", server.api_key)
        assert main(["ingest", str(docs), "--json"]) == 0
        counts = json.loads(capsys.readouterr().out)
        assert (counts["added"], counts["failed"]) == (2, 0)
        assert server.counters()["posts"] == 1  # the PDF only; notes.txt was cracked locally

    assert main(["search", "parking permits renewed", "--mode", "text", "--top", "1", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["source"].endswith("handbook.pdf") and hit["pages"] == [1, 2]  # one chunk spanning both pages
