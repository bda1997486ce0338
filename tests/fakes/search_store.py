"""The state behind the fake Azure AI Search service: definitions, aliases and documents, with the service's rules.

Definitions are kept as the REST JSON the SDK sends (``SearchIndex`` serialised by azure-search-documents 12.0.0).
``create``/``create_or_update`` validate them as the service does (search_definitions): a valid name (2-128
lowercase letters, digits, ``-``/``_``, starting with a letter or digit, no ``--``/``__``), unique field names,
exactly one ``Edm.String`` key, vector fields with 1-4,096 ``dimensions`` and an existing profile, profiles naming
an existing algorithm and (when they name one) an existing vectorizer and compression; an update may add fields and
change semantic or vector settings (vectorizers, a profile's vectorizer), but changing or removing an existing
field, or the algorithm or compression of a profile an existing vector field uses, is a 400 (that needs a rebuild).
Vectorizers and compressions are kept as sent; queries do not use them (searches take vectors, never text to
vectorize).

Documents (``index_batch``) follow the documented indexing rules:

- at most ``max_actions`` (1,000) actions and ``max_body_bytes`` (16 MB) per request, else **413** for the whole
  request; an empty batch is a 400;
- whole-request **400** (nothing applied): an action without a key, an unknown ``@search.action``, a property that is
  not a field of the index, a value of the wrong type, a vector whose length is not the field's ``dimensions``;
- per-item **400** (the other items still apply, answer 207): a key outside ``A-Za-z0-9-_=``, starting with ``_`` or
  longer than 1,024 characters, and a filterable/sortable/facetable string over 32,766 UTF-8 bytes; **404** for a
  ``merge`` of a missing key;
- ``upload`` replaces the whole document (201 new, 200 existing), ``merge`` updates the given fields (200),
  ``mergeOrUpload`` does whichever applies, ``delete`` is idempotent (200).
- Two actions for the same key in one batch: the service gives no ordering guarantee inside a batch, so callers must
  never do it. The fake applies them in the order sent, answers each, and counts the batch in
  ``duplicate_key_batches`` so tests can assert a writer never sends one.

``Edm.DateTimeOffset`` values must carry an offset and are stored in UTC at millisecond precision (returned as
``2026-03-04T05:06:07.123Z``, or without the fraction when it is zero).

Near-real-time visibility: the service acknowledges a write once it is durable, but a refresh (about 1 s) makes it
visible to reads. ``Index.delay`` (seconds, 0 by default) models that: writes apply at once to ``latest`` (what
later writes see: ``merge`` of a key written a moment ago works, as on the service) and reach ``documents`` (what
every read sees: search, ``$count``, statistics and lookup by key) ``delay`` seconds later, in the order written.
The service promises nothing about when a read sees a write, not even a lookup of the key just written, so the fake
applies the delay to all of them; code that must see its own writes has to wait for them.

Not modelled: ``stored: false`` vector fields (kept and searchable here, only hidden from results), analyzers other
than the word splitter in ``analyze``, and document quotas.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.search_odata import FieldInfo

MAX_ACTIONS = 1000
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_KEY_LENGTH = 1024
MAX_TERM_BYTES = 32766
ACTIONS = ("upload", "merge", "mergeOrUpload", "delete")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,127}$")
_KEY = re.compile(r"^[A-Za-z0-9\-=][A-Za-z0-9_\-=]*$")
_WORD = re.compile(r"\w+")
_INT_RANGES = {"Edm.Int32": (-(2**31), 2**31 - 1), "Edm.Int64": (-(2**63), 2**63 - 1)}


class ServiceError(Exception):
    """An error answer: HTTP ``status`` with the service's JSON error body."""

    def __init__(self, status: int, message: str, *, code: str = "", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})

    def payload(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name)) and "--" not in name and "__" not in name


def analyze(text: str) -> list[str]:
    """The fake's analyzer for every searchable field: lower-cased runs of word characters (no stemming)."""
    return [token.lower() for token in _WORD.findall(text)]


@dataclass
class ItemResult:
    key: str
    status: int
    message: str | None = None

    def as_json(self) -> dict[str, object]:
        ok = self.status in (200, 201)
        return {"key": self.key, "status": ok, "errorMessage": self.message, "statusCode": self.status}


