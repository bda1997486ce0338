"""Listings (every document matching a filter) read as raw JSON pages through the search client's pipeline.

``SearchClient.search`` converts each result through its typed models field by field: for listings of vectors that
costs seconds of CPU per few hundred 1,536-dimension chunks (measured on azure-search-documents 12.0.0). Listings
need no model: this posts the search body to ``docs/search.post.search`` with ``send_request`` (same credential,
retry policy and transport as the client).

No ceiling (the service's ``$skip`` stops at 100,000): a listing is read in keyset order on ``last_indexed``, which
every schema version declares sortable and every chunk carries (its document's record), so no schema change is
needed. Each request asks for ``PAGE`` rows ``$orderby=last_indexed asc`` with the filter ``last_indexed ge <the last
value read>`` and skips only the rows already read at exactly that value (ties: one document's chunks share one
timestamp). Rows without a value sort first; they are read with ``last_indexed eq null`` the same way. A document
re-indexed while the listing runs moves to a later value and is read again later, never lost (callers keep each key
once); skipping past 100,000 rows of *one* value would still be refused, which per-millisecond timestamps do not
reach.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from azure.core.exceptions import AzureError
from azure.core.rest import HttpRequest
from azure.search.documents.aio import SearchClient

from ingestion.errors import ConfigurationError, TransientError
from ingestion.indexing.azure.batches import API_VERSION
from ingestion.indexing.azure.errors import for_status, service_message, translate

ORDER_FIELD = "last_indexed"
PAGE = 1000
"""Rows per request: the most the service returns in one response."""
MAX_SKIP = 100_000
READ_METHODS = frozenset({"GET", "HEAD", "POST"})
"""Methods azure-core may retry (on 408, 429, 5xx...): searches are reads, so POST is safe to resend."""


async def list_rows(
    client: SearchClient, index_name: str, *, filter: str, select: list[str], what: str
) -> AsyncIterator[dict[str, Any]]:
    """Every document of ``index_name`` matching ``filter``, with the ``select`` fields, in pages of ``PAGE``."""
    fields = ",".join(select if ORDER_FIELD in select else [*select, ORDER_FIELD])
    where: str | None = None  # first request: the filter alone (rows without a value come first)
    bound: object = _UNSET  # the last value read
    ties = 0  # rows already read whose value equals ``bound``: skipped by the next request
    while True:
        if ties > MAX_SKIP:
            raise ConfigurationError(f"{what}: more than {MAX_SKIP} documents share {ORDER_FIELD} {bound}")
        body = {
            "filter": filter if where is None else f"({filter}) and {where}",
            "select": fields,
            "orderby": f"{ORDER_FIELD} asc",
            "top": PAGE,
            "skip": 0 if where is None else ties,
        }
        rows = (await _post_search(client, index_name, body, what=what)).get("value") or []
        for row in rows:
            value = row.get(ORDER_FIELD)
            bound, ties = (bound, ties + 1) if value == bound else (value, 1)
            yield row
        if len(rows) < PAGE:
            if where != _NULLS:
                return
            where, bound, ties = f"{ORDER_FIELD} ne null", _UNSET, 0  # the rows without a value are done
            continue
        where = _NULLS if bound is None else f"{ORDER_FIELD} ge {bound}"


_NULLS = f"{ORDER_FIELD} eq null"
_UNSET = object()


async def _post_search(client: SearchClient, index_name: str, body: dict[str, Any], *, what: str) -> dict[str, Any]:
    request = HttpRequest(
        "POST",
        f"/indexes('{index_name}')/docs/search.post.search",
        params={"api-version": API_VERSION},
        headers={"Accept": "application/json;odata.metadata=none"},
        json=body,
    )
    try:
        response = await client.send_request(request, retry_on_methods=READ_METHODS)
    except AzureError as error:
        raise translate(error, what=what) from None
    if response.status_code != 200:
        message = service_message(response.content)
        raise for_status(response.status_code, message, what=what, indexing=False, headers=response.headers)
    try:
        page = response.json()
    except ValueError:
        page = None
    if not isinstance(page, dict):
        raise TransientError(f"{what}: Azure AI Search answered a search with something other than a JSON object")
    return page
