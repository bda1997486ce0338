"""The Azure AI Search writer on the fake service: the shared Index contract, plus what only Azure can promise."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.search.documents.indexes.aio import SearchIndexClient
from azure.search.documents.indexes.models import SearchAlias

from index_schemas import LATEST, VERSIONS, SchemaParams
from ingestion.errors import ConfigurationError
from ingestion.indexing.azure.index import AzureSearchIndex
from ingestion.indexing.base import IndexStats
from ingestion.indexing.fusion import ExactTermRule
from ingestion.keys import chunk_key, document_key
from ingestion.models import SearchMode
from ingestion.settings import Settings
from tests.contract.index_contract import DIMENSIONS, FOX, IndexContract, keys_of, make_document, put, vec
from tests.fakes.search_server import FakeSearchServer


@pytest.fixture(scope="module")
def search_server() -> Iterator[FakeSearchServer]:
    with FakeSearchServer(bearer_tokens=["token-for-tests"]) as server:
        yield server


def fresh_name() -> str:
    return f"contract-{uuid.uuid4().hex[:12]}"


def make_index(server: FakeSearchServer, name: str, **options: object) -> AzureSearchIndex:
    credential = AzureKeyCredential(server.api_key)
    return AzureSearchIndex(server.url, name, DIMENSIONS, credential=credential, backoff_seconds=0.01, **options)


@pytest.fixture
async def index(search_server: FakeSearchServer) -> AsyncIterator[AzureSearchIndex]:
    """A fresh, ensured AzureSearchIndex on its own index of the fake service."""
    index = make_index(search_server, fresh_name())
    await index.ensure()
    yield index
    await index.close()


class TestAzureSearchIndexContract(IndexContract):
    """The shared contract. Its ranking promises are those of the first stage (BM25, cosine, weighted RRF), so the
    index it runs on does not rerank: semantic reranking, which reorders by design, is Azure's own promise and is
    tested below on the module's ``index`` fixture (semantic on, as in production)."""

    @pytest.fixture
    async def index(self, search_server: FakeSearchServer) -> AsyncIterator[AzureSearchIndex]:
        index = make_index(search_server, fresh_name(), semantic=False)
        await index.ensure()
        yield index
        await index.close()


# -- definition -------------------------------------------------------------------------------------------------------


async def test_ensure_creates_the_latest_definition(search_server: FakeSearchServer, index: AzureSearchIndex) -> None:
    async with SearchIndexClient(search_server.url, AzureKeyCredential(search_server.api_key)) as client:
        created = await client.get_index(index.name)
    expected = VERSIONS[LATEST](SchemaParams(name=index.name, dimensions=DIMENSIONS))
    assert [f.name for f in created.fields] == [f.name for f in expected.fields]
    assert created.semantic_search is not None and created.semantic_search.default_configuration_name == "default"
    embedding = next(f for f in created.fields if f.name == "embedding")
    assert embedding.vector_search_dimensions == DIMENSIONS and embedding.retrievable is not False


