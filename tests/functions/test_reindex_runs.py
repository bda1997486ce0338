"""Full reindex runs through the real handlers, a real Azurite queue and table, and the host's delivery rules.

Each test drives the handlers as the host would (tests/functions/host.py): the timer or POST /api/reindex starts a
run, then the queue is drained message by message: base64-decoded, dequeue count passed, deleted on return,
retried on raise, poisoned after maxDequeueCount. Crashes are simulated by doing part of a handler's work and then
not settling the message, so the host redelivers it.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence
from dataclasses import replace

import azure.functions as func
import numpy as np
import pytest
from azure.functions.timer import TimerRequest

from ingestion.embedding.hashing import HashEmbedder
from ingestion.errors import TransientError
from ingestion.functions import blobs, http, reindex
from ingestion.functions.services import Services, build_services, get_services, set_services
from ingestion.keys import document_key
from ingestion.runs.records import DocumentMark, RunRecord, RunStatus
from ingestion.settings import Settings
from ingestion.wiring import build_pipeline
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost, blob_client, bodies

pytestmark = pytest.mark.azurite


class FlakyEmbedder(HashEmbedder):
    """The hash embedder, except that any text containing POISON fails as a transient outage would."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any("POISON" in text for text in texts):
            raise TransientError("embedding service unavailable (503)")
        return await super().embed(texts)


async def use_services(*, embedder: HashEmbedder | None = None, stall_seconds: int | None = None) -> Services:
    settings = Settings.from_env()
    if stall_seconds is not None:
        settings = replace(settings, reindex_stall_seconds=stall_seconds)
    services = await build_services(settings, pipeline=build_pipeline(settings, embedder=embedder))
    set_services(services)
    return services


async def count_finalizations() -> list[str]:
    """Replace the cutover hook with one that records which runs were finalized."""
    finalized: list[str] = []

    async def hook(run: RunRecord) -> None:
        finalized.append(run.run_id)

    (await get_services()).reindexer.on_finalized = hook
    return finalized


async def status() -> dict:
    response = await http.run_status(func.HttpRequest(method="GET", url="/api/status", body=b""))
    assert response.status_code == 200
    return json.loads(response.get_body())


async def start_by_http(*, force: bool = False) -> str:
    """Start a run by POST /api/reindex (``force``: even while another full run is open)."""
    body = b'{"force": true}' if force else b""
    response = await http.reindex_now(func.HttpRequest(method="POST", url="/api/reindex", body=body))
    assert response.status_code == 202
    return json.loads(response.get_body())["run"]


async def indexed_paths() -> set[str]:
    services = await get_services()
    scope = services.reindexer.source.scope
    return {doc.source_path async for doc in services.pipeline.index.list_documents(prefix=scope)}


async def upload_docs(host: FunctionsHost, count: int, *, folder: str = "docs") -> list[str]:
    names = [f"{folder}/d{i}.md" for i in range(count)]
    for i, name in enumerate(names):
        await host.upload(name, f"# Document {i}\n\nThe unique word is token{i}; zebras graze nearby.\n")
    return names


async def drain_listing(host: FunctionsHost) -> None:
    [listing] = await host.receive(1)
    assert json.loads(host.as_trigger(listing).get_body())["kind"] == "list"
    assert await host.deliver(listing, reindex.reindex_worker) is None


def paths(env: AppEnv, names: Sequence[str]) -> set[str]:
    return {f"{env.container}/{name}" for name in names}


def summary(run: dict) -> tuple:
    return run["status"], run["expected"], run["done"], run["failed"], run["poisoned"]


