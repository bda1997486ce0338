"""Fail fast when a service is down: an unreachable endpoint stops the run with one error, not a retry per document.

"Unreachable" is a port on 127.0.0.1 nobody listens on (connection refused). SERVICE_DOWN_SECONDS is 2 here so the
tests stay short; the default is 45.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion import wiring
from ingestion.circuit import Circuit
from ingestion.cli import main
from ingestion.errors import ServiceDownError
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.settings import Settings
from tests.fakes.search_server import FakeSearchServer


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def corpus(root: Path, count: int = 40) -> Path:
    root.mkdir()
    for n in range(count):
        (root / f"doc{n:02d}.md").write_text(f"# Note {n}\n\nKey rotation note number {n} for the platform team.\n")
    return root


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DOCUMENTINTELLIGENCE_ENDPOINT", "AZURE_STORAGE_CONNECTION_STRING", "EMBEDDING_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SERVICE_DOWN_SECONDS", "2")
    return monkeypatch


def test_an_unreachable_azure_openai_stops_the_cli_run_with_one_error(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = corpus(tmp_path / "docs")
    with FakeSearchServer() as search:
        clean_env.setenv("AZURE_OPENAI_ENDPOINT", dead_url())
        clean_env.setenv("AZURE_OPENAI_API_KEY", "key-for-nobody")
        clean_env.setenv("AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "embed")
        clean_env.setenv("AZURE_SEARCH_ENDPOINT", search.url)
        clean_env.setenv("AZURE_SEARCH_API_KEY", search.api_key)
        assert main(["ingest", str(docs), "--json"]) == 1
        assert search.counters()["batches"] == 0  # nothing was written
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "key-for-nobody" not in out
    error = json.loads(out)  # under --json every error is one object
    assert error["exit_code"] == 1
    assert (
        error["error"].startswith("error: Azure OpenAI at http://127.0.0.1:")
        and "has not answered for" in error["error"]
    )


async def test_an_unreachable_search_service_stops_the_run(tmp_path: Path) -> None:
    docs = corpus(tmp_path / "docs")
    settings = Settings(
        embedding_backend="hash",
        index_backend="azure_search",
        azure_search_endpoint=dead_url(),
        service_down_seconds=2,
    )
    embedder = wiring.build_embedder(settings)
    index = AzureSearchIndex(
        settings.azure_search_endpoint or "", "grounding-v1", embedder.dimensions,
        credential=AzureKeyCredential("k"), service_down_seconds=2,
    )  # fmt: skip
    pipeline = wiring.build_pipeline(settings, index=index, embedder=embedder)
    try:
        with pytest.raises(ServiceDownError, match=r"Azure AI Search at http://127\.0\.0\.1:\d+ has not answered"):
            await pipeline.run(wiring.build_folder_source(docs))
    finally:
        await pipeline.close()


def test_the_circuit_opens_after_silence_probes_and_closes_on_an_answer() -> None:
    now = [100.0]
    circuit = Circuit("Service X", down_after=30, probe_every=10, clock=lambda: now[0])
    circuit.check()
    circuit.unanswered("connection refused", started=95.0)
    now[0] = 124.0
    circuit.check()  # silent for 29 s: still trying
    now[0] = 125.0
    circuit.check()  # 30 s: open, but the first check is a probe
    with pytest.raises(ServiceDownError, match=r"Service X has not answered for 30 s \(connection refused\)"):
        circuit.check()
    now[0] = 135.0
    circuit.check()  # the next probe
    circuit.answered()
    circuit.check()
    assert not circuit.is_open
    circuit.unanswered("timeout", started=120.0)  # began before the last answer: silence counts from the answer
    now[0] = 150.0
    circuit.check()
    assert not circuit.is_open
