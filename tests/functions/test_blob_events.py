"""Blob created/updated -> the blob trigger ingests it; blob deleted -> the Event Grid trigger drops it (Azurite)."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from ingestion.functions import blobs, http, reindex
from ingestion.functions.services import get_services
from ingestion.models import SearchMode
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost, blob_client, bodies, storage_event
from tests.support.bad_corpus import text_pdf

pytestmark = pytest.mark.azurite

WAL = "# Write-ahead log\n\nThe write-ahead log lets readers proceed while a writer appends pages to the wal file.\n"
BACKUP = "# Online backup\n\nThe backup API copies a live database page by page into another database file.\n"


async def search_paths(text: str) -> set[str]:
    services = await get_services()
    hits = await services.pipeline.index.search(text, mode=SearchMode.TEXT, top=20)
    return {hit.source_path for hit in hits}


async def indexed_paths() -> set[str]:
    services = await get_services()
    source = services.reindexer.source
    return {doc.source_path async for doc in services.pipeline.index.list_documents(prefix=source.scope)}


async def live_failures() -> list[dict[str, object]]:
    response = await http.run_status(func.HttpRequest(method="GET", url="/api/status", body=b""))
    assert response.status_code == 200
    return json.loads(response.get_body())["live_failures"]


async def test_created_and_updated_blobs_are_ingested_through_the_sdk_binding(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    await host.upload("guides/wal.md", WAL)
    await host.upload("guides/backup.md", BACKUP)
    for name in ("guides/wal.md", "guides/backup.md"):
        await blobs.ingest_blob(blob_client(app_env.container, name))
    wal, backup = f"{app_env.container}/guides/wal.md", f"{app_env.container}/guides/backup.md"
    assert await search_paths("readers writer appends") == {wal}
    assert await search_paths("backup page by page") == {backup}

    await host.upload("guides/wal.md", "# Checkpoints\n\nA checkpoint moves wal frames back into the database.\n")
    await blobs.ingest_blob(blob_client(app_env.container, "guides/wal.md"))
    assert await search_paths("checkpoint frames") == {wal}
    assert await search_paths("readers writer appends") == set()
    assert await indexed_paths() == {wal, backup}


async def test_services_bound_document_intelligence_below_the_function_timeout(app_env: AppEnv) -> None:
    services = await get_services()
    assert services.settings.function_timeout_seconds == 30 * 60  # host.json
    assert services.settings.documentintelligence_timeout_seconds < services.settings.function_timeout_seconds


async def test_blobs_that_are_not_documents_or_gone_are_skipped(app_env: AppEnv, host: FunctionsHost) -> None:
    await host.upload(".hidden/secret.txt", "Hidden text about zebras.")
    await blobs.ingest_blob(blob_client(app_env.container, ".hidden/secret.txt"))
    await blobs.ingest_blob(blob_client(app_env.container, "never-uploaded.txt"))
    await blobs.ingest_blob(blob_client("another-container", "x.txt"))
    assert await indexed_paths() == set()


async def test_bad_input_is_recorded_as_a_live_failure_and_cleared_when_fixed(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    await host.upload("report.pdf", b"\x01" + bytes(range(256)) * 8)
    await blobs.ingest_blob(blob_client(app_env.container, "report.pdf"))  # returns: bad input is not retried
    failures = await live_failures()
    assert [failure["source"] for failure in failures] == [f"{app_env.container}/report.pdf"]
    assert "report.pdf" in str(failures[0]["error"])

    await host.upload("report.pdf", text_pdf([["A report about quarterly zebra counts."]]))
    await blobs.ingest_blob(blob_client(app_env.container, "report.pdf"))
    assert await live_failures() == []
    assert await search_paths("quarterly zebra") == {f"{app_env.container}/report.pdf"}


async def test_blob_over_the_size_limit_fails_without_being_indexed(
    app_env: AppEnv, host: FunctionsHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_DOCUMENT_BYTES", "1000")
    await host.upload("big.txt", "zebra " * 1000)
    await blobs.ingest_blob(blob_client(app_env.container, "big.txt"))
    failures = await live_failures()
    assert len(failures) == 1 and "1000-byte document limit" in str(failures[0]["error"])
    assert await indexed_paths() == set()


async def test_blob_deleted_event_removes_its_chunks(app_env: AppEnv, host: FunctionsHost) -> None:
    await host.upload("a.md", WAL)
    await host.upload("b.md", BACKUP)
    for name in ("a.md", "b.md"):
        await blobs.ingest_blob(blob_client(app_env.container, name))
    await host.delete("a.md")
    await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, host.blob_url("a.md")))
    assert await indexed_paths() == {f"{app_env.container}/b.md"}
    assert await search_paths("readers writer appends") == set()
    # Redelivered event: idempotent.
    await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, host.blob_url("a.md")))
    assert await indexed_paths() == {f"{app_env.container}/b.md"}


async def test_late_delete_event_does_not_remove_a_recreated_blob(app_env: AppEnv, host: FunctionsHost) -> None:
    await host.upload("a.md", WAL)
    await blobs.ingest_blob(blob_client(app_env.container, "a.md"))
    # Deleted and uploaded again; the delete event arrives after the new blob exists.
    await host.delete("a.md")
    await host.upload("a.md", WAL)
    await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, host.blob_url("a.md")))
    assert await indexed_paths() == {f"{app_env.container}/a.md"}


async def test_events_for_other_containers_or_types_are_ignored(app_env: AppEnv, host: FunctionsHost) -> None:
    await host.upload("a.md", WAL)
    await blobs.ingest_blob(blob_client(app_env.container, "a.md"))
    await host.delete("a.md")
    other = host.blob_url("a.md").replace(f"/{app_env.container}/", "/other-container/")
    await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, other))
    await blobs.delete_blob(storage_event("Microsoft.Storage.BlobCreated", host.blob_url("a.md")))
    await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, "not a url"))
    assert await indexed_paths() == {f"{app_env.container}/a.md"}


async def test_directory_deleted_event_removes_everything_under_it(app_env: AppEnv, host: FunctionsHost) -> None:
    names = ("team/a.md", "team/sub/b.md", "teamwork.md")
    for name, text in zip(names, (WAL, BACKUP, "Teamwork notes about zebras."), strict=True):
        await host.upload(name, text)
        await blobs.ingest_blob(blob_client(app_env.container, name))
    for name in names[:2]:
        await host.delete(name)
    await blobs.delete_blob(storage_event(blobs.DIRECTORY_DELETED, host.blob_url("team")))
    # Not inside the Event Grid delivery: the event only enqueues the work, the queue worker does it.
    assert await indexed_paths() == {f"{app_env.container}/{name}" for name in names}
    assert [message["kind"] for message in bodies(await host.queue.peek_messages())] == ["delete_directory"]
    assert await host.drain(reindex.reindex_worker) == []
    assert await indexed_paths() == {f"{app_env.container}/teamwork.md"}


@pytest.mark.parametrize("name", ["notes#1.md", "what?.md", "a?b#c/d.md"])
async def test_blob_deleted_event_with_a_raw_hash_or_question_mark_in_the_name(
    app_env: AppEnv, host: FunctionsHost, name: str
) -> None:
    """Event Grid does not percent-encode ``#`` or ``?`` in ``data.url``: the whole rest of the URL is the name."""
    await host.upload(name, WAL)
    await host.upload("notes.md", BACKUP)  # what a truncated name ("notes" / "what" / "a") would also not match
    for blob in (name, "notes.md"):
        await blobs.ingest_blob(blob_client(app_env.container, blob))
    await host.delete(name)
    await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, host.blob_url(name)))
    assert await indexed_paths() == {f"{app_env.container}/notes.md"}
