"""Index definitions and aliases of the fake Azure AI Search service (mixed into ``FakeSearchServer``).

``/indexes`` and ``/indexes('{name}')``: list (``$select=name``), create (POST; 409 if taken), create-or-update (PUT;
201 or 200, adding fields only, see ``search_store.check_update``), get (also through an alias) and delete (204;
404 through an alias; 400 while an alias maps to the index). ``/aliases`` and ``/aliases('{name}')``: an alias maps
to exactly one existing index, never shares a name with an index; POST creates (409 if taken), PUT creates or
updates, DELETE removes. Every alias write gives the alias a new ETag (``@odata.etag``); ``If-Match`` /
``If-None-Match: *`` are honoured (412). ``_alias_moves`` (``FakeSearchServer.move_alias_after_read``) lets another
client's write land right after one GET of an alias has been answered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.search_definitions import check_update, validate_definition
from tests.fakes.search_store import Index, ServiceError, valid_name


class AdminRoutes:
    """The definition endpoints; the server supplies the state below."""

    indexes: dict[str, Index]
    aliases: dict[str, dict[str, Any]]
    _lock: threading.RLock
    _etag: int
    _alias_moves: dict[str, str]
    _resolve: Callable[[str], Index]

    async def _indexes(self, name: str | None, request: web.Request) -> web.Response:
        if name is None:
            if request.method == "GET":
                return self._list_indexes(request)
            if request.method == "POST":
                body = await _json_object(request)
                with self._lock:
                    return self._put_index(str(body.get("name") or ""), body, request, create_only=True)
            raise ServiceError(405, "Method not allowed.")
        if request.method == "GET":
            with self._lock:
                return web.json_response(self._resolve(name).as_json())
        if request.method == "PUT":
            body = await _json_object(request)
            with self._lock:
                target = self.aliases[name]["indexes"][0] if name in self.aliases else name
                if body.get("name") not in (name, target):
                    raise ServiceError(400, "The index name in the body does not match the name in the URL.")
                return self._put_index(target, {**body, "name": target}, request, create_only=False)
        if request.method == "DELETE":
            with self._lock:
                return self._delete_index(name, request)
        raise ServiceError(405, "Method not allowed.")

    def _list_indexes(self, request: web.Request) -> web.Response:
        select = [n.strip() for n in request.query.get("$select", "").split(",") if n.strip()]
        with self._lock:
            bodies = [index.as_json() for index in self.indexes.values()]
        if select and select != ["*"]:
            bodies = [{k: v for k, v in body.items() if k in select} for body in bodies]
        return web.json_response({"value": bodies})

    def _put_index(self, name: str, body: dict[str, Any], request: web.Request, *, create_only: bool) -> web.Response:
        validate_definition(body)
        if name in self.aliases:
            raise ServiceError(400, f"The name '{name}' is already used by an alias.")
        existing = self.indexes.get(name)
        _check_conditions(request, None if existing is None else existing.as_json()["@odata.etag"])
        if existing is not None and create_only:
            raise ServiceError(409, f"Cannot create index '{name}' because it already exists.", code="ResourceExists")
        self._etag += 1
        if existing is None:
            self.indexes[name] = Index(dict(body), etag=self._etag)
            return web.json_response(self.indexes[name].as_json(), status=201)
        check_update(existing, body)
        existing.definition = dict(body)
        existing.etag = self._etag
        return web.json_response(existing.as_json(), status=200)

    def _delete_index(self, name: str, request: web.Request) -> web.Response:
        index = self.indexes.get(name)
        if index is None:
            raise ServiceError(404, f"The index '{name}' for service 'fake' was not found.")
        _check_conditions(request, index.as_json()["@odata.etag"])
        holders = sorted(alias for alias, body in self.aliases.items() if body["indexes"][0] == name)
        if holders:
            raise ServiceError(
                400,
                f"The index '{name}' cannot be deleted because it is mapped to alias(es) {', '.join(holders)}. "
                "Delete the alias(es) or map them to a different index first.",
                code="CannotDeleteIndex",
            )
        del self.indexes[name]
        return web.Response(status=204)

    async def _aliases(self, name: str | None, request: web.Request) -> web.Response:
        if name is None and request.method == "GET":
            with self._lock:
                return web.json_response({"value": [dict(body) for body in self.aliases.values()]})
        if request.method in ("POST", "PUT"):
            body = await _json_object(request)
            with self._lock:
                return self._put_alias(name, body, request)
        with self._lock:
            body = self.aliases.get(str(name))
            if request.method == "GET":
                try:
                    if body is None:
                        raise ServiceError(404, f"The alias '{name}' was not found.")
                    return web.json_response(dict(body))
                finally:
                    if str(name) in self._alias_moves:
                        self._store_alias(str(name), self._alias_moves.pop(str(name)))
            if body is None:
                raise ServiceError(404, f"The alias '{name}' was not found.")
            if request.method == "DELETE":
                _check_conditions(request, body["@odata.etag"])
                del self.aliases[str(name)]
                return web.Response(status=204)
        raise ServiceError(405, "Method not allowed.")

    def _put_alias(self, url_name: str | None, body: dict[str, Any], request: web.Request) -> web.Response:
        name = str(body.get("name") or "")
        if url_name is not None and name != url_name:
            raise ServiceError(400, "The alias name in the body does not match the name in the URL.")
        if not valid_name(name):
            raise ServiceError(400, f"The alias name '{name}' is not valid.")
        targets = body.get("indexes")
        if not isinstance(targets, list) or len(targets) != 1:
            raise ServiceError(400, "An alias must map to exactly one index.")
        if targets[0] not in self.indexes:
            raise ServiceError(400, f"The index '{targets[0]}' that the alias maps to does not exist.")
        if name in self.indexes:
            raise ServiceError(400, f"The name '{name}' is already used by an index.")
        existing = self.aliases.get(name)
        _check_conditions(request, None if existing is None else existing["@odata.etag"])
        if existing is not None and url_name is None:
            raise ServiceError(409, f"Cannot create alias '{name}' because it already exists.", code="ResourceExists")
        self._store_alias(name, targets[0])
        return web.json_response(dict(self.aliases[name]), status=201 if existing is None else 200)

    def _store_alias(self, name: str, index: str) -> None:
        """Create or move alias ``name`` to ``index`` with a new ETag (the caller holds the lock)."""
        self._etag += 1
        self.aliases[name] = {"name": name, "indexes": [index], "@odata.etag": f'"0x{self._etag:016X}"'}


def _check_conditions(request: web.Request, etag: str | None) -> None:
    if_match = request.headers.get("If-Match")
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match == "*" and etag is not None:
        raise ServiceError(412, "The resource already exists (If-None-Match: *).", code="PreconditionFailed")
    if if_match is not None and (etag is None or (if_match != "*" and if_match != etag)):
        raise ServiceError(412, "The resource's ETag does not match If-Match.", code="PreconditionFailed")


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServiceError(400, "The request is invalid. Details: the body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ServiceError(400, "The request is invalid. Details: the body must be a JSON object.")
    return body
