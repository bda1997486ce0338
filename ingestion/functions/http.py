"""HTTP routes, all behind a function key (AuthLevel.FUNCTION): start a run, show status, health.

    POST /api/reindex   start a full reindex run now -> 202 {"run", "status", "started", ...}; while a full run is
                        open, that run instead ("started": false) unless {"force": true}; with {"schema_version": N}
                        (body) or ?schema_version=N, a migration run into a new index at version N (400: not a
                        registered version; 409: nothing to migrate, or another migration run is open); with
                        {"prefix": P}, a new run over the blobs whose name starts with P (202, always started); with
                        {"path": NAME}, that one blob is refreshed at once -> 200 {"path", "outcome", "chunks",
                        "tokens_embedded", "error"} (an ACL change in blob metadata raises no event: this is the
                        immediate way to apply it)
    GET  /api/status    current and last runs with per-document failures, the index (name, version, counts), queues
    GET  /api/health    200 when the settings are valid and storage and the index answer, else 503 with the reason

Errors map to statuses here: a configuration error is 500, a transient one 503 with Retry-After; the message is the
error's one line (never a secret, never a stack trace).

No ``from __future__ import annotations`` here: the worker reads these annotations to choose the binding type.
"""

import json
import logging
import re
from collections.abc import Awaitable, Callable

import azure.functions as func

from ingestion.errors import CONFIGURATION_ERRORS, IngestionError, MigrationRefused, TransientError
from ingestion.functions.invocation import invocation
from ingestion.functions.services import Services, get_services
from ingestion.runs.reconcile import start_or_join, start_run, status

log = logging.getLogger(__name__)

bp = func.Blueprint()
MAX_NAME_LENGTH = 1024
"""Blob names are at most 1,024 characters."""


@bp.route(route="reindex", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
async def reindex_now(req: func.HttpRequest, context: func.Context = None) -> func.HttpResponse:
    async def start() -> func.HttpResponse:
        try:
            version, force = _schema_version(req), _force(req)
            path, prefix = _text_option(req, "path"), _text_option(req, "prefix")
            if sum(option is not None for option in (version, path, prefix)) > 1:
                raise ValueError("give at most one of schema_version, path and prefix")
        except ValueError as error:
            return _json({"error": str(error)}, status_code=400)
        services = await get_services()
        if path is not None:
            return await _refresh(services, path)
        try:
            if prefix is not None:
                run, started = await start_run(services.reindexer, trigger="http", prefix=prefix), True
            elif version is None and not force:
                run, started = await start_or_join(services.reindexer, trigger="http")
            else:
                run, started = await start_run(services.reindexer, trigger="http", schema_version=version), True
        except MigrationRefused as error:
            return _json({"error": str(error)}, status_code=409 if error.conflict else 400)
        body = {"run": run.run_id, "status": run.status.value, "started_at": run.started_at.isoformat()}
        return _json({**body, "started": started, "migration": run.migration}, status_code=202)

    with invocation(context):
        return await _answer(start)


MAX_BODY_BYTES = 64 * 1024
_VERSION = re.compile(r"[0-9]{1,6}")


def _json_body(req: func.HttpRequest) -> dict[str, object]:
    """The JSON object body ({} when empty); ValueError with one line that quotes no parser internals, whatever the
    body (over MAX_BODY_BYTES, deeply nested, huge numbers, not UTF-8)."""
    raw = req.get_body()
    if not raw:
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise ValueError(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError('the body must be JSON, e.g. {"schema_version": 2}') from None
    if not isinstance(body, dict):
        raise ValueError('the body must be a JSON object, e.g. {"schema_version": 2}')
    return body


def _force(req: func.HttpRequest) -> bool:
    """``{"force": true}``: start a new full run even while one is open."""
    value = _json_body(req).get("force", False)
    if type(value) is not bool:
        raise ValueError(f"force must be true or false, not {_shown(value)}")
    return value


async def _refresh(services: Services, name: str) -> func.HttpResponse:
    result = await services.live.refresh(name)
    if result is None:
        return _json({"error": f"{name} is not a document of {services.reindexer.source.scope}"}, status_code=404)
    body = {"path": result.source_path, "outcome": result.outcome.value, "chunks": result.chunks}
    return _json({**body, "tokens_embedded": result.tokens_embedded, "error": result.error})


def _text_option(req: func.HttpRequest, name: str) -> str | None:
    """A non-empty blob name or prefix from the body or the query string (None when absent)."""
    value = _json_body(req).get(name, req.params.get(name))
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{name} must be a non-empty blob name of at most {MAX_NAME_LENGTH} characters")
    return value


def _schema_version(req: func.HttpRequest) -> int | None:
    """``schema_version`` from the JSON body or the query string (None: a normal run); ValueError if malformed."""
    value: object = _json_body(req).get("schema_version", req.params.get("schema_version"))
    if value is None:
        return None
    if isinstance(value, str) and _VERSION.fullmatch(value):
        return int(value)
    if type(value) is not int or not 0 <= value < 10**6:
        raise ValueError(f"schema_version must be a whole number, not {_shown(value)}")
    return value


def _shown(value: object) -> str:
    """A short, one-line description of a JSON value (never the whole of a large or deeply nested one)."""
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, bool | float) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return "a number too large" if value > 0 else "a negative number"
    return "a JSON object" if isinstance(value, dict) else "a JSON array"


@bp.route(route="status", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def run_status(req: func.HttpRequest, context: func.Context = None) -> func.HttpResponse:
    async def show() -> func.HttpResponse:
        services = await get_services()
        return _json(await status(services.reindexer))

    with invocation(context):
        return await _answer(show)


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        services = await get_services()
        stats = await services.pipeline.index.stats()
    except IngestionError as error:
        return _json({"status": "unhealthy", "error": str(error)}, status_code=503)
    settings = services.settings
    body = {"status": "ok", "index": stats.name, "blob_trigger_source": settings.blob_trigger_source}
    return _json({**body, "container": settings.source_container, "queue": settings.reindex_queue})


async def _answer(handler: Callable[[], Awaitable[func.HttpResponse]]) -> func.HttpResponse:
    try:
        return await handler()
    except CONFIGURATION_ERRORS as error:
        log.error("configuration error: %s", error)
        return _json({"error": str(error)}, status_code=500)
    except TransientError as error:
        log.warning("transient error: %s", error)
        return _json({"error": str(error)}, status_code=503, headers={"Retry-After": "30"})


def _json(body: object, *, status_code: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    text = json.dumps(body, ensure_ascii=False, default=str)
    return func.HttpResponse(text, status_code=status_code, mimetype="application/json", headers=headers)
