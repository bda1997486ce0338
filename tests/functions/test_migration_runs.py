"""Migration runs through the real handlers: POST /api/reindex {"schema_version": N} builds the new index on the
queue, and the finalization verifies it and swaps the alias (Azurite queue and table, the local index backend).

``v4`` is registered the way tests/integration/test_schema_local.py does it: a REBUILD change of v2 (``source_path``
no longer facetable) whose documents carry the same vectors, so a migration to it embeds nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import azure.functions as func
import numpy as np
import pytest
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from ingestion import wiring
from ingestion.deployment.migrate import abort
from ingestion.deployment.migration_runs import MIGRATION_SLOT
from ingestion.embedding.hashing import HashEmbedder
from ingestion.functions import blobs, http, reindex
from ingestion.functions import services as services_module
from ingestion.functions.services import Services, build_services, get_services, set_services
from ingestion.models import SearchMode
from ingestion.runs.records import RunRecord, RunStatus
from ingestion.settings import Settings
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost, blob_client, storage_event

pytestmark = pytest.mark.azurite


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return await super().embed(texts)


async def use_services(embedder: HashEmbedder) -> Services:
    settings = Settings.from_env()
    services = await build_services(settings, pipeline=wiring.build_pipeline(settings, embedder=embedder))
    set_services(services)
    return services


def post(body: bytes = b"", params: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest(method="POST", url="http://localhost/api/reindex", body=body, params=params or {})


async def start(body: object = None, **params: str) -> tuple[int, dict]:
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await http.reindex_now(post(raw, params))
    return response.status_code, json.loads(response.get_body())


async def status() -> dict:
    response = await http.run_status(func.HttpRequest(method="GET", url="/api/status", body=b""))
    assert response.status_code == 200
    return json.loads(response.get_body())


async def search(text: str) -> tuple[str, list[str]]:
    """What a reader sees now: the index the alias resolves to, and the hits' blob names."""
    index = wiring.build_index(Settings.from_env(), dimensions=384)
    try:
        hits = await index.search(text, mode=SearchMode.TEXT, top=3)
    finally:
        await index.close()
    return index.name, [Path(hit.source_path).name for hit in hits]


async def indexes(services: Services) -> dict[str, str]:
    assert services.reindexer.builds is not None
    return {index.name: str(index.state) for index in await services.reindexer.builds.admin.list_indexes()}


async def alias(services: Services) -> str | None:
    assert services.reindexer.builds is not None
    return await services.reindexer.builds.admin.get_alias()


async def upload_docs(host: FunctionsHost, count: int) -> list[str]:
    names = [f"docs/d{i}.md" for i in range(count)]
    for i, name in enumerate(names):
        await host.upload(name, f"# Document {i}\n\nThe unique word is token{i}; zebras graze nearby.\n")
    return names


async def reindex_now(host: FunctionsHost) -> None:
    code, _ = await start()
    assert code == 202
    assert await host.drain(reindex.reindex_worker) == []