@dataclass
class Index:
    """One physical index: its definition (REST JSON), typed field map and documents by key."""

    definition: dict[str, Any]
    etag: int = 1
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What reads see (refreshed: call ``refresh()`` first)."""
    terms: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    """key -> searchable field -> term counts (kept in step with ``documents``)."""
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What writes see: every acknowledged write, visible to reads or not yet."""
    delay: float = 0.0
    """Seconds from a write's acknowledgement to its visibility to reads."""
    pending: deque[tuple[float, str, dict[str, Any] | None]] = field(default_factory=deque)
    """Acknowledged writes not yet visible: ``(visible at, key, document or None for a delete)``, in write order."""
    revision: int = 0
    """Bumped by every change of ``documents`` (caches of sorted orders key on it)."""

    @property
    def name(self) -> str:
        return str(self.definition["name"])

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        return {str(f["name"]): f for f in self.definition.get("fields", [])}

    @property
    def key_field(self) -> str:
        return next(name for name, f in self.fields.items() if f.get("key"))

    def field_infos(self) -> dict[str, FieldInfo]:
        infos = {}
        for name, spec in self.fields.items():
            full = str(spec["type"])
            collection = full.startswith("Collection(")
            item = full[len("Collection(") : -1] if collection else full
            infos[name] = FieldInfo(name, item, collection, bool(spec.get("filterable")))
        return infos

    def searchable_text_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.get("searchable") and "Edm.String" in str(f["type"])]

    def vector_fields(self) -> dict[str, int]:
        return {n: int(f["dimensions"]) for n, f in self.fields.items() if f.get("dimensions")}

    def retrievable(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.get("retrievable", True) and f.get("stored", True) is not False]

    def as_json(self) -> dict[str, Any]:
        body = copy.deepcopy(self.definition)
        body["@odata.etag"] = f'"0x{self.etag:016X}"'
        return body

    def store(self, key: str, document: dict[str, Any]) -> None:
        self.latest[key] = document
        self._write(key, document)

    def remove(self, key: str) -> bool:
        existed = self.latest.pop(key, None) is not None
        self._write(key, None)
        return existed

    def refresh(self) -> None:
        """Make every write whose delay has passed visible to reads."""
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            _, key, document = self.pending.popleft()
            self._publish(key, document)

    def _write(self, key: str, document: dict[str, Any] | None) -> None:
        if self.delay <= 0 and not self.pending:
            self._publish(key, document)
        else:
            self.pending.append((time.monotonic() + max(self.delay, 0.0), key, document))

    def _publish(self, key: str, document: dict[str, Any] | None) -> None:
        self.revision += 1
        if document is None:
            self.terms.pop(key, None)
            self.documents.pop(key, None)
            return
        self.documents[key] = document
        self.terms[key] = {
            name: Counter(analyze(str(document.get(name) or ""))) for name in self.searchable_text_fields()
        }


# -- documents ---------------------------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    results: list[ItemResult]
    duplicate_keys: bool
    applied: Counter[str]
    """Successful applications by key."""

    @property
    def status(self) -> int:
        return 200 if all(r.status in (200, 201) for r in self.results) else 207


def parse_batch(raw: bytes, index: Index, *, max_actions: int, max_body_bytes: int) -> list[dict[str, Any]]:
    """Whole-request checks; return the normalised actions or raise ServiceError (nothing applied)."""
    if len(raw) > max_body_bytes:
        raise ServiceError(413, "The request is too large. Split the batch (at most 16 MB per request).")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServiceError(400, "The request is invalid. Details: the body is not valid JSON.") from None
    actions = body.get("value") if isinstance(body, dict) else None
    if not isinstance(actions, list):
        raise ServiceError(400, "The request is invalid. Details: actions : the 'value' array is required.")
    if not actions:
        raise ServiceError(400, "The request is invalid. Details: actions : Batch must contain at least one action.")
    if len(actions) > max_actions:
        raise ServiceError(413, f"The request is too large: a batch may hold at most {max_actions} actions.")
    return [_normalise(position, action, index) for position, action in enumerate(actions)]


def _normalise(position: int, action: Any, index: Index) -> dict[str, Any]:
    where = f"The request is invalid. Details: actions : {position}:"
    if not isinstance(action, dict):
        raise ServiceError(400, f"{where} an action must be a JSON object.")
    kind = action.get("@search.action", "upload")
    if kind not in ACTIONS:
        raise ServiceError(400, f"{where} '{kind}' is not a valid @search.action.")
    key_field = index.key_field
    key = action.get(key_field)
    if not isinstance(key, str) or not key:
        raise ServiceError(400, f"{where} Document key cannot be missing or empty.")
    fields = index.fields
    document: dict[str, Any] = {}
    for name, value in action.items():
        if name == "@search.action":
            continue
        if name not in fields:
            raise ServiceError(
                400,
                f"The request is invalid. Details: The property '{name}' does not exist on type "
                "'search.documentFields'. Make sure to only use property names that are defined by the type.",
            )
        if kind != "delete":
            document[name] = _convert(where, name, fields[name], value)
    document[key_field] = key
    return {"action": kind, "key": key, "document": document}


