"""Vector compression and the query vectorizer on Azure AI Search (the fake service, through the real SDK).

AZURE_SEARCH_VECTOR_COMPRESSION and AZURE_SEARCH_VECTORIZER shape every definition built for the deployment: the one
``schema apply`` creates, the one the writer creates when no index exists, and the one ``schema status`` compares the
live index with. Turning compression on is drift that only a rebuild fixes (``schema migrate`` into
``<alias>-v<N>-r<K>``, every vector reused); adding the vectorizer is an in-place ``schema apply``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.search.documents.indexes import SearchIndexClient

from index_schemas import SchemaParams, v1
from ingestion.cli import main
from ingestion.indexing.azure.definitions import to_search_index
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.search_server import FakeSearchServer
from tests.integration.test_schema_local import TOPICS

ALIAS = "grounding"
LIVE = f"{ALIAS}-v3"
REBUILT = f"{ALIAS}-v3-r2"  # the second build of v1: the first is the plain name (index_schemas.physical_name)
DIMENSIONS = 64


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in argv and out else out


def vector_search(server: FakeSearchServer, name: str) -> dict[str, Any]:
    return server.indexes[name].definition["vectorSearch"]


def drift_paths(status: dict[str, Any]) -> dict[str, str]:
    return {change["path"]: change["kind"] for change in status["drift"]["changes"]}


@pytest.fixture
def openai(azure: tuple[Path, FakeSearchServer], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    """Azure OpenAI embeddings (the fake): the vectorizer needs them, and they count what a migration embeds."""
    server = FakeOpenAIServer(deployments={"embed": "text-embedding-3-small"})
    server.start()
    monkeypatch.setenv("EMBEDDING_BACKEND", "azure_openai")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", server.api_key)
    monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "embed")
    monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
    monkeypatch.setenv("AZURE_OPENAI_EMBEDDING_DIMENSIONS", str(DIMENSIONS))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("setting", "name", "kind"),
    [("scalar", "scalar-int8", "scalarQuantization"), ("binary", "binary", "binaryQuantization")],
)
def test_apply_creates_v1_with_the_compression(
    azure, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, setting: str, name: str, kind: str
) -> None:
    _, server = azure
    monkeypatch.setenv("AZURE_SEARCH_VECTOR_COMPRESSION", setting)
    code, applied = run_cli(capsys, "schema", "apply", "--json")
    assert code == 0 and applied["created"] and applied["index"] == LIVE
    found = vector_search(server, LIVE)
    assert found["profiles"] == [{"name": v1.PROFILE, "algorithm": v1.ALGORITHM, "compression": name}]
    assert [(c["name"], c["kind"]) for c in found["compressions"]] == [(name, kind)]
    assert found["compressions"][0]["rescoringOptions"] == {
        "enableRescoring": True,
        "defaultOversampling": v1.OVERSAMPLING,
        "rescoreStorageMethod": "preserveOriginals",
    }
    assert "vectorizers" not in found
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["alias_target"] == LIVE and status["drift"]["changes"] == []


def test_the_writer_creates_a_missing_index_with_the_compression(
    azure, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, server = azure
    monkeypatch.setenv("AZURE_SEARCH_VECTOR_COMPRESSION", "binary")
    assert run_cli(capsys, "ingest", str(root), "--json")[0] == 0
    assert set(server.indexes) == {LIVE} and vector_search(server, LIVE)["profiles"][0]["compression"] == "binary"
    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["documents"] == len(TOPICS) and status["drift"]["changes"] == []


def test_turning_compression_on_is_drift_that_migrate_rebuilds_reusing_every_vector(
    azure, openai: FakeOpenAIServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, server = azure
    assert run_cli(capsys, "schema", "apply", "--json")[0] == 0
    assert run_cli(capsys, "ingest", str(root), "--json")[0] == 0
    embedded = openai.counters()
    assert embedded["tokens_accepted"] > 0
    uncompressed = server.indexes[LIVE].definition
    monkeypatch.setenv("AZURE_SEARCH_VECTOR_COMPRESSION", "scalar")

    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 1 and status["drift"]["kind"] == "rebuild"
    assert drift_paths(status) == {
        "vectorSearch.compressions.scalar-int8": "in place",
        "vectorSearch.profiles.default.compression": "rebuild",
    }

    code = main(["schema", "apply", "--json"])
    refusal = json.loads(capsys.readouterr().out)  # under --json an error is one object on stdout
    assert code == refusal["exit_code"] == 2 and "schema migrate" in refusal["error"]
    assert server.indexes[LIVE].definition == uncompressed  # refused before any change

    code, estimate = run_cli(capsys, "schema", "migrate", str(root), "--dry-run", "--json")
    assert code == 0 and estimate["plan"]["target"] == REBUILT
    assert (estimate["estimate"]["tokens_to_embed"], estimate["estimate"]["reembed_all"]) == (0, False)

    code, done = run_cli(capsys, "schema", "migrate", str(root), "--json")
    assert code == 0 and done["swapped"] and done["plan"]["target"] == REBUILT
    assert (done["run"]["added"], done["run"]["failed"], done["run"]["tokens_embedded"]) == (len(TOPICS), 0, 0)
    assert openai.counters() == embedded  # not one embedding request: every vector came from the live index
    assert server.aliases[ALIAS]["indexes"] == [REBUILT]
    assert vector_search(server, REBUILT)["profiles"][0]["compression"] == "scalar-int8"
    assert server.indexes[LIVE].definition["vectorSearch"] == uncompressed["vectorSearch"]  # kept for rollback

    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["alias_target"] == REBUILT and status["drift"]["changes"] == []
    assert status["live"]["version"] == 3 and status["documents"] == len(TOPICS)
    code, hits = run_cli(capsys, "search", "geo-redundant vault", "--mode", "text", "--json")
    assert code == 0 and Path(hits["hits"][0]["source"]).name == "backup.md"


def test_adding_the_vectorizer_is_in_place(
    azure, openai: FakeOpenAIServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, server = azure
    assert run_cli(capsys, "schema", "apply", "--json")[0] == 0
    assert run_cli(capsys, "ingest", str(root), "--json")[0] == 0
    monkeypatch.setenv("AZURE_SEARCH_VECTORIZER", "true")

    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 1 and status["drift"]["kind"] == "in place"
    assert drift_paths(status) == {
        "vectorSearch.profiles.default.vectorizer": "in place",
        f"vectorSearch.vectorizers.{v1.VECTORIZER}": "in place",
    }

    code, applied = run_cli(capsys, "schema", "apply", "--json")
    assert code == 0 and applied["index"] == LIVE and not applied["created"]
    assert applied["changes"]["kind"] == "in place"
    assert set(server.indexes) == {LIVE} and server.aliases[ALIAS]["indexes"] == [LIVE]
    found = vector_search(server, LIVE)
    assert found["profiles"] == [{"name": v1.PROFILE, "algorithm": v1.ALGORITHM, "vectorizer": v1.VECTORIZER}]
    assert found["vectorizers"] == [
        {
            "name": v1.VECTORIZER,
            "kind": "azureOpenAI",
            "azureOpenAIParameters": {
                "resourceUri": openai.url,
                "deploymentId": "embed",
                "modelName": "text-embedding-3-small",
            },
        }
    ]
    assert openai.api_key not in json.dumps(server.indexes[LIVE].definition)  # the service uses its identity

    code, status = run_cli(capsys, "schema", "status", "--json")
    assert code == 0 and status["drift"]["changes"] == [] and status["documents"] == len(TOPICS)


def test_the_service_refuses_changing_a_used_profiles_compression_in_place(azure) -> None:
    """Why ``apply`` refuses before calling: the service itself answers 400 (the fake as the service does)."""
    _, server = azure
    client = SearchIndexClient(server.url, AzureKeyCredential(server.api_key))
    try:
        client.create_index(to_search_index(v1.build(SchemaParams(LIVE, DIMENSIONS))))
        scalar = to_search_index(v1.build(SchemaParams(LIVE, DIMENSIONS, compression="scalar")))
        with pytest.raises(HttpResponseError) as refused:
            client.create_or_update_index(scalar)
        assert refused.value.status_code == 400 and "compression" in str(refused.value)
        unknown = to_search_index(v1.build(SchemaParams(f"{ALIAS}-v2", DIMENSIONS, compression="binary")))
        unknown.vector_search.compressions = []  # the profile still names "binary"
        with pytest.raises(HttpResponseError) as refused:
            client.create_index(unknown)
        assert refused.value.status_code == 400 and "unknown compression" in str(refused.value)
        assert set(server.indexes) == {LIVE} and "compressions" not in vector_search(server, LIVE)
    finally:
        client.close()
