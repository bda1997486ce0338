"""The access-control contract (tests/contract/acl_contract.py) on the Azure AI Search writer and the fake service,
plus the exact filter a trimmed query sends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
from azure.core.credentials import AzureKeyCredential

from ingestion.acl import Principal
from ingestion.indexing.azure.index import AzureSearchIndex
from tests.contract.acl_contract import AclContract
from tests.contract.acl_fusion_contract import AclFusionContract
from tests.contract.index_contract import DIMENSIONS
from tests.fakes.search_server import FakeSearchServer


@pytest.fixture(scope="module")
def search_server() -> Iterator[FakeSearchServer]:
    with FakeSearchServer() as server:
        yield server


async def _index(server: FakeSearchServer, version: int) -> AzureSearchIndex:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    credential = AzureKeyCredential(server.api_key)
    index = AzureSearchIndex(server.url, name, DIMENSIONS, credential=credential, version=version, backoff_seconds=0.01)
    await index.ensure()
    return index


@pytest.fixture
async def acl_index(search_server: FakeSearchServer) -> AsyncIterator[AzureSearchIndex]:
    index = await _index(search_server, 3)
    yield index
    await index.close()


@pytest.fixture
async def v1_index(search_server: FakeSearchServer) -> AsyncIterator[AzureSearchIndex]:
    index = await _index(search_server, 1)
    yield index
    await index.close()


class TestAzureAclContract(AclContract, AclFusionContract):
    """The shared ACL contracts (trimming; trimming with the exact-term rule) on the fake service."""


def test_the_filter_escapes_every_value_and_always_admits_public_documents() -> None:
    principal = Principal.of("o'id", ["g1", "it's"])
    assert principal.odata_filter() == ("(groups/any(g: search.in(g, '*,g1,it''s', ',')) or oids/any(o: o eq 'o''id'))")
    assert Principal.of(None, []).odata_filter() == "(groups/any(g: search.in(g, '*', ',')))"


def test_v3_stores_its_vectors_so_an_acl_merge_keeps_them() -> None:
    from index_schemas import VERSIONS, SchemaParams

    embedding = next(f for f in VERSIONS[3](SchemaParams("grounding-v3", 4)).fields if f.name == "embedding")
    assert embedding.stored is True  # Azure drops a stored: false vector on a partial merge unless resent


async def test_an_acl_merge_is_refused_when_vectors_are_not_stored(search_server: FakeSearchServer) -> None:
    from ingestion.acl import Acl
    from ingestion.errors import ConfigurationError

    index = AzureSearchIndex(search_server.url, "acl-unstored", DIMENSIONS, credential=AzureKeyCredential("k"))
    fields = tuple(replace(f, stored=False) if f.name == "embedding" else f for f in index.definition.fields)
    index.definition = replace(index.definition, fields=fields)
    before = len(search_server.records)
    with pytest.raises(ConfigurationError, match="does not store its vectors; a merge would drop them"):
        await index.update_acl("doc", Acl.public())
    assert len(search_server.records) == before  # refused before any request
    await index.close()