async def test_a_migration_run_builds_the_new_version_and_swaps_the_alias_at_finalize(
    app_env: AppEnv, host: FunctionsHost, v4: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = CountingEmbedder()
    services = await use_services(embedder)
    await upload_docs(host, 4)
    await reindex_now(host)
    settings = Settings.from_env()  # another worker process, started before the migration
    other = await build_services(settings, pipeline=wiring.build_pipeline(settings, embedder=HashEmbedder()))
    assert await search("token2") == ("grounding-v3", ["d2.md"])
    embedded_before = embedder.texts

    code, body = await start({"schema_version": v4})

    assert code == 202 and body["migration"] == {"target": "grounding-v4", "version": 4}
    assert await indexes(services) == {"grounding-v3": "ready", "grounding-v4": "building"}
    current = (await status())["current"]
    assert (current["run"], current["migration"]) == (body["run"], {"target": "grounding-v4", "version": 4})
    recorded = await services.reindexer.store.get(body["run"])
    assert recorded is not None and recorded.planned_live == "grounding-v3"  # what the cutover will expect
    code, refused = await start({"schema_version": v4})
    assert code == 409 and body["run"] in refused["error"]  # one migration run at a time
    [listing] = await host.receive(1)
    assert await host.deliver(listing, reindex.reindex_worker) is None
    seen = []
    messages = {json.loads(host.as_trigger(raw).get_body())["path"]: raw for raw in await host.receive(4)}
    *first, last_message = (messages[f"{app_env.container}/docs/d{i}.md"] for i in range(4))
    for raw in first:
        assert await host.deliver(raw, reindex.reindex_worker) is None
        name, hits = await search("token1")
        assert hits == ["d1.md"]  # queries through the alias keep working, on the old index
        seen.append(name)
    assert seen == ["grounding-v3"] * 3
    assert embedder.texts == embedded_before  # a field-only change: every vector copied from the live index

    # During the migration, blob events go to the live index: d0 (already built) changes, d2 (built) disappears.
    await host.upload("docs/d0.md", "# Document 0\n\nRewritten: it now speaks of okapis.\n")
    await blobs.ingest_blob(blob_client(app_env.container, "docs/d0.md"))
    await host.delete("docs/d2.md")
    await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, host.blob_url("docs/d2.md")))
    assert await search("okapis") == ("grounding-v3", ["d0.md"])
    assert await search("token2") == ("grounding-v3", [])

    assert await host.deliver(last_message, reindex.reindex_worker) is None  # the last one finalizes: the cutover

    assert await alias(services) == "grounding-v4"
    assert await indexes(services) == {"grounding-v3": "ready", "grounding-v4": "ready"}
    report = await status()
    last = report["last"]
    assert (last["run"], last["status"], last["expected"], last["failed"]) == (body["run"], "done", 4, 0)
    assert last["migration"] == {"target": "grounding-v4", "version": 4} and report["current"] is None
    assert report["index"]["name"] == "grounding-v4" and report["index"]["schema_version"] == 4
    assert await search("token1") == ("grounding-v4", ["d1.md"])
    assert await search("okapis") == ("grounding-v4", ["d0.md"])  # caught up after the swap
    assert await search("token2") == ("grounding-v4", [])  # deleted during the migration: swept after the swap
    assert sorted((await search("zebras"))[1]) == ["d1.md", "d3.md"]
    assert services.pipeline.index.name == services.reindexer.pipeline.index.name == "grounding-v4"

    # After the swap, live updates write into the new index.
    await host.upload("docs/new.md", "# New\n\nWombats arrived after the migration.\n")
    await blobs.ingest_blob(blob_client(app_env.container, "docs/new.md"))
    assert await search("wombats") == ("grounding-v4", ["new.md"])

    # The cutover hook is idempotent: a finalization run again changes nothing.
    run = await services.reindexer.store.get(body["run"])
    assert await services.reindexer.cutover(run) is None
    assert await alias(services) == "grounding-v4"
    code, refused = await start({"schema_version": v4})
    assert code == 409 and "nothing to migrate" in refused["error"]

    # The other process follows the alias the next time a trigger asks for its Services after the check interval.
    assert other.pipeline.index.name == "grounding-v3"
    monkeypatch.setattr(services_module, "ALIAS_CHECK_SECONDS", 0.0)
    set_services(other)
    await services.close()
    assert await get_services() is other
    assert other.pipeline.index.name == other.live.pipeline.index.name == "grounding-v4"


async def migrate_with_a_broken_blob(host: FunctionsHost, version: int) -> tuple[Services, dict]:
    """Three good blobs indexed, one that fails in every run, then a migration run to ``version`` drained."""
    services = await use_services(CountingEmbedder())
    await upload_docs(host, 3)
    await reindex_now(host)
    await host.upload("docs/broken.pdf", b"\x01" + bytes(range(256)) * 16)  # bad input: fails in every run
    code, body = await start({"schema_version": version})
    assert code == 202
    assert await host.drain(reindex.reindex_worker) == []
    return services, body


