"""The Functions handlers on arbitrary requests and events (no Azurite: the services are stubbed behind them).

HTTP: any body, query string and method gives a JSON response with a documented status and a one-line error; never
an exception out of the handler (a 500 with a traceback). Event Grid: any event type and ``data`` shape is either
handled or ignored with a log line; a BlobDeleted URL in the source's container maps to the source's identity."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import azure.functions as func
from hypothesis import example, given
from hypothesis import strategies as st

from ingestion.errors import MigrationRefused
from ingestion.functions import blobs, http
from ingestion.runs.live import LiveUpdates
from ingestion.sources.blob import BlobContainerSource

VERSIONS = {1, 2}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
versions = st.one_of(json_values, st.integers(-5, 5), st.text(alphabet="0123456789²٣_ -+.", max_size=8))
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(["schema_version", "force"]), versions, max_size=2).map(
        lambda value: json.dumps(value).encode()
    ),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
)
params = st.dictionaries(st.sampled_from(["schema_version", "x", ""]), st.text(max_size=12), max_size=2)
methods = st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "post", "X"])


@dataclass
class _Run:
    run_id: str = "run-1"
    status: Any = field(default_factory=lambda: mock.Mock(value="listing"))
    started_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    migration: object = None


async def _start_run(reindexer: object, *, trigger: str, schema_version: int | None) -> _Run:
    assert trigger == "http" and (schema_version is None or type(schema_version) is int)
    if schema_version is not None and schema_version not in VERSIONS:
        raise MigrationRefused(f"schema version {schema_version} is not registered", conflict=False)
    return _Run(migration={"version": schema_version} if schema_version else None)


async def _start_or_join(reindexer: object, *, trigger: str) -> tuple[_Run, bool]:
    assert trigger == "http"
    return _Run(), False


async def _services() -> object:
    return mock.Mock(reindexer=object())


def call_reindex(method: str, body: bytes, query: dict[str, str]) -> func.HttpResponse:
    request = func.HttpRequest(method=method, url="http://localhost/api/reindex", body=body, headers={}, params=query)
    with (
        mock.patch.object(http, "get_services", _services),
        mock.patch.object(http, "start_run", _start_run),
        mock.patch.object(http, "start_or_join", _start_or_join),
    ):
        return asyncio.run(http.reindex_now(request))


@given(method=methods, body=bodies, query=params)
@example(method="POST", body=b'{"schema_version": "\xc2\xb2"}', query={})
@example(method="POST", body=b"[" * 5000 + b"]" * 5000, query={})
@example(method="POST", body=b"", query={"schema_version": "9" * 5000})
@example(method="POST", body=b'{"schema_version": 2}', query={"schema_version": "x"})
def test_reindex_answers_json_with_a_documented_status(method: str, body: bytes, query: dict[str, str]) -> None:
    response = call_reindex(method, body, query)
    assert response.mimetype == "application/json"
    answer = json.loads(response.get_body())
    assert response.status_code in (202, 400, 409), answer
    if response.status_code == 202:
        assert answer["run"] == "run-1"
    else:
        message = answer["error"]
        assert "\n" not in message and len(message) < 300 and "Traceback" not in message


@dataclass
class _Live:
    deleted: list[str] = field(default_factory=list)

    async def delete(self, url: str) -> None:
        self.deleted.append(url)

    async def enqueue_directory(self, queue: object, url: str) -> None:  # stands in for enqueue_directory_delete
        self.deleted.append(url)


event_types = st.sampled_from([blobs.BLOB_DELETED, blobs.DIRECTORY_DELETED, "Microsoft.Storage.BlobCreated", "", "x"])


@given(event_type=event_types, data=json_values, url=st.text(max_size=80))
def test_event_grid_events_are_handled_or_ignored(event_type: str, data: object, url: str) -> None:
    for payload in (data, {"url": url, "api": "DeleteBlob"}):
        event = func.EventGridEvent(
            id="e1", data=payload, topic="t", subject="s", event_type=event_type,
            event_time=None, data_version="1",
        )  # fmt: skip
        live = _Live()
        services = mock.AsyncMock(return_value=mock.Mock(live=live))
        with (
            mock.patch.object(blobs, "get_services", services),
            mock.patch.object(blobs, "enqueue_directory_delete", live.enqueue_directory),
        ):
            asyncio.run(blobs.delete_blob(event))
        wanted = event_type in (blobs.BLOB_DELETED, blobs.DIRECTORY_DELETED)
        expected = payload.get("url") if isinstance(payload, dict) else None
        assert live.deleted == ([expected] if wanted and isinstance(expected, str) else [])


SOURCE = BlobContainerSource("docs", connection_string="UseDevelopmentStorage=true", prefix="team/")
LIVE = LiveUpdates(pipeline=mock.Mock(), source=SOURCE, store=mock.Mock())


@given(url=st.text(max_size=120), name=st.text(min_size=1, max_size=60))
@example(url="", name="team/notes#1.md")
def test_any_event_url_maps_into_the_source_or_nowhere(url: str, name: str) -> None:
    for candidate in (url, f"http://127.0.0.1:10000/devstoreaccount1/docs/{name}"):
        source_id = LIVE._source_id(candidate)
        assert source_id is None or source_id.startswith(SOURCE.scope)
    if "%" not in name and name.startswith("team/") and name.strip("/") != "team":
        assert LIVE._source_id(f"http://127.0.0.1:10000/devstoreaccount1/docs/{name}") == f"{SOURCE.scope}{name[5:]}"