async def test_timer_run_fans_out_over_the_queue_and_finalizes_exactly_once(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    names = await upload_docs(host, 6)
    await host.upload(".trash/hidden.md", "not a document")
    await host.upload("old.md", "Obsolete notes about gnus.")  # indexed, then deleted without an event: stale
    await blobs.ingest_blob(blob_client(app_env.container, "old.md"))
    await host.delete("old.md")
    finalized = await count_finalizations()

    await reindex.reindex_timer(TimerRequest(past_due=False))
    queued = bodies(await host.queue.peek_messages(max_messages=32))  # base64 on the wire, JSON inside
    assert [(message["kind"], message["v"]) for message in queued] == [("list", 1)]
    errors = await host.drain(reindex.reindex_worker, duplicate=lambda m: "d2.md" in m.get_body().decode())

    assert errors == []
    report = await status()
    run = report["last"]
    assert report["current"] is None and report["open_runs"] == []
    assert summary(run) == ("done", 6, 6, 0, 0)
    assert (run["added"], run["unchanged"], run["stale_deleted"], run["pending"], run["failures"]) == (6, 0, 1, 0, [])
    assert finalized == [run["run"]]
    assert host.delivered == 1 + 6 + 1  # the listing, six documents, one duplicate delivery
    assert await indexed_paths() == paths(app_env, names)
    assert report["index"]["documents"] == 6 and report["index"]["name"] == "grounding-v3"

    # A second run over the unchanged container records every document as unchanged.
    second = await start_by_http()
    assert await host.drain(reindex.reindex_worker) == []
    run = (await status())["last"]
    assert (run["run"], run["unchanged"], run["stale_deleted"]) == (second, 6, 0)
    assert finalized == [finalized[0], second]


async def test_a_crash_before_recording_or_before_finalizing_is_recovered_by_redelivery(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    names = await upload_docs(host, 4)
    finalized = await count_finalizations()
    run_id = await start_by_http()
    await drain_listing(host)
    services = await get_services()
    source, store = services.reindexer.source, services.reindexer.store
    messages = {json.loads(host.as_trigger(raw).get_body())["path"]: raw for raw in await host.receive(4)}
    m0, m1, m2, m3 = (messages[f"{app_env.container}/{name}"] for name in names)

    # m0: the worker indexed the document, then died before recording it; the message becomes visible again.
    message = host.as_trigger(m0).get_json()
    await services.pipeline.ingest(source, await source.get(message["source_id"]))
    await host.queue.update_message(m0, pop_receipt=m0.pop_receipt, visibility_timeout=0)
    # m1: processed and recorded, but the host never deleted the message (crash): it is redelivered.
    assert await host.deliver(m1, reindex.reindex_worker, complete=False) is None
    assert await host.deliver(m2, reindex.reindex_worker) is None
    redelivered = {raw.id: raw for raw in await host.receive(4)}  # m3 is still hidden (being "processed")
    assert sorted(redelivered) == sorted([m0.id, m1.id]) and redelivered[m0.id].dequeue_count == 2
    assert await host.deliver(redelivered[m0.id], reindex.reindex_worker) is None
    m1_again = redelivered[m1.id]
    await host.queue.update_message(m1_again, pop_receipt=m1_again.pop_receipt, visibility_timeout=0)
    # m3: indexed and recorded (the run is now complete), then the worker died before claiming finalization.
    message = host.as_trigger(m3).get_json()
    result = await services.pipeline.ingest(source, await source.get(message["source_id"]))
    assert await store.record(run_id, document_key(message["source_id"]), DocumentMark(message["path"], "added"))
    await host.queue.update_message(m3, pop_receipt=m3.pop_receipt, visibility_timeout=0)
    assert (await status())["current"]["status"] == "running" and finalized == []

    assert await host.drain(reindex.reindex_worker) == []  # m3 and m1 redelivered

    run = (await status())["last"]
    assert summary(run) == ("done", 4, 4, 0, 0)
    assert (run["added"], run["unchanged"]) == (3, 1)  # m0 counted once, as unchanged on its redelivery
    assert result.outcome == "added" and finalized == [run_id]
    assert await indexed_paths() == paths(app_env, names)


async def test_two_overlapping_runs_each_finalize_once_and_agree_with_the_container(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    names = await upload_docs(host, 8)
    finalized = await count_finalizations()
    first, second = await start_by_http(), await start_by_http(force=True)
    every_third = iter(range(1000))

    errors = await host.drain(
        reindex.reindex_worker,
        concurrency=4,
        shuffle=random.Random(7),
        duplicate=lambda message: next(every_third) % 3 == 0,
    )

    assert errors == []
    assert sorted(finalized) == sorted([first, second])
    services = await get_services()
    for run_id in (first, second):
        run = await services.reindexer.store.get(run_id)
        assert run is not None
        assert (run.status, run.expected, run.done, run.failed) == (RunStatus.DONE, 8, 8, 0)
        assert run.count("added") + run.count("unchanged") == 8
    assert await indexed_paths() == paths(app_env, names)


async def test_a_poisoned_message_is_shown_and_the_run_still_finalizes(app_env: AppEnv, host: FunctionsHost) -> None:
    await use_services(embedder=FlakyEmbedder())
    names = await upload_docs(host, 2)
    await host.upload("docs/poison.md", "# Outage\n\nThis text says POISON, so embedding it always fails.\n")
    finalized = await count_finalizations()
    await reindex.reindex_timer(TimerRequest(past_due=False))

    errors = await host.drain(reindex.reindex_worker)

    assert [type(error) for error in errors] == [TransientError] * 5  # retried by the host, then poisoned
    assert [message["path"] for message in await host.poison_bodies()] == [f"{app_env.container}/docs/poison.md"]
    report = await status()
    run = report["last"]
    assert summary(run) == ("done", 3, 2, 1, 1)
    [failure] = run["failures"]
    assert (failure["source"], failure["attempts"], failure["poisoned"]) == (
        f"{app_env.container}/docs/poison.md",
        5,
        True,
    )
    assert "gave up after 5 attempts" in failure["error"] and "embedding service unavailable" in failure["error"]
    assert report["queues"][f"{app_env.queue}-poison"] == 1 and report["queues"][app_env.queue] == 0
    assert finalized == [run["run"]]
    assert await indexed_paths() == paths(app_env, names)


async def test_bad_input_is_a_failed_document_and_is_not_retried(app_env: AppEnv, host: FunctionsHost) -> None:
    names = await upload_docs(host, 2)
    await host.upload("docs/broken.pdf", b"\x01" + bytes(range(256)) * 16)
    await reindex.reindex_timer(TimerRequest(past_due=False))

    assert await host.drain(reindex.reindex_worker) == []

    assert host.delivered == 1 + 3  # every message delivered once: nothing retried
    report = await status()
    run = report["last"]
    assert summary(run) == ("done", 3, 2, 1, 0)
    [failure] = run["failures"]
    assert (failure["attempts"], failure["poisoned"]) == (1, False)
    assert failure["error"].startswith(f"{app_env.container}/docs/broken.pdf: ")
    assert report["queues"][f"{app_env.queue}-poison"] == 0
    assert await indexed_paths() == paths(app_env, names)


async def test_a_document_deleted_after_listing_leaves_the_index(app_env: AppEnv, host: FunctionsHost) -> None:
    names = await upload_docs(host, 3)
    await start_by_http()
    assert await host.drain(reindex.reindex_worker) == []
    await start_by_http()
    await drain_listing(host)
    await host.delete(names[0])  # no event: only the run notices

    assert await host.drain(reindex.reindex_worker) == []

    run = (await status())["last"]
    assert summary(run) == ("done", 3, 3, 0, 0)
    assert (run["deleted"], run["unchanged"], run["stale_deleted"]) == (1, 2, 0)
    assert await indexed_paths() == paths(app_env, names[1:])


async def test_malformed_and_orphan_messages_are_dropped_not_retried(app_env: AppEnv, host: FunctionsHost) -> None:
    await get_services()  # creates the queue
    orphan = {"v": 1, "kind": "document", "run": "no-such-run", "source_id": "blob:x/y/z", "path": "y/z"}
    for text in ("not json", json.dumps({"v": 99}), json.dumps(orphan)):
        await host.queue.send_message(base64.b64encode(text.encode()).decode())

    assert await host.drain(reindex.reindex_worker) == []
    assert host.delivered == 3


async def test_reconcile_records_a_message_poisoned_by_a_hard_crash(app_env: AppEnv, host: FunctionsHost) -> None:
    await upload_docs(host, 2)
    finalized = await count_finalizations()
    run_id = await start_by_http()
    await drain_listing(host)
    first, second = await host.receive(2)
    assert await host.deliver(first, reindex.reindex_worker) is None
    await host._poison(second)  # the process died on the last attempt: the host poisoned it without our handler
    assert (await status())["current"]["pending"] == 1

    await reindex.reindex_reconcile(TimerRequest(past_due=False))

    run = (await status())["last"]
    assert summary(run) == ("done", 2, 1, 1, 1)
    assert "moved to" in run["failures"][0]["error"] and finalized == [run_id]
    await reindex.reindex_reconcile(TimerRequest(past_due=False))  # idempotent: nothing left to do
    assert summary((await status())["last"]) == ("done", 2, 1, 1, 1)


async def test_reconcile_closes_runs_that_stalled(app_env: AppEnv, host: FunctionsHost) -> None:
    services = await use_services(stall_seconds=0)
    names = await upload_docs(host, 2)
    finalized = await count_finalizations()

    lost_listing = await start_by_http()
    [listing] = await host.receive(1)
    await host.queue.delete_message(listing, pop_receipt=listing.pop_receipt)  # lost: never processed
    await reindex.reindex_reconcile(TimerRequest(past_due=False))
    assert (await services.reindexer.store.get(lost_listing)).status is RunStatus.ABANDONED

    lost_document = await start_by_http()
    await drain_listing(host)
    first, second = await host.receive(2)
    assert await host.deliver(first, reindex.reindex_worker) is None
    await host.queue.delete_message(second, pop_receipt=second.pop_receipt)  # lost, the queue is now empty
    await reindex.reindex_reconcile(TimerRequest(past_due=False))
    run = await services.reindexer.store.get(lost_document)
    assert (run.status, run.recorded, run.expected) == (RunStatus.INCOMPLETE, 1, 2)
    assert "1 documents never recorded" in run.note
    assert finalized == []  # an incomplete run never reaches the cutover hook
    assert len(await indexed_paths()) == 1 and await indexed_paths() <= paths(app_env, names)


async def test_a_failed_finalization_is_released_and_retried(app_env: AppEnv, host: FunctionsHost) -> None:
    names = await upload_docs(host, 2)
    calls: list[str] = []

    async def flaky_cutover(run: RunRecord) -> None:
        calls.append(run.run_id)
        if len(calls) == 1:
            raise TransientError("alias swap timed out")

    (await get_services()).reindexer.on_finalized = flaky_cutover
    run_id = await start_by_http()

    errors = await host.drain(reindex.reindex_worker)

    assert [str(error) for error in errors] == ["alias swap timed out"]
    assert calls == [run_id, run_id]
    run = (await status())["last"]
    assert summary(run) == ("done", 2, 2, 0, 0) and run["run"] == run_id
    assert await indexed_paths() == paths(app_env, names)


async def test_reconcile_finishes_a_finalization_that_died(app_env: AppEnv, host: FunctionsHost) -> None:
    services = await use_services(stall_seconds=0)
    await upload_docs(host, 1)
    finalized = await count_finalizations()
    run_id = await start_by_http()
    await drain_listing(host)
    [document] = await host.receive(1)
    # Everything recorded, finalization claimed, then the process died: the record says finalizing.
    store = services.reindexer.store
    message = host.as_trigger(document).get_json()
    assert await store.record(run_id, document_key(message["source_id"]), DocumentMark(message["path"], "added"))
    await store.update_header(await store.get(run_id), status=RunStatus.FINALIZING)
    await host.queue.delete_message(document, pop_receipt=document.pop_receipt)

    await reindex.reindex_reconcile(TimerRequest(past_due=False))

    assert (await store.get(run_id)).status is RunStatus.DONE and finalized == [run_id]
