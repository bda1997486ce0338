"""Reindex runs whose queue messages carry several documents (``REINDEX_DOCUMENTS_PER_MESSAGE``, default 4): each
document is counted, retried, failed and poisoned as it would be in a message of its own."""

from __future__ import annotations

import asyncio
import json

import pytest
from azure.functions.timer import TimerRequest

from ingestion.errors import TransientError
from ingestion.functions import reindex
from ingestion.keys import document_key
from ingestion.runs.records import DocumentMessage, DocumentsMessage, decode_message, encode_message
from ingestion.settings import Settings
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost
from tests.functions.test_reindex_runs import (
    FlakyEmbedder,
    count_finalizations,
    indexed_paths,
    paths,
    start_by_http,
    status,
    summary,
    upload_docs,
    use_services,
)

pytestmark = pytest.mark.azurite

PER_MESSAGE = 3


@pytest.fixture(autouse=True)
def batched(monkeypatch: pytest.MonkeyPatch, app_env: AppEnv) -> None:
    monkeypatch.setenv("REINDEX_DOCUMENTS_PER_MESSAGE", str(PER_MESSAGE))


def test_the_default_is_several_documents_per_message() -> None:
    assert Settings().reindex_documents_per_message == 4


def test_a_message_of_several_documents_round_trips_and_a_malformed_one_is_refused() -> None:
    message = DocumentsMessage("r", (("blob:a/c/x.md", "c/x.md"), ("blob:a/c/y.md", "c/y.md")), "ix-v4", 4)
    assert decode_message(encode_message(message)) == message
    assert message.split() == [
        DocumentMessage("r", "blob:a/c/x.md", "c/x.md", "ix-v4", 4),
        DocumentMessage("r", "blob:a/c/y.md", "c/y.md", "ix-v4", 4),
    ]
    for documents in ([], [{"source_id": "", "path": "p"}], [{"path": "p"}], "x", [["s", "p"]]):
        body = json.dumps({"v": 1, "kind": "documents", "run": "r", "documents": documents})
        with pytest.raises(Exception, match="unknown kind or missing document"):
            decode_message(body)


async def test_a_run_sends_several_documents_per_message_and_counts_each(app_env: AppEnv, host: FunctionsHost) -> None:
    names = await upload_docs(host, 10)
    finalized = await count_finalizations()
    run_id = await start_by_http()
    [listing] = await host.receive(1)
    assert await host.deliver(listing, reindex.reindex_worker) is None
    messages = await host.receive(32)
    decoded = [decode_message(host.as_trigger(m).get_body()) for m in messages]
    sizes = sorted(len(d.documents) if isinstance(d, DocumentsMessage) else 1 for d in decoded)
    assert sizes == [1, 3, 3, 3]  # 10 documents in messages of up to 3 (1 document: a plain DocumentMessage)
    assert (await status())["current"]["expected"] == 10
    for message in messages:
        assert await host.deliver(message, reindex.reindex_worker) is None
    run = (await status())["last"]
    assert summary(run) == ("done", 10, 10, 0, 0) and finalized == [run_id]
    assert await indexed_paths() == paths(app_env, names)


async def test_one_failing_document_retries_its_message_and_is_poisoned_alone(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    """Two good documents and one that always fails transiently share a message: the host retries the message
    five times; the good ones are recorded once (on the first attempt), the bad one as failed and poisoned on the
    last; the run completes."""
    await use_services(embedder=FlakyEmbedder())
    names = await upload_docs(host, 2)
    await host.upload("docs/poison.md", "# Outage\n\nThis text says POISON, so embedding it always fails.\n")
    finalized = await count_finalizations()
    await reindex.reindex_timer(TimerRequest(past_due=False))

    errors = await host.drain(reindex.reindex_worker)

    assert [type(error) for error in errors] == [TransientError] * 5
    [poisoned] = await host.poison_bodies()
    assert len(poisoned["documents"]) == 3  # the whole message goes to the poison queue
    run = (await status())["last"]
    assert summary(run) == ("done", 3, 2, 1, 1)
    [failure] = run["failures"]
    assert failure["source"] == f"{app_env.container}/docs/poison.md" and failure["attempts"] == 5
    assert finalized == [run["run"]]
    assert await indexed_paths() == paths(app_env, names)


async def test_reconcile_records_the_unrecorded_documents_of_a_message_poisoned_by_a_hard_crash(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    await upload_docs(host, 5)
    finalized = await count_finalizations()
    run_id = await start_by_http()
    [listing] = await host.receive(1)
    assert await host.deliver(listing, reindex.reindex_worker) is None
    first, second = sorted(await host.receive(2), key=lambda m: len(host.as_trigger(m).get_body()))
    assert await host.deliver(second, reindex.reindex_worker) is None  # 3 documents recorded
    await host._poison(first)  # 2 documents: the process died on the last attempt, no handler recorded them
    assert (await status())["current"]["pending"] == 2

    await reindex.reindex_reconcile(TimerRequest(past_due=False))

    run = (await status())["last"]
    assert summary(run) == ("done", 5, 3, 2, 2)
    assert all("moved to" in failure["error"] for failure in run["failures"]) and finalized == [run_id]


class SlowFlakyEmbedder(FlakyEmbedder):
    """Fails POISON at once; every other text takes a while."""

    async def embed(self, texts):  # type: ignore[no-untyped-def]
        if not any("POISON" in text for text in texts):
            await asyncio.sleep(0.5)
        return await super().embed(texts)


async def test_a_failing_document_is_raised_only_once_the_others_of_its_message_are_recorded(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    """The host retries (or poisons) the message the moment the invocation raises: by then every other document of
    the message must be written and recorded, not still in flight beside the retry."""
    services = await use_services(embedder=SlowFlakyEmbedder())
    await upload_docs(host, 2)
    await host.upload("docs/poison.md", "# Outage\n\nThis text says POISON, so embedding it always fails.\n")
    run_id = await start_by_http()
    [listing] = await host.receive(1)
    assert await host.deliver(listing, reindex.reindex_worker) is None
    [message] = await host.receive(1)
    with pytest.raises(TransientError):
        await reindex.reindex_worker(host.as_trigger(message))
    store = services.reindexer.store
    outcomes = [await store.outcome(run_id, document_key(src)) for src in await source_ids(message, host)]
    assert sorted(str(outcome) for outcome in outcomes) == ["None", "added", "added"]  # the poison one: not yet


async def source_ids(raw: object, host: FunctionsHost) -> list[str]:
    decoded = decode_message(host.as_trigger(raw).get_body())  # type: ignore[arg-type]
    assert isinstance(decoded, DocumentsMessage)
    return [source_id for source_id, _ in decoded.documents]