async def test_a_migration_that_fails_verification_leaves_the_alias_on_the_old_version(
    app_env: AppEnv, host: FunctionsHost, v4: int
) -> None:
    services, body = await migrate_with_a_broken_blob(host, v4)

    last = (await status())["last"]
    assert (last["run"], last["status"], last["expected"], last["done"], last["failed"]) == (
        body["run"],
        "incomplete",
        4,
        3,
        1,
    )
    assert last["note"].startswith("not swapped, grounding-v4 kept building: ")
    assert "1 documents failed (at most 0 allowed" in last["note"]
    assert await alias(services) is None  # untouched: readers still resolve the old version
    assert await indexes(services) == {"grounding-v3": "ready", "grounding-v4": "building"}
    assert await search("token1") == ("grounding-v3", ["d1.md"])
    assert services.pipeline.index.name == "grounding-v3"

    # Fix the source and migrate again: the unfinished target is resumed and cut over. A blob deleted while the
    # run finalizes (after its stale sweep, before the swap) only reaches the old index: swept again after the swap.
    await host.delete("docs/broken.pdf")
    cutover = services.reindexer.cutover

    async def delete_then_cut_over(run: RunRecord) -> str | None:
        await host.delete("docs/d1.md")
        await blobs.delete_blob(storage_event(blobs.BLOB_DELETED, host.blob_url("docs/d1.md")))
        return await cutover(run)

    services.reindexer.on_finalized = delete_then_cut_over
    code, again = await start(schema_version="4")  # the query string works too
    assert code == 202 and again["migration"] == {"target": "grounding-v4", "version": 4}
    assert await host.drain(reindex.reindex_worker) == []
    last = (await status())["last"]
    assert (last["run"], last["status"], last["unchanged"], last["failed"]) == (again["run"], "done", 3, 0)
    assert last["stale_deleted"] == 1
    assert await alias(services) == "grounding-v4"
    assert await search("token0") == ("grounding-v4", ["d0.md"])
    assert await search("token1") == ("grounding-v4", [])
    assert (await services.reindexer.store.get(body["run"])).status is RunStatus.INCOMPLETE


@pytest.mark.parametrize(
    ("body", "params", "reason"),
    [
        ({"schema_version": 99}, {}, "registered version"),
        ({"schema_version": "three"}, {}, "whole number"),
        ({"schema_version": 2.5}, {}, "whole number"),
        (b"not json", {}, "must be JSON"),
        ([3], {}, "JSON object"),
        (None, {"schema_version": "v4"}, "whole number"),
        (None, {"schema_version": "0"}, "registered version"),
    ],
)
async def test_a_bad_schema_version_is_a_400_and_starts_nothing(
    app_env: AppEnv, host: FunctionsHost, body: object, params: dict[str, str], reason: str
) -> None:
    services = await get_services()
    code, answer = await start(body, **params)
    assert code == 400 and reason in answer["error"] and "\n" not in answer["error"]
    assert (await status())["current"] is None and await host.receive(1) == []
    assert await indexes(services) == {"grounding-v3": "ready"}


async def test_a_migration_to_the_live_version_is_refused(app_env: AppEnv, host: FunctionsHost) -> None:
    services = await get_services()
    code, answer = await start({"schema_version": 3})
    assert code == 409 and answer["error"] == "grounding-v3 already is schema v3: nothing to migrate"
    assert (await status())["current"] is None and await indexes(services) == {"grounding-v3": "ready"}