async def test_ensure_never_overwrites_an_existing_index(search_server: FakeSearchServer) -> None:
    first = make_index(search_server, fresh_name())
    await first.ensure()
    record = await put(first, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    second = make_index(search_server, first.name)
    await second.ensure()
    assert await second.get_document(record.key) == record
    assert search_server.counters()["requests_indexes"] >= 3
    await first.close()
    await second.close()


async def test_ensure_refuses_an_index_with_other_dimensions(search_server: FakeSearchServer) -> None:
    name = fresh_name()
    first = make_index(search_server, name)
    await first.ensure()
    await first.close()
    other = AzureSearchIndex(
        search_server.url, name, DIMENSIONS + 2, credential=AzureKeyCredential(search_server.api_key)
    )
    with pytest.raises(ConfigurationError, match="dimension"):
        await other.ensure()
    await other.close()


async def test_an_alias_is_usable_for_every_operation(search_server: FakeSearchServer) -> None:
    physical = make_index(search_server, fresh_name())
    await physical.ensure()
    alias = f"alias-{uuid.uuid4().hex[:8]}"
    async with SearchIndexClient(search_server.url, AzureKeyCredential(search_server.api_key)) as client:
        await client.create_or_update_alias(SearchAlias(name=alias, indexes=[physical.name]))
    through = make_index(search_server, alias)
    await through.ensure()
    assert alias not in search_server.indexes  # ensure found the index behind the alias and created nothing
    record = await put(through, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    assert await physical.get_document(record.key) == record
    assert [r.key async for r in through.list_documents()] == [record.key]
    assert await keys_of(through, "fox", vector=vec(1, 0, 0, 0)) == [chunk_key(record.key, 0)]
    assert set(search_server.documents(physical.name)) == {chunk_key(record.key, 0)}
    await physical.close()
    await through.close()


async def test_ensure_creates_the_requested_schema_version(search_server: FakeSearchServer) -> None:
    newest = max(VERSIONS)
    index = make_index(search_server, fresh_name(), version=newest)
    await index.ensure()
    async with SearchIndexClient(search_server.url, AzureKeyCredential(search_server.api_key)) as client:
        created = await client.get_index(index.name)
    expected = VERSIONS[newest](SchemaParams(name=index.name, dimensions=DIMENSIONS))
    assert [f.name for f in created.fields] == [f.name for f in expected.fields]
    record = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    stored = search_server.documents(index.name)[chunk_key(record.key, 0)]
    assert set(stored) == {f.name for f in expected.fields}
    assert await index.get_document(record.key) == record
    await index.close()
    with pytest.raises(ConfigurationError, match="version"):
        make_index(search_server, fresh_name(), version=newest + 1)


async def test_using_an_index_before_it_exists_is_a_configuration_error(search_server: FakeSearchServer) -> None:
    index = make_index(search_server, fresh_name())
    with pytest.raises(ConfigurationError, match="not found"):
        await index.stats()
    with pytest.raises(ConfigurationError, match="not found"):
        await index.get_document(document_key(FOX))
    record, chunks = make_document(FOX, [("quick brown fox", vec(1, 0, 0, 0))])
    with pytest.raises(ConfigurationError, match="not found"):
        await index.replace_document(record, chunks)
    await index.close()


# -- search -----------------------------------------------------------------------------------------------------------


async def test_semantic_ranking_fills_reranker_scores(index: AzureSearchIndex) -> None:
    await put(index, FOX, ("The quick brown fox jumps over the fence", vec(1, 0, 0, 0)))
    await put(index, "/docs/dog.txt", ("A lazy dog and a fox", vec(0, 1, 0, 0)))
    for mode in (SearchMode.TEXT, SearchMode.HYBRID):
        hits = await index.search("fox", vector=vec(1, 0, 0, 0), mode=mode, top=2)
        assert len(hits) == 2
        assert all(hit.reranker_score is not None and 0 <= hit.reranker_score <= 4 for hit in hits)
        assert hits[0].reranker_score >= hits[1].reranker_score  # type: ignore[operator]
    (hit,) = await index.search("", vector=vec(1, 0, 0, 0), mode=SearchMode.VECTOR, top=1)
    assert hit.reranker_score is None


async def test_semantic_ranking_reorders_the_fused_results(
    search_server: FakeSearchServer, index: AzureSearchIndex
) -> None:
    # By vector the first two only mention one query word; the third answers the whole question.
    partial = await put(index, "/docs/a.txt", ("backup tapes", vec(1, 0, 0, 0)), heading="Storage")
    other = await put(index, "/docs/b.txt", ("restore drills", vec(0.9, 0.4, 0, 0)), heading="Drills")
    answer = await put(index, "/docs/c.txt", ("how to restore a backup", vec(0, 0, 1, 0)), heading="Restore a backup")
    keys = {record.key: chunk_key(record.key, 0) for record in (partial, other, answer)}
    hits = await index.search("restore backup", vector=vec(1, 0, 0, 0), mode=SearchMode.HYBRID, top=3)
    assert hits[0].key == keys[answer.key]
    scores = [hit.reranker_score for hit in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]  # type: ignore[type-var,operator]
    first_stage = make_index(search_server, index.name, semantic=False)
    fused = await keys_of(first_stage, "restore backup", vector=vec(1, 0, 0, 0), mode=SearchMode.HYBRID, top=3)
    await first_stage.close()
    assert fused[0] != keys[answer.key]  # the reranker, not the fusion, put it first


async def test_without_semantic_ranking_there_is_no_reranker_score(search_server: FakeSearchServer) -> None:
    index = make_index(search_server, fresh_name(), semantic=False)
    await index.ensure()
    await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    (hit,) = await index.search("fox", vector=vec(1, 0, 0, 0), top=1)
    assert hit.reranker_score is None and hit.score > 0
    await index.close()


async def test_source_path_with_quotes_is_escaped(index: AzureSearchIndex) -> None:
    odd = "/docs/it's a ''quoted'' name.txt"
    record = await put(index, odd, ("quick brown fox", vec(1, 0, 0, 0)))
    await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    for mode in SearchMode:
        hits = await index.search("fox", vector=vec(1, 0, 0, 0), mode=mode, top=10, source_path=odd)
        assert [h.key for h in hits] == [chunk_key(record.key, 0)], mode


# -- settings and credentials -----------------------------------------------------------------------------------------


async def test_from_settings_uses_the_endpoint_key_and_index(search_server: FakeSearchServer) -> None:
    name = fresh_name()
    settings = Settings.from_env(
        {"AZURE_SEARCH_ENDPOINT": search_server.url, "AZURE_SEARCH_API_KEY": search_server.api_key}
    )
    index = AzureSearchIndex.from_settings(settings, dimensions=DIMENSIONS, index_name=name)
    await index.ensure()
    assert index.name == name
    assert await index.stats() == IndexStats(name=name, documents=0, chunks=0)
    assert (index.vector_weight, index.exact_term_rule) == (6.0, ExactTermRule(0.5))  # the hybrid fusion defaults
    await index.close()
    fixed = AzureSearchIndex.from_settings(
        Settings.from_env({"AZURE_SEARCH_ENDPOINT": search_server.url, "HYBRID_FUSION": "fixed"}), dimensions=4
    )
    assert fixed.exact_term_rule is None
    await fixed.close()


async def test_a_wrong_key_is_a_configuration_error_without_the_key(search_server: FakeSearchServer) -> None:
    secret = "wrong-key-9f8e7d6c5b4a"
    index = AzureSearchIndex(search_server.url, fresh_name(), DIMENSIONS, credential=AzureKeyCredential(secret))
    with pytest.raises(ConfigurationError, match="credentials") as caught:
        await index.ensure()
    assert secret not in str(caught.value) and "\n" not in str(caught.value)
    await index.close()


class _StaticToken:
    """An async token credential that hands out one fixed token."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, 4_000_000_000)

    async def close(self) -> None:
        return None


async def test_a_token_credential_works_over_http_to_loopback(search_server: FakeSearchServer) -> None:
    index = AzureSearchIndex(search_server.url, fresh_name(), DIMENSIONS, credential=_StaticToken("token-for-tests"))
    await index.ensure()
    record = await put(index, FOX, ("quick brown fox", vec(1, 0, 0, 0)))
    assert await index.get_document(record.key) == record
    await index.close()
    refused = AzureSearchIndex(search_server.url, fresh_name(), DIMENSIONS, credential=_StaticToken("not-granted"))
    with pytest.raises(ConfigurationError, match="403"):
        await refused.ensure()
    await refused.close()


def test_a_token_over_plain_http_to_another_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        AzureSearchIndex("http://search.example.com", "grounding-v3", DIMENSIONS, credential=_StaticToken("t"))


@pytest.mark.parametrize(
    ("endpoint", "name", "dimensions"),
    [
        ("ftp://x", "grounding-v3", 4),
        ("https://x", "Bad Name", 4),
        ("https://x", "ok-v1", 0),
        ("https://x", "ok", 4097),
    ],
)
def test_invalid_endpoint_names_and_dimensions_are_refused(endpoint: str, name: str, dimensions: int) -> None:
    with pytest.raises(ConfigurationError):
        AzureSearchIndex(endpoint, name, dimensions, credential=AzureKeyCredential("k"))
