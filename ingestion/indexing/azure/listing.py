"""Listings (every document matching a filter) read as raw JSON pages through the search client's pipeline.

``SearchClient.search`` converts each result through its typed models field by field: for listings of vectors that
costs seconds of CPU per few hundred 1,536-dimension chunks (measured on azure-search-documents 12.0.0). Listings
need no model: this posts the search body to ``docs/search.post.search`` with ``send_request`` (same credential,
retry policy and transport as the client) and follows ``@search.nextPageParameters`` exactly as the SDK does.

``$skip`` is capped at 100,000 by the service, so one listing reads at most ``LISTING_TOP`` matches; reaching that is
a ConfigurationError rather than a silently short listing.
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

LISTING_TOP = 100_000
"""Matches one listing reads: the service sends them 1,000 per response and cannot skip past 100,000."""
READ_METHODS = frozenset({"GET", "HEAD", "POST"})
"""Methods azure-core may retry (on 408, 429, 5xx...): searches are reads, so POST is safe to resend."""


async def list_rows(
    client: SearchClient, index_name: str, *, filter: str, select: list[str], what: str
) -> AsyncIterator[dict[str, Any]]:
    """Every document of ``index_name`` matching ``filter``, with the ``select`` fields, over all pages."""
    body: dict[str, Any] | None = {"filter": filter, "select": ",".join(select), "top": LISTING_TOP}
    count = 0
    while body is not None:
        page = await _post_search(client, index_name, body, what=what)
        for row in page.get("value") or []:
            count += 1
            yield row
        following = page.get("@search.nextPageParameters")
        body = following if isinstance(following, dict) else None
    if count >= LISTING_TOP:
        raise ConfigurationError(f"{what}: {LISTING_TOP} or more matches; the service cannot page past that")


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
