"""Listing queries of the fake Azure AI Search service, answered without scanning the whole index for each page.

A *listing query* has no search text, no vector query, no ``count`` and one ``orderby`` field: the shape of a keyset
listing (``ingestion/indexing/azure_listing.py``). Its answer is exactly what ``search_query.execute`` would give
(same filter, same order: field value with nulls first ascending, then key; same page and ``nextPageParameters``
rules), but found like an index range scan would: the keys are kept sorted by the field (cached per index
``revision``), a trailing ``and <field> ge|gt <literal>`` of the filter chooses where to start (by bisection), and
the filter is evaluated only until the page (plus one, to know whether more follow) is full. An index of 150,000
documents then answers each page in milliseconds instead of a second.

``Edm.DateTimeOffset`` values compare as instants (``sort_value``), not as strings: ``...07Z`` and ``...07.001Z``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from tests.fakes.search_odata import FilterError, compile_filter
from tests.fakes.search_store import Index, ServiceError, project

MAX_PAGE = 1000
DEFAULT_PAGE = 50
_RANGE = re.compile(r"\band\s+(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<op>ge|gt)\s+(?P<value>[^\s()]+)\s*$")
_orders: dict[tuple[int, str, int, bool], tuple[list[Any], list[str]]] = {}


@lru_cache(maxsize=1_000_000)
def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sort_value(index: Index, name: str) -> Callable[[Any], Any]:
    """How the service orders values of field ``name``: instants for date-times, the value itself otherwise."""
    if str(index.fields.get(name, {}).get("type")) == "Edm.DateTimeOffset":
        return lambda value: _instant(value) if isinstance(value, str) else value
    return lambda value: value


def listing_query(body: Mapping[str, Any], order: list[tuple[str, bool]]) -> bool:
    text = str(body.get("search") or "").strip()
    return (
        text in ("", "*")
        and not body.get("vectorQueries")
        and not body.get("count")
        and (body.get("queryType") or "simple") == "simple"
        and len(order) == 1
        and order[0][0] != "search.score()"
    )


def listing_page(
    index: Index, body: Mapping[str, Any], order: tuple[str, bool], select: list[str], *, next_link: str
) -> dict[str, Any]:
    name, descending = order
    top, skip = body.get("top"), body.get("skip") or 0
    page = min(top if top is not None else DEFAULT_PAGE, MAX_PAGE)
    raw = str(body.get("filter") or "")
    try:
        predicate = compile_filter(raw, index.field_infos()) if raw else None
    except FilterError as error:
        raise ServiceError(400, str(error)) from None
    values, keys = _sorted(index, name, descending)
    start = 0 if descending else _start(index, name, raw, values)
    matches: list[str] = []
    for key in keys[start:]:
        if predicate is None or predicate(index.documents[key], {}):
            matches.append(key)
            if len(matches) > skip + page:
                break
    window = matches[skip : skip + page]
    payload: dict[str, Any] = {"value": [{**project(index.documents[k], select), "@search.score": 1.0} for k in window]}
    wanted = (top if top is not None else len(matches)) - len(window)
    if wanted > 0 and len(matches) > skip + len(window) and len(window) == page:
        following = {k: v for k, v in body.items() if v is not None}
        following["skip"] = skip + len(window)
        if top is not None:
            following["top"] = top - len(window)
        payload["@odata.nextLink"] = next_link
        payload["@search.nextPageParameters"] = following
    return payload


def _sorted(index: Index, name: str, descending: bool) -> tuple[list[Any], list[str]]:
    """(values, keys) of every document ordered as ``$orderby=name`` orders them (nulls as None, first if asc)."""
    cache_key = (id(index), name, index.revision, descending)
    found = _orders.get(cache_key)
    if found is None:
        value = sort_value(index, name)
        present = sorted(
            (value(doc[name]), key) for key, doc in index.documents.items() if doc.get(name) is not None
        )  # by value, ties by key ascending (as execute's stable sorts leave them)
        if descending:
            present.sort(key=lambda pair: pair[0], reverse=True)
        missing = sorted(key for key, doc in index.documents.items() if doc.get(name) is None)
        pairs: list[tuple[Any, str]] = [(None, key) for key in missing]
        pairs = pairs + present if not descending else present + pairs
        _orders.clear()  # one cached order at a time is plenty for a fake
        found = _orders[cache_key] = ([v for v, _ in pairs], [k for _, k in pairs])
    return found


def _start(index: Index, name: str, raw: str, values: list[Any]) -> int:
    """Where a trailing ``and name ge|gt literal`` lets the scan start: every earlier key fails that conjunct."""
    match = _RANGE.search(raw)
    if match is None or match.group("field") != name or not _one_group(raw[: match.start()].strip()):
        return 0
    bound = sort_value(index, name)(match.group("value").strip("'"))
    first = 0
    while first < len(values) and values[first] is None:
        first += 1
    try:
        return bisect.bisect_left(values, bound, lo=first)
    except TypeError:
        return 0


def _one_group(text: str) -> bool:
    """Whether ``text`` is one parenthesised group (so ``group and x`` binds the whole filter)."""
    if not text.startswith("("):
        return False
    depth = 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return position == len(text) - 1
    return False