async def test_a_run_recorded_before_migration_runs_existed_reads_as_a_normal_run(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    code, body = await start()
    assert code == 202
    async with TableClient.from_connection_string(app_env.connection_string, app_env.table) as table:
        header = await table.get_entity(body["run"], "a")
        old = {name: value for name, value in header.items() if name != "target_version"}
        await table.update_entity(old, mode=UpdateMode.REPLACE)
        assert "target_version" not in await table.get_entity(body["run"], "a")
    current = (await status())["current"]
    assert (current["run"], current["migration"], current["index"]) == (body["run"], None, "grounding-v3")


async def test_a_migration_run_whose_target_was_aborted_ends_incomplete(
    app_env: AppEnv, host: FunctionsHost, v4: int
) -> None:
    services = await get_services()
    await upload_docs(host, 2)
    await reindex_now(host)
    code, body = await start({"schema_version": v4})
    assert code == 202
    assert services.reindexer.builds is not None
    assert await abort(services.reindexer.builds.admin) == ["grounding-v4"]  # `schema migrate --abort`

    assert await host.drain(reindex.reindex_worker) == []  # nothing retried: the documents fail at once

    last = (await status())["last"]
    assert (last["run"], last["status"], last["failed"]) == (body["run"], "incomplete", 2)
    assert last["note"] == "not swapped: grounding-v4 no longer exists (aborted?)"
    assert "migration target grounding-v4 no longer exists" in last["failures"][0]["error"]
    assert await alias(services) is None and await indexes(services) == {"grounding-v3": "ready"}
    assert await search("token1") == ("grounding-v3", ["d1.md"])


async def test_of_two_simultaneous_migration_requests_exactly_one_starts(
    app_env: AppEnv, host: FunctionsHost, v4: int
) -> None:
    services = await get_services()
    await upload_docs(host, 2)
    await reindex_now(host)
    # A refused request (nothing to migrate) gives the slot back at once.
    assert (await start({"schema_version": 3}))[0] == 409
    first, second = await asyncio.gather(start({"schema_version": v4}), start({"schema_version": v4}))
    codes = sorted([first[0], second[0]])
    assert codes == [202, 409], (first, second)
    started, refused = (first, second) if first[0] == 202 else (second, first)
    assert started[1]["run"] in refused[1]["error"]
    runs = [run for run in await services.reindexer.store.recent() if run.migration is not None]
    assert [run.run_id for run in runs] == [started[1]["run"]]


async def test_the_migration_slot_is_held_by_a_live_run_and_taken_over_from_an_ended_one(
    app_env: AppEnv, host: FunctionsHost
) -> None:
    store = (await get_services()).reindexer.store
    assert await store.claim_slot(MIGRATION_SLOT, "run-a") is None
    assert await store.claim_slot(MIGRATION_SLOT, "run-a") is None  # the holder claiming again
    assert await store.claim_slot(MIGRATION_SLOT, "run-b") == "run-a"  # not recorded yet, but within the grace period
    await store.release_slot(MIGRATION_SLOT, "run-b")  # not the holder: changes nothing
    assert await store.claim_slot(MIGRATION_SLOT, "run-b") == "run-a"
    await store.release_slot(MIGRATION_SLOT, "run-a")
    assert await store.claim_slot(MIGRATION_SLOT, "run-b") is None
    now = datetime.now(UTC)
    run = RunRecord(run_id="run-b", status=RunStatus.LISTING, trigger="http", scope="s", index_name="grounding-v4",
                    started_at=now, updated_at=now, target_version=4)  # fmt: skip
    recorded = await store.create(run)
    assert await store.claim_slot(MIGRATION_SLOT, "run-c") == "run-b"  # its run is still going
    assert await store.update_header(recorded, status=RunStatus.DONE) is not None
    assert await store.claim_slot(MIGRATION_SLOT, "run-c") is None  # an ended run no longer holds it
    assert await store.claim_slot(MIGRATION_SLOT, "run-b") == "run-c"


async def test_a_migration_run_allows_the_configured_number_of_failed_documents(
    app_env: AppEnv, host: FunctionsHost, v4: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEMA_MIGRATION_MAX_FAILURES", "1")
    services, body = await migrate_with_a_broken_blob(host, v4)
    last = (await status())["last"]
    assert (last["run"], last["status"], last["done"], last["failed"]) == (body["run"], "done", 3, 1)
    assert await alias(services) == "grounding-v4"


async def test_a_migration_run_with_several_documents_per_message_swaps_the_alias(
    app_env: AppEnv, host: FunctionsHost, v4: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build-run messages of several documents carry the target index and version to each of them."""
    monkeypatch.setenv("REINDEX_DOCUMENTS_PER_MESSAGE", "3")
    services = await use_services(CountingEmbedder())
    await upload_docs(host, 5)
    await reindex_now(host)
    code, body = await start({"schema_version": v4})
    assert code == 202
    assert await host.drain(reindex.reindex_worker) == []
    last = (await status())["last"]
    counts = (last["run"], last["status"], last["expected"], last["done"], last["failed"])
    assert counts == (body["run"], "done", 5, 5, 0)
    assert await alias(services) == "grounding-v4"
    name, hits = await search("token3")
    assert name == "grounding-v4" and hits[0] == "d3.md"
