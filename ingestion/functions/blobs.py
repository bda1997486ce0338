"""Blob created or updated -> ingest that blob; blob deleted (Event Grid) -> its chunks leave the index.

Large blobs are never loaded by the binding. The trigger binds to the SDK type ``BlobClient`` of
``azurefunctions-extensions-bindings-blob``: the host sends the worker only a reference (connection, container, blob
name; "model binding data") instead of the content over gRPC, and the extension builds a client from it. The handler
uses just the container and name: the bytes are read through BlobContainerSource (the async storage SDK), capped at
MAX_DOCUMENT_BYTES, in the same code path as every other ingest. Without the extension package the app refuses to
load (ImportError naming the package): there is no silent fallback to the host loading whole blobs into memory.

A ``DirectoryDeleted`` event is only enqueued here (ingestion/runs/directories.py): removing a large directory's
documents takes longer than Event Grid waits for the delivery.

The trigger's source is ``EventGrid`` by default (the only kind Flex Consumption supports; needs an Event Grid
subscription to the blobs extension webhook) or ``LogsAndContainerScan`` (polling: for local development against
Azurite), from BLOB_TRIGGER_SOURCE when the app is indexed. Deletes never fire a blob trigger: they come as Event
Grid ``Microsoft.Storage.BlobDeleted`` (and, with a hierarchical namespace, ``DirectoryDeleted``) events.

No ``from __future__ import annotations`` here: the worker reads these annotations to choose the binding type.
"""

import logging

import azure.functions as func

from ingestion.functions.invocation import invocation
from ingestion.functions.services import get_services
from ingestion.models import DocumentResult
from ingestion.runs.directories import enqueue_directory_delete
from ingestion.settings import STORAGE_CONNECTION, blob_trigger_source

try:
    from azurefunctions.extensions.bindings.blob import BlobClient as BlobReference
except ImportError as error:  # fail when the worker indexes the app, not silently on the first large blob
    raise ImportError(
        "the blob trigger needs the SDK-type binding package azurefunctions-extensions-bindings-blob "
        "(requirements.txt); without it the host would load every blob whole into memory"
    ) from error

log = logging.getLogger(__name__)

BLOB_DELETED = "Microsoft.Storage.BlobDeleted"
DIRECTORY_DELETED = "Microsoft.Storage.DirectoryDeleted"

bp = func.Blueprint()


@bp.blob_trigger(
    arg_name="blob",
    path="%SOURCE_CONTAINER%/{name}",
    connection=STORAGE_CONNECTION,
    source=func.BlobSource(blob_trigger_source()),
)
async def ingest_blob(blob: BlobReference, context: func.Context = None) -> None:
    with invocation(context):
        container, name = blob_reference(blob)
        services = await get_services()
        _log_result(await services.live.ingest(container, name))


@bp.event_grid_trigger(arg_name="event")
async def delete_blob(event: func.EventGridEvent, context: func.Context = None) -> None:
    data = event.get_json()
    url = data.get("url") if isinstance(data, dict) else None
    if event.event_type not in (BLOB_DELETED, DIRECTORY_DELETED) or not isinstance(url, str):
        log.warning("ignored Event Grid event %s of type %s", event.id, event.event_type)
        return
    with invocation(context):
        services = await get_services()
        if event.event_type == BLOB_DELETED:
            _log_result(await services.live.delete(url))
        else:
            await enqueue_directory_delete(services.reindexer.queue, url)
            log.info("directory deletion queued: %s", url.split("?", 1)[0])


def blob_reference(blob: object) -> tuple[str, str]:
    """``(container, name)`` of the triggering blob (an SDK BlobClient)."""
    container, name = getattr(blob, "container_name", None), getattr(blob, "blob_name", None)
    if not isinstance(container, str) or not isinstance(name, str) or not container or not name:
        raise ValueError(f"blob trigger gave no container/name: {type(blob).__name__}")
    return container, name


def log_results(results: list[DocumentResult]) -> None:
    for result in results:
        _log_result(result)


def _log_result(result: DocumentResult | None) -> None:
    if result is None:
        return
    if result.error:
        log.warning("%s %s: %s", result.source_path, result.outcome, result.error)
    else:
        log.info("%s %s (%d chunks)", result.source_path, result.outcome, result.chunks)
