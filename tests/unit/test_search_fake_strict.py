"""Where the fake Azure AI Search service is as strict as the service: type-checked OData, a semantic ranker that
reorders, and documents that become visible only after the indexing delay."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.fakes.search_server import FakeSearchServer
from tests.unit.test_search_fake import NAME, call, doc, http, ids, index_batch, search, seed, server

__all__ = ["http", "server"]  # fixtures, used by name


@pytest.mark.parametrize(
    "expression",
    [
        "ordinal eq '1'",  # Int32 field, string literal
        "parent_id eq 1",  # string field, number literal
        "parent_id gt 1.5",
        "ordinal eq true",
        "last_indexed ge 'yesterday'",
        "last_indexed eq 3",
        "groups/any(g: g eq 1)",  # string collection, number literal
        "parent_id eq source_path",  # field to field
        "'a' eq 'a'",  # literal to literal
        "search.in(ordinal, '1,2')",  # search.in on a number
    ],
)
async def test_mismatched_types_are_a_400_not_false(
    server: FakeSearchServer, http: aiohttp.ClientSession, expression: str
) -> None:
    await seed(http, server)
    status, payload = await search(http, server, filter=expression, select="id")
    assert status == 400, payload
    assert "Invalid expression" in payload["error"]["message"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("ordinal eq 1.0", ["k001"]),  # Int32 and a decimal: both numeric
        ("ordinal ge 4 and parent_id eq null", []),
        ("1 eq ordinal", ["k001"]),  # the literal may come first
        ("last_indexed eq null", ["k000", "k001", "k002", "k003", "k004", "k005"]),
        ("last_indexed lt 2030-01-01T00:00:00Z", []),
    ],
)
async def test_compatible_types_still_compare(
    server: FakeSearchServer, http: aiohttp.ClientSession, expression: str, expected: list[str]
) -> None:
    await seed(http, server)
    status, payload = await search(http, server, filter=expression, select="id", orderby="ordinal asc")
    assert status == 200, payload
    assert ids(payload) == expected


async def semantic(http: aiohttp.ClientSession, server: FakeSearchServer, text: str, **body: Any) -> list[Any]:
    status, payload = await search(http, server, search=text, queryType="semantic", select="id,title", **body)
    assert status == 200, payload
    return list(payload["value"])


async def test_the_semantic_ranker_reorders_by_how_well_a_result_answers(
    server: FakeSearchServer, http: aiohttp.ClientSession
) -> None:
    actions = [
        doc("spam", title="Backups", content="backup", embedding=[1.0, 0.0, 0.0]),
        doc("answer", title="Restore a backup", content="To restore a backup, stop it.", embedding=[0.0, 0.0, 1.0]),
        doc("other", title="Restore drills", content="Drills run monthly.", embedding=[0.9, 0.4, 0.0]),
    ]
    assert (await index_batch(http, server, actions))[0] == 200
    vector = {"kind": "vector", "vector": [1.0, 0.0, 0.0], "k": 3, "fields": "embedding", "weight": 6}
    _, first_stage = await search(http, server, search="restore backup", vectorQueries=[vector], select="id")
    rows = await semantic(http, server, "restore backup", vectorQueries=[vector])
    assert ids(first_stage) == ["spam", "other", "answer"]  # the weighted vector ranking dominates the fusion
    assert [row["id"] for row in rows] == ["answer", "spam", "other"]
    scores = [row["@search.rerankerScore"] for row in rows]
    assert all(0 <= score <= 4 for score in scores) and scores == sorted(scores, reverse=True)
    assert rows[0]["@search.score"] < rows[1]["@search.score"]  # the first-stage score is kept as it was


async def test_the_semantic_ranker_reranks_only_the_best_50(
    server: FakeSearchServer, http: aiohttp.ClientSession
) -> None:
    actions = [doc(f"k{n:03d}", content="fox " * (60 - n) + "dog") for n in range(55)]
    actions.append(doc("late", title="fox and dog", content="fox and dog"))  # BM25 ranks it last (short, once each)
    assert (await index_batch(http, server, actions))[0] == 200
    rows = await semantic(http, server, "fox dog", top=100)
    assert len(rows) == 50 and all("@search.rerankerScore" in row for row in rows)


async def test_the_semantic_ranker_is_deterministic(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    await seed(http, server, count=30)
    assert await semantic(http, server, "fox dog") == await semantic(http, server, "fox dog")


async def test_writes_reach_reads_after_the_indexing_delay(
    server: FakeSearchServer, http: aiohttp.ClientSession
) -> None:
    server.indexing_delay = 0.3
    assert (await index_batch(http, server, [doc("a"), doc("b")]))[0] == 200
    merge = {"@search.action": "merge", "id": "a", "content": "merged"}
    assert (await index_batch(http, server, [merge]))[0] == 200  # writes see writes at once: no 404
    count = f"/indexes('{NAME}')/docs/$count"
    assert await call(http, server, "GET", count) == (200, 0)
    assert (await call(http, server, "GET", f"/indexes('{NAME}')/docs('a')"))[0] == 404
    assert ids((await search(http, server, select="id"))[1]) == []
    await asyncio.sleep(0.4)
    assert await call(http, server, "GET", count) == (200, 2)
    status, row = await call(http, server, "GET", f"/indexes('{NAME}')/docs('a')?$select=content")
    assert (status, row) == (200, {"content": "merged"})
    assert (await index_batch(http, server, [{"@search.action": "delete", "id": "a"}]))[0] == 200
    assert sorted(ids((await search(http, server, select="id"))[1])) == ["a", "b"]  # the delete is pending
    assert set(server.documents(NAME)) == {"b"}
    await asyncio.sleep(0.4)
    assert ids((await search(http, server, select="id"))[1]) == ["b"]