def _convert(where: str, name: str, spec: Mapping[str, Any], value: Any) -> Any:
    kind = str(spec["type"])
    if value is None:
        return None
    if kind == "Collection(Edm.Single)":
        if not isinstance(value, list) or not all(_is_number(v) for v in value):
            raise ServiceError(400, f"{where} The vector field '{name}' must be an array of numbers.")
        if len(value) != spec["dimensions"]:
            raise ServiceError(
                400,
                f"{where} There's a mismatch in vector dimensions. The vector field '{name}', with dimension of "
                f"'{spec['dimensions']}', expects a length of '{spec['dimensions']}'. However, the provided vector "
                f"has a length of '{len(value)}'. Please ensure that the vector length matches the expected length.",
            )
        return [float(v) for v in value]
    if kind.startswith("Collection("):
        if not isinstance(value, list):
            raise ServiceError(400, f"{where} Cannot convert a value to the expected type '{kind}' for '{name}'.")
        item = kind[len("Collection(") : -1]
        return [_scalar(where, name, item, v) for v in value]
    return _scalar(where, name, kind, value)


def _scalar(where: str, name: str, kind: str, value: Any) -> Any:
    wrong = ServiceError(400, f"{where} Cannot convert the literal '{value}' to the expected type '{kind}' ({name}).")
    if kind == "Edm.String":
        if not isinstance(value, str):
            raise wrong
        return value
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise wrong
        return value
    if kind in ("Edm.Double", "Edm.Single"):
        if not _is_number(value):
            raise wrong
        return float(value)
    if kind == "Edm.Boolean":
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind == "Edm.DateTimeOffset":
        return format_datetime(_parse_datetime(value, wrong))
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parse_datetime(value: Any, wrong: ServiceError) -> datetime:
    if not isinstance(value, str):
        raise wrong
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise wrong from None
    if moment.tzinfo is None:
        raise wrong
    return moment


def format_datetime(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    millis = moment.microsecond // 1000
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def item_error(key: str, document: Mapping[str, Any], index: Index) -> str | None:
    """Why the service refuses this one item (400), or None."""
    if len(key) > MAX_KEY_LENGTH:
        return f"Invalid document key: '{key[:64]}...'. Keys can be at most {MAX_KEY_LENGTH} characters long."
    if not _KEY.match(key):
        return (
            f"Invalid document key: '{key}'. Keys can only contain letters, digits, underscore (_), dash (-), or "
            "equal sign (=), and cannot start with an underscore."
        )
    for name, spec in index.fields.items():
        if not (spec.get("filterable") or spec.get("sortable") or spec.get("facetable")):
            continue
        values = document.get(name)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and len(value.encode("utf-8")) > MAX_TERM_BYTES:
                return (
                    f"Field '{name}' contains a term that is too large to process. The max length for UTF-8 encoded "
                    f"terms is {MAX_TERM_BYTES} bytes."
                )
    return None


def apply_batch(
    index: Index, actions: list[dict[str, Any]], injected: Callable[[str], tuple[int, str] | None]
) -> BatchOutcome:
    """Apply each action in order; ``injected(key)`` may force an item status (the item is then not applied)."""
    results: list[ItemResult] = []
    applied: Counter[str] = Counter()
    keys = [a["key"] for a in actions]
    for action in actions:
        key, document = action["key"], action["document"]
        forced = injected(key)
        if forced is not None:
            results.append(ItemResult(key, forced[0], forced[1]))
            continue
        error = item_error(key, document, index)
        if error is not None:
            results.append(ItemResult(key, 400, error))
            continue
        result = _apply(index, action["action"], key, document)
        if result.status in (200, 201):
            applied[key] += 1
        results.append(result)
    return BatchOutcome(results, len(set(keys)) != len(keys), applied)


def _apply(index: Index, kind: str, key: str, document: dict[str, Any]) -> ItemResult:
    existing = index.latest.get(key)
    if kind == "delete":
        index.remove(key)
        return ItemResult(key, 200)
    if kind == "merge" and existing is None:
        return ItemResult(key, 404, "Document not found.")
    if kind == "upload" or existing is None:
        full = {name: None for name in index.fields}
        full.update(document)
        index.store(key, full)
        return ItemResult(key, 201 if existing is None else 200)
    merged = dict(existing)
    merged.update(document)
    index.store(key, merged)
    return ItemResult(key, 200)


def project(document: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The named fields of ``document``, lists copied (values are JSON scalars or lists of them)."""
    return {name: _copied(document.get(name)) for name in names}


def _copied(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
