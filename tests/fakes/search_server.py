"""An in-process Azure AI Search service on 127.0.0.1, faithful enough for the real azure-search-documents SDK.

Speaks the REST subset of api-version 2026-04-01 (the version azure-search-documents 12.0.0 sends; the older GA
versions it knows are accepted too) that ``SearchIndexClient`` / ``SearchClient`` (and their ``.aio`` twins) use.
Both path styles work: ``/indexes('name')/...`` (what the SDK sends) and ``/indexes/name/...``::

    GET/POST      /indexes                                  list (``$select=name``) / create (201; 409 if taken)
    GET/PUT/DELETE /indexes('{name}')                        get / create-or-update (201 or 200) / delete (204)
    GET           /indexes('{name}')/search.stats           document count and storage size
    GET/POST      /aliases                                  list / create
    GET/PUT/DELETE /aliases('{name}')                        get / create-or-update / delete
    POST          /indexes('{name}')/docs/search.index      index actions: 200, or 207 with per-item statuses
    POST          /indexes('{name}')/docs/search.post.search search (see search_query)
    GET           /indexes('{name}')/docs/$count            document count (plain text)
    GET           /indexes('{name}')/docs('{key}')          one document (``$select``), 404 if missing

An alias points to exactly one existing index and may be used wherever ``{name}`` names an index for document
operations and to get or update the definition, but not to delete it; deleting an index an alias points at is a
400. Definitions, documents and their validation rules live in ``search_store``; queries in ``search_query``.

Auth: ``api-key`` equal to ``api_key`` (admin) or ``query_key`` (search, count and lookup only), or
``Authorization: Bearer <token>`` for a token in ``bearer_tokens``; none is a 401, a wrong one a 403.

Programmable faults (each consumed by the matching requests, in order):
``fail_requests(n, kind=..., status=503, retry_after=...)`` answers whole requests with an error,
``fail_items(keys, status=..., times=K)`` gives those keys an item status for their next K index attempts (the item
is not applied), ``delay_requests(n, seconds, kind=...)`` delays answers (writes are applied before the delay, as a
service that timed out from the client's side may still have done the work), and ``max_body_bytes`` /
``max_actions`` set the 413 thresholds; ``move_alias_after_read(alias, index)`` lets a concurrent alias write land
between a client's read of the alias and its conditional write. ``indexing_delay`` (seconds, default 0; settable at
any time) is the service's near-real-time refresh: an acknowledged write becomes visible to searches, ``$count``,
statistics and lookups only that long after it was applied (see ``search_store``). Every request is recorded
(``records``), every indexing request too (``batches``), ``writes`` counts successful item applications per key and
``counters()`` sums them up. It runs in a background thread with its own event loop::

    with FakeSearchServer() as server:
        client = SearchClient(server.url, "grounding-v1", AzureKeyCredential(server.api_key))
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.search_admin import AdminRoutes
from tests.fakes.search_query import execute
from tests.fakes.search_store import (
    MAX_ACTIONS,
    MAX_BODY_BYTES,
    Index,
    ServiceError,
    apply_batch,
    parse_batch,
    project,
)

API_VERSIONS = frozenset({"2020-06-30", "2023-11-01", "2024-07-01", "2025-09-01", "2026-04-01"})
READ_KINDS = frozenset({"search", "count", "lookup"})
_NAME = r"(?:\('(?P<q>[^']*)'\)|/(?P<p>[^/]+))"
_ROUTES = [
    ("index", re.compile(rf"^/indexes{_NAME}/docs/(?:search\.index|index)$")),
    ("search", re.compile(rf"^/indexes{_NAME}/docs/(?:search\.post\.search|search)$")),
    ("count", re.compile(rf"^/indexes{_NAME}/docs/\$count$")),
    ("lookup", re.compile(rf"^/indexes{_NAME}/docs(?:\('(?P<key>[^']*)'\)|/(?P<key2>[^/]+))$")),
    ("stats", re.compile(rf"^/indexes{_NAME}/search\.stats$")),
    ("indexes", re.compile(rf"^/indexes{_NAME}$")),
    ("indexes", re.compile(r"^/indexes/?$")),
    ("aliases", re.compile(rf"^/aliases{_NAME}$")),
    ("aliases", re.compile(r"^/aliases/?$")),
]


@dataclass(frozen=True)
class RequestRecord:
    kind: str
    method: str
    path: str
    status: int
    auth: str


@dataclass(frozen=True)
class BatchRecord:
    """One indexing request as received: its status, size and actions (in order)."""

    status: int
    bytes: int
    actions: tuple[tuple[str, str], ...]
    """``(action, key)`` pairs; empty when the body could not be read."""


@dataclass
class _Fault:
    kind: str
    status: int
    retry_after: float | None
    message: str


class FakeSearchServer(LoopbackServer, AdminRoutes):
    def __init__(
        self,
        *,
        api_key: str = "fake-search-admin-key-0123456789",
        query_key: str = "fake-search-query-key-0123456789",
        bearer_tokens: Iterable[str] = (),
        max_actions: int = MAX_ACTIONS,
        max_body_bytes: int = MAX_BODY_BYTES,
        indexing_delay: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.query_key = query_key
        self.bearer_tokens = set(bearer_tokens)
        self.max_actions = max_actions
        self.max_body_bytes = max_body_bytes
        self.indexing_delay = indexing_delay
        """Seconds from an acknowledged write to its visibility to reads (the service's refresh, about 1 s)."""
        self.indexes: dict[str, Index] = {}
        self.aliases: dict[str, dict[str, Any]] = {}
        self.records: list[RequestRecord] = []
        self.batches: list[BatchRecord] = []
        self.writes: Counter[str] = Counter()
        self.duplicate_key_batches = 0
        self._lock = threading.RLock()
        self._faults: deque[_Fault] = deque()
        self._item_faults: dict[str, deque[tuple[int, str]]] = {}
        self._delays: deque[tuple[str, float]] = deque()
        self._etag = 0
        self._alias_moves: dict[str, str] = {}

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    thread_name = "fake-search"

    def make_app(self) -> web.Application:
        # Far above the 16 MB limit, so that the service's own 413 (not aiohttp's) answers oversized batches.
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    # -- programmable faults, counters and inspection -----------------------------------------------------------------
    def fail_requests(
        self, count: int, *, kind: str = "index", status: int = 503, retry_after: float | None = 1.0, message: str = ""
    ) -> None:
        """The next ``count`` requests of ``kind`` (index, search, count, lookup, indexes, aliases, stats or ``any``)
        answer ``status``; ``retry_after`` (seconds; fractional here to keep tests fast) adds a Retry-After header."""
        text = message or {503: "Service Unavailable", 429: "Too many requests"}.get(status, "Injected failure")
        with self._lock:
            self._faults.extend(_Fault(kind, status, retry_after, text) for _ in range(count))

    def fail_items(self, keys: Iterable[str], *, status: int, times: int = 1, message: str = "") -> None:
        """Each of ``keys`` gets item status ``status`` in its next ``times`` indexing attempts (not applied).
        ``status=0``: the item is left out of the answer altogether, as a misbehaving service or proxy might."""
        text = message or {
            400: "The document is invalid (injected).",
            409: "The document was modified concurrently (version conflict).",
            422: "The index is temporarily unavailable.",
            503: "The service is too busy to process the document.",
        }.get(status, "Injected item failure")
        with self._lock:
            for key in keys:
                self._item_faults.setdefault(key, deque()).extend([(status, text)] * times)

    def delay_requests(self, count: int, seconds: float, *, kind: str = "index") -> None:
        """The next ``count`` requests of ``kind`` answer after ``seconds`` (writes are applied first)."""
        with self._lock:
            self._delays.extend([(kind, seconds)] * count)

    def move_alias_after_read(self, alias: str, index: str) -> None:
        """Right after the next GET of ``alias`` is answered (its target and ETag, or 404), the alias is created or
        moved to ``index`` with a new ETag, as if another client's write landed between that read and the reader's
        own conditional write (which then gets 412)."""
        with self._lock:
            self._alias_moves[alias] = index

    def counters(self) -> dict[str, int]:
        with self._lock:
            kinds = Counter(r.kind for r in self.records)
            return {
                "requests": len(self.records),
                **{f"requests_{kind}": count for kind, count in sorted(kinds.items())},
                "errors": sum(r.status >= 400 for r in self.records),
                "throttled": sum(r.status in (429, 503) for r in self.records),
                "batches": len(self.batches),
                "batch_actions": sum(len(batch.actions) for batch in self.batches),
                "items_written": sum(self.writes.values()),
                "duplicate_key_batches": self.duplicate_key_batches,
            }

    def documents(self, name: str) -> dict[str, dict[str, Any]]:
        """A copy of the documents of index (or alias) ``name``, by key: every acknowledged write, visible to reads
        yet or not (``visible_documents`` for what reads see)."""
        with self._lock:
            index = self._resolve(name)
            return {key: project(doc, doc.keys()) for key, doc in index.latest.items()}

    def visible_documents(self, name: str) -> dict[str, dict[str, Any]]:
        """A copy of what reads of index (or alias) ``name`` see now, by key."""
        with self._lock:
            index = self._visible(name)
            return {key: project(doc, doc.keys()) for key, doc in index.documents.items()}

    # -- dispatch -----------------------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.Response:
        kind, match = _route(request.path)
        status, auth = 500, "none"
        try:
            auth = self._auth(request, kind)
            self._check_api_version(request)
            self._injected_fault(kind)
            delay = self._take_delay(kind)
            response = await self._handle(kind, match, request)
            if delay:
                await asyncio.sleep(delay)
            status = response.status
            return response
        except ServiceError as error:
            status = error.status
            return web.json_response(error.payload(), status=error.status, headers=error.headers)
        finally:
            with self._lock:
                self.records.append(RequestRecord(kind, request.method, request.path, status, auth))

    def _auth(self, request: web.Request, kind: str) -> str:
        key = request.headers.get("api-key")
        bearer = request.headers.get("Authorization", "")
        if key is not None:
            if key == self.api_key or (key == self.query_key and kind in READ_KINDS):
                return "api-key"
            raise ServiceError(403, "Forbidden: the api-key is not valid for this operation.")
        if bearer.startswith("Bearer "):
            if bearer[len("Bearer ") :] in self.bearer_tokens:
                return "bearer"
            raise ServiceError(403, "Forbidden: the bearer token is not authorized.")
        raise ServiceError(401, "Unauthorized: an api-key header or a bearer token is required.")

    @staticmethod
    def _check_api_version(request: web.Request) -> None:
        if request.query.get("api-version") not in API_VERSIONS:
            raise ServiceError(400, "Invalid or missing api-version query string parameter.")

    def _injected_fault(self, kind: str) -> None:
        with self._lock:
            fault = next((f for f in self._faults if f.kind in (kind, "any")), None)
            if fault is None:
                return
            self._faults.remove(fault)
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        raise ServiceError(fault.status, fault.message, headers=headers)

    def _take_delay(self, kind: str) -> float:
        with self._lock:
            found = next((d for d in self._delays if d[0] in (kind, "any")), None)
            if found is None:
                return 0.0
            self._delays.remove(found)
            return found[1]

    async def _handle(self, kind: str, match: re.Match[str] | None, request: web.Request) -> web.Response:
        name = (match.group("q") or match.group("p")) if match is not None and "q" in match.groupdict() else None
        if kind == "index":
            return await self._index_documents(str(name), request)
        if kind == "search":
            return await self._search(str(name), request)
        if kind == "count":
            with self._lock:
                return web.Response(text=str(len(self._visible(str(name)).documents)), content_type="text/plain")
        if kind == "lookup":
            assert match is not None
            return self._lookup(str(name), match.group("key") or match.group("key2"), request)
        if kind == "stats":
            return self._stats(str(name))
        if kind == "indexes":
            return await self._indexes(name, request)
        if kind == "aliases":
            return await self._aliases(name, request)
        raise ServiceError(404, f"No resource at {request.path}.")

    # -- documents ----------------------------------------------------------------------------------------------------
    def _resolve(self, name: str) -> Index:
        target = self.aliases[name]["indexes"][0] if name in self.aliases else name
        index = self.indexes.get(target)
        if index is None:
            raise ServiceError(404, f"The index '{name}' for service 'fake' was not found.")
        return index

    def _visible(self, name: str) -> Index:
        """The index for a read: refreshed, so that writes older than ``indexing_delay`` are visible."""
        index = self._resolve(name)
        index.refresh()
        return index

    async def _index_documents(self, name: str, request: web.Request) -> web.Response:
        raw = await request.read()
        with self._lock:
            index = self._resolve(name)
            try:
                actions = parse_batch(raw, index, max_actions=self.max_actions, max_body_bytes=self.max_body_bytes)
            except ServiceError as error:
                self.batches.append(BatchRecord(error.status, len(raw), _peek_actions(raw, index.key_field)))
                raise
            index.delay = self.indexing_delay
            outcome = apply_batch(index, actions, self._item_fault)
            self.writes.update(outcome.applied)
            self.duplicate_key_batches += outcome.duplicate_keys
            pairs = tuple((a["action"], a["key"]) for a in actions)
            self.batches.append(BatchRecord(outcome.status, len(raw), pairs))
        reported = [r.as_json() for r in outcome.results if r.status != 0]
        return web.json_response({"value": reported}, status=outcome.status)

    def _item_fault(self, key: str) -> tuple[int, str] | None:
        queue = self._item_faults.get(key)
        return queue.popleft() if queue else None

    async def _search(self, name: str, request: web.Request) -> web.Response:
        if request.method != "POST":
            raise ServiceError(405, "The fake answers searches by POST only (as the SDK sends them).")
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ServiceError(400, "The request is invalid. Details: the body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ServiceError(400, "The request is invalid. Details: the body must be a JSON object.")
        with self._lock:
            index = self._visible(name)
            next_link = (
                f"{self.url}/indexes('{name}')/docs/search.post.search?api-version={request.query['api-version']}"
            )
            payload = execute(index, body, next_link=next_link)
        return web.json_response(payload)

    def _lookup(self, name: str, key: str, request: web.Request) -> web.Response:
        with self._lock:
            index = self._visible(name)
            document = index.documents.get(key)
            if document is None:  # the service answers a missing document with an empty 404
                return web.Response(status=404)
            wanted = [n.strip() for n in request.query.get("$select", "").split(",") if n.strip()]
            retrievable = index.retrievable()
            unknown = [n for n in wanted if n not in retrievable]
            if unknown:
                raise ServiceError(400, f"Invalid expression: '{unknown[0]}' is not a retrievable field.")
            return web.json_response(project(document, wanted or retrievable))

    def _stats(self, name: str) -> web.Response:
        with self._lock:
            index = self._visible(name)
            size = sum(len(json.dumps(doc)) for doc in index.documents.values())
            return web.json_response({"documentCount": len(index.documents), "storageSize": size, "vectorIndexSize": 0})


def _route(path: str) -> tuple[str, re.Match[str] | None]:
    for kind, pattern in _ROUTES:
        match = pattern.match(path)
        if match:
            return kind, match
    return "unknown", None


def _peek_actions(raw: bytes, key_field: str) -> tuple[tuple[str, str], ...]:
    try:
        actions = json.loads(raw).get("value") or []
        return tuple((str(a.get("@search.action", "upload")), str(a.get(key_field))) for a in actions)
    except (ValueError, AttributeError):
        return ()
