"""The fake Azure AI Search service enforces the documented rules: auth, keys, batch limits, aliases and queries.

Requests go over HTTP as the SDK sends them (raw, where the exact status matters; through the SDK where it pages).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.search.documents.aio import SearchClient
from azure.search.documents.indexes.aio import SearchIndexClient
from azure.search.documents.indexes.models import SearchAlias, SimpleField

from index_schemas import SchemaParams, v1
from ingestion.indexing.azure.definitions import to_search_index
from tests.fakes.search_server import FakeSearchServer
from tests.fakes.search_store import MAX_BODY_BYTES

API = "api-version=2026-04-01"
NAME = "fake-v1"


@pytest.fixture
def server() -> Iterator[FakeSearchServer]:
    with FakeSearchServer(bearer_tokens=["good-token"]) as server:
        yield server


@pytest.fixture
async def http(server: FakeSearchServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with SearchIndexClient(server.url, AzureKeyCredential(server.api_key)) as client:
        await client.create_index(to_search_index(v1.build(SchemaParams(name=NAME, dimensions=3))))
    async with aiohttp.ClientSession(server.url) as session:
        yield session


async def call(
    session: aiohttp.ClientSession,
    server: FakeSearchServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    sent = {"api-key": server.api_key} if headers is None else headers
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    separator = "&" if "?" in path else "?"
    async with session.request(method, f"{path}{separator}{API}", data=data, headers=sent) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return response.status, text


def doc(key: str, **fields: Any) -> dict[str, Any]:
    return {"@search.action": "upload", "id": key, "parent_id": "p", "content": f"text {key}", **fields}


async def index_batch(session: aiohttp.ClientSession, server: FakeSearchServer, actions: list[Any]) -> tuple[int, Any]:
    return await call(session, server, "POST", f"/indexes('{NAME}')/docs/search.index", {"value": actions})


def statuses(payload: Any) -> dict[str, int]:
    return {item["key"]: item["statusCode"] for item in payload["value"]}


# -- auth and protocol ------------------------------------------------------------------------------------------------


async def test_credentials_are_checked(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    count = f"/indexes('{NAME}')/docs/$count"
    assert (await call(http, server, "GET", count, headers={}))[0] == 401
    assert (await call(http, server, "GET", count, headers={"api-key": "wrong"}))[0] == 403
    assert await call(http, server, "GET", count, headers={"api-key": server.query_key}) == (200, 0)
    assert (await call(http, server, "GET", count, headers={"Authorization": "Bearer good-token"}))[0] == 200
    assert (await call(http, server, "GET", count, headers={"Authorization": "Bearer bad-token"}))[0] == 403
    status, _ = await call(http, server, "POST", f"/indexes('{NAME}')/docs/search.index",
                           {"value": [doc("a")]}, headers={"api-key": server.query_key})  # fmt: skip
    assert status == 403  # a query key cannot write
    async with http.get(f"/indexes('{NAME}')/docs/$count", headers={"api-key": server.api_key}) as response:
        assert response.status == 400  # no api-version


# -- document keys and batch limits -----------------------------------------------------------------------------------


async def test_key_rules_fail_only_that_item(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    keys = ["ok-key_1=", "has space", "_leading", "é", "a" * 1024, "b" * 1025, "Case", "case"]
    status, payload = await index_batch(http, server, [doc(k) for k in keys])
    assert status == 207
    assert statuses(payload) == {
        "ok-key_1=": 201, "has space": 400, "_leading": 400, "é": 400, "a" * 1024: 201, "b" * 1025: 400,
        "Case": 201, "case": 201,
    }  # fmt: skip
    assert "Invalid document key" in payload["value"][1]["errorMessage"]
    assert set(server.documents(NAME)) == {"ok-key_1=", "a" * 1024, "Case", "case"}


async def test_at_most_1000_actions_per_request(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    status, _ = await index_batch(http, server, [doc(f"k{n}") for n in range(1001)])
    assert status == 413
    assert server.documents(NAME) == {}
    status, payload = await index_batch(http, server, [doc(f"k{n}") for n in range(1000)])
    assert status == 200 and len(payload["value"]) == 1000
    assert (await index_batch(http, server, []))[0] == 400


async def test_at_most_16_mb_per_request(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    def body_of(size: int) -> bytes:
        shell = json.dumps({"value": [doc("big", content="")]}).encode()
        return json.dumps({"value": [doc("big", content="x" * (size - len(shell)))]}).encode()

    path = f"/indexes('{NAME}')/docs/search.index"
    assert len(body_of(MAX_BODY_BYTES + 1)) == MAX_BODY_BYTES + 1
    assert (await call(http, server, "POST", path, body_of(MAX_BODY_BYTES + 1)))[0] == 413
    assert server.documents(NAME) == {}
    assert (await call(http, server, "POST", path, body_of(MAX_BODY_BYTES)))[0] == 200
    server.max_body_bytes = 2_000
    assert (await call(http, server, "POST", path, body_of(2_001)))[0] == 413
    assert [b.status for b in server.batches] == [413, 200, 413]


@pytest.mark.parametrize(
    "bad",
    [
        doc("a", unknown_field=1),
        doc("a", embedding=[1.0, 2.0]),
        doc("a", ordinal="three"),
        doc("a", groups="staff"),
        doc("a", last_indexed="2026-03-04T05:06:07"),
        {"@search.action": "upload", "content": "no key"},
        {"@search.action": "replace", "id": "a"},
    ],
)
async def test_whole_request_errors_apply_nothing(
    server: FakeSearchServer, http: aiohttp.ClientSession, bad: dict[str, Any]
) -> None:
    status, payload = await index_batch(http, server, [doc("good"), bad])
    assert status == 400 and payload["error"]["message"].startswith("The request is invalid")
    assert server.documents(NAME) == {}


async def test_vector_dimension_mismatch_names_the_lengths(
    server: FakeSearchServer, http: aiohttp.ClientSession
) -> None:
    status, payload = await index_batch(http, server, [doc("a", embedding=[1.0, 2.0, 3.0, 4.0])])
    assert status == 400
    assert "expects a length of '3'" in payload["error"]["message"] and "length of '4'" in payload["error"]["message"]


async def test_actions_and_their_statuses(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    await index_batch(http, server, [doc("a", title="first"), doc("b")])
    status, payload = await index_batch(http, server, [
        doc("a", content="replaced"),
        {"@search.action": "merge", "id": "b", "title": "merged"},
        {"@search.action": "merge", "id": "missing", "title": "x"},
        {"@search.action": "mergeOrUpload", "id": "c", "content": "new"},
        {"@search.action": "delete", "id": "never-there"},
        doc("t", source_path="x" * 32_767),
    ])  # fmt: skip
    assert status == 207
    assert statuses(payload) == {"a": 200, "b": 200, "missing": 404, "c": 201, "never-there": 200, "t": 400}
    stored = server.documents(NAME)
    assert stored["a"]["title"] is None and stored["a"]["content"] == "replaced"  # upload replaces the whole document
    assert (stored["b"]["title"], stored["b"]["content"]) == ("merged", "text b")
    assert set(stored) == {"a", "b", "c"}


async def test_two_actions_for_one_key_are_counted(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    status, payload = await index_batch(http, server, [doc("a"), {"@search.action": "delete", "id": "a"}])
    assert status == 200 and len(payload["value"]) == 2
    assert server.counters()["duplicate_key_batches"] == 1


async def test_datetimes_need_an_offset_and_keep_milliseconds(
    server: FakeSearchServer, http: aiohttp.ClientSession
) -> None:
    await index_batch(http, server, [doc("a", last_indexed="2026-03-04T07:06:07.123456+02:00")])
    assert server.documents(NAME)["a"]["last_indexed"] == "2026-03-04T05:06:07.123Z"


# -- definitions and aliases ------------------------------------------------------------------------------------------


async def test_index_definitions_follow_the_update_rules(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    async with SearchIndexClient(server.url, AzureKeyCredential(server.api_key)) as client:
        with pytest.raises(ResourceExistsError):
            await client.create_index(to_search_index(v1.build(SchemaParams(name=NAME, dimensions=3))))
        definition = await client.get_index(NAME)
        definition.fields.append(SimpleField(name="extra", type="Edm.String", filterable=True))
        await client.create_or_update_index(definition)  # adding a field is allowed in place
        changed = to_search_index(v1.build(SchemaParams(name=NAME, dimensions=5)))
        changed.fields.append(SimpleField(name="extra", type="Edm.String", filterable=True))
        with pytest.raises(HttpResponseError) as caught:
            await client.create_or_update_index(changed)  # vector dimensions need a new index
        assert caught.value.status_code == 400 and "cannot be changed" in str(caught.value.message)
        assert [n async for n in client.list_index_names()] == [NAME]
    assert (await call(http, server, "POST", "/indexes", {"name": "Bad--Name", "fields": []}))[0] == 400


async def test_alias_rules(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    async with SearchIndexClient(server.url, AzureKeyCredential(server.api_key)) as client:
        await client.create_or_update_alias(SearchAlias(name="live", indexes=[NAME]))
        for bad in (SearchAlias(name="other", indexes=["no-such-index"]), SearchAlias(name=NAME, indexes=[NAME])):
            with pytest.raises(HttpResponseError) as caught:
                await client.create_or_update_alias(bad)
            assert caught.value.status_code == 400
        assert (await client.get_index("live")).name == NAME  # an alias reads the definition
    assert (await call(http, server, "POST", "/aliases", {"name": "two", "indexes": [NAME, NAME]}))[0] == 400
    assert (await call(http, server, "POST", "/aliases", {"name": "live", "indexes": [NAME]}))[0] == 409
    assert (await call(http, server, "POST", "/indexes('live')/docs/search.index", {"value": [doc("a")]}))[0] == 200
    assert set(server.documents(NAME)) == {"a"}
    assert (await call(http, server, "DELETE", "/indexes('live')"))[0] == 404  # an alias cannot delete an index
    status, payload = await call(http, server, "DELETE", f"/indexes('{NAME}')")
    assert status == 400 and "live" in payload["error"]["message"]  # still mapped to an alias
    assert (await call(http, server, "DELETE", "/aliases('live')"))[0] == 204
    assert (await call(http, server, "DELETE", f"/indexes('{NAME}')"))[0] == 204
    assert (await call(http, server, "GET", f"/indexes('{NAME}')"))[0] == 404


# -- queries ----------------------------------------------------------------------------------------------------------


async def seed(http: aiohttp.ClientSession, server: FakeSearchServer, count: int = 6) -> None:
    actions = [
        doc(f"k{n:03d}", parent_id=f"p{n % 2}", ordinal=n, source_path=f"/d/it's {n % 3}.txt", groups=[f"g{n % 3}"],
            content=f"fox {'fox ' * (n % 4)}dog", embedding=[1.0, float(n), 0.0])
        for n in range(count)
    ]  # fmt: skip
    for start in range(0, count, 600):
        assert (await index_batch(http, server, actions[start : start + 600]))[0] == 200


async def search(http: aiohttp.ClientSession, server: FakeSearchServer, **body: Any) -> tuple[int, Any]:
    return await call(http, server, "POST", f"/indexes('{NAME}')/docs/search.post.search", body)


def ids(payload: Any) -> list[str]:
    return [row["id"] for row in payload["value"]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("parent_id eq 'p1'", ["k001", "k003", "k005"]),
        ("parent_id ne 'p1' and ordinal gt 1", ["k002", "k004"]),
        ("ordinal le 1 or ordinal ge 5", ["k000", "k001", "k005"]),
        ("source_path eq '/d/it''s 2.txt'", ["k002", "k005"]),
        ("search.in(id, 'k001,k004', ',')", ["k001", "k004"]),
        ("search.in(id, 'k001 k004')", ["k001", "k004"]),
        ("groups/any(g: g eq 'g1')", ["k001", "k004"]),
        ("not (ordinal lt 4) and page_start eq null", ["k004", "k005"]),
    ],
)
async def test_filters(
    server: FakeSearchServer, http: aiohttp.ClientSession, expression: str, expected: list[str]
) -> None:
    await seed(http, server)
    status, payload = await search(http, server, filter=expression, select="id", orderby="ordinal asc")
    assert status == 200 and ids(payload) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"filter": "content eq 'fox'"},  # not filterable
        {"filter": "groups eq 'g1'"},  # a collection compared directly
        {"filter": "parent_id eq"},
        {"select": "groups"},  # not retrievable
        {"select": "nope"},
        {"orderby": "parent_id"},  # not sortable
        {"skip": 100_001},
        {"search": "fox", "queryType": "semantic", "semanticConfiguration": "nope"},
        {"vectorQueries": [{"kind": "vector", "vector": [1, 0], "k": 3, "fields": "embedding"}]},
        {"vectorQueries": [{"kind": "vector", "vector": [1, 0, 0], "k": 3, "fields": "content"}]},
    ],
)
async def test_invalid_queries_are_400(server: FakeSearchServer, http: aiohttp.ClientSession, body: Any) -> None:
    await seed(http, server)
    assert (await search(http, server, **body))[0] == 400


async def test_text_vector_hybrid_and_semantic_scores(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    await seed(http, server)
    _, text = await search(http, server, search="fox", select="id", top=3)
    assert ids(text) == ["k003", "k002", "k001"]  # most mentions first (BM25)
    vector_query = {"kind": "vector", "vector": [1.0, 5.0, 0.0], "k": 2, "fields": "embedding"}
    _, vector = await search(http, server, vectorQueries=[vector_query], select="id")
    assert ids(vector) == ["k005", "k004"]
    _, hybrid = await search(http, server, search="fox", vectorQueries=[vector_query], select="id", top=3)
    scores = {row["id"]: row["@search.score"] for row in hybrid["value"]}
    assert scores["k005"] == pytest.approx(1 / 61 + 1 / 64)  # first by vector, fourth by text (ties go by key)
    _, semantic = await search(http, server, search="fox", queryType="semantic", select="id", top=3)
    assert ids(semantic) == ids(text)  # every result covers the one-word query: reranker ties keep the BM25 order
    assert len({row["@search.rerankerScore"] for row in semantic["value"]}) == 1
    _, minus = await search(http, server, search="-fox", select="id")
    assert ids(minus) == [] and (await search(http, server, search="dog -fox"))[0] == 200


async def test_paging_follows_the_service_limits(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    await seed(http, server, count=1_200)
    _, default = await search(http, server, select="id", count=True)
    assert len(default["value"]) == 50 and default["@odata.count"] == 1_200
    assert default["@search.nextPageParameters"]["skip"] == 50
    _, big = await search(http, server, select="id", top=1_100)
    assert len(big["value"]) == 1_000 and big["@search.nextPageParameters"] == {
        "select": "id",
        "skip": 1_000,
        "top": 100,
    }
    _, small = await search(http, server, select="id", top=10, skip=5)
    assert len(small["value"]) == 10 and "@search.nextPageParameters" not in small
    async with SearchClient(server.url, NAME, AzureKeyCredential(server.api_key)) as client:
        every = [row["id"] async for row in await client.search(None, select=["id"], filter="parent_id eq 'p0'")]
    assert len(every) == 600 and len(set(every)) == 600  # the SDK followed the continuation pages


async def test_count_and_lookup(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    await seed(http, server)
    assert await call(http, server, "GET", f"/indexes('{NAME}')/docs/$count") == (200, 6)
    status, row = await call(http, server, "GET", f"/indexes('{NAME}')/docs('k001')?$select=id,ordinal")
    assert (status, row) == (200, {"id": "k001", "ordinal": 1})
    assert (await call(http, server, "GET", f"/indexes('{NAME}')/docs('nope')"))[0] == 404


# -- programmable faults ----------------------------------------------------------------------------------------------


async def test_faults_are_consumed_in_order(server: FakeSearchServer, http: aiohttp.ClientSession) -> None:
    server.fail_requests(1, kind="index", status=503, retry_after=2)
    path = f"/indexes('{NAME}')/docs/search.index"
    async with http.post(f"{path}?{API}", json={"value": [doc("a")]}, headers={"api-key": server.api_key}) as response:
        assert response.status == 503 and response.headers["Retry-After"] == "2"
    server.fail_items(["a"], status=409, times=2)
    for expected in (409, 409, 201):
        _, payload = await index_batch(http, server, [doc("a")])
        assert statuses(payload) == {"a": expected}
    assert server.writes["a"] == 1
    counters = server.counters()
    assert (counters["requests_index"], counters["throttled"], counters["items_written"]) == (4, 1, 1)


def test_listing_pages_match_the_general_query_path() -> None:
    """The fake's fast listing path (no count) answers exactly what the general path (with count) does."""
    from tests.fakes.search_listing import listing_page
    from tests.fakes.search_query import execute
    from tests.fakes.search_store import Index as FakeIndex

    index = FakeIndex(
        definition={
            "name": "listing",
            "fields": [
                {"name": "id", "type": "Edm.String", "key": True, "filterable": True},
                {"name": "n", "type": "Edm.Int32", "filterable": True},
                {"name": "at", "type": "Edm.DateTimeOffset", "filterable": True, "sortable": True},
            ],
        }
    )
    for i in range(2500):
        at = None if i % 97 == 0 else f"2026-01-01T00:00:0{i % 7}{'.5' if i % 3 else ''}Z"
        index.store(f"k{i:05d}", {"id": f"k{i:05d}", "n": i % 2, "at": at})
    for direction in ("asc", "desc"):
        for extra in ("", " and at ge 2026-01-01T00:00:03Z", " and at eq null"):
            body = {"filter": f"(n eq 0){extra}", "orderby": f"at {direction}", "top": 1000, "skip": 0, "select": "id"}
            while True:
                fast = listing_page(index, body, ("at", direction == "desc"), ["id"], next_link="x")
                slow = execute(index, {**body, "count": True}, next_link="x")
                assert [r["id"] for r in fast["value"]] == [r["id"] for r in slow["value"]]
                following = fast.get("@search.nextPageParameters")
                assert (following is None) == (slow.get("@search.nextPageParameters") is None)
                if following is None:
                    break
                body = following
