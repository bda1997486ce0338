"""One full run at a time: POST /api/reindex and the nightly timer join an open, non-stalled full run, atomically
(``start_or_join`` claims the runs table's ``full-run`` slot before recording a run)."""

from __future__ import annotations

import asyncio
import json
import logging

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from ingestion.functions import http, reindex
from ingestion.runs.records import RunStatus
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost, bodies
from tests.functions.test_reindex_runs import drain_listing, upload_docs, use_services

pytestmark = pytest.mark.azurite


async def post_reindex() -> dict:
    response = await http.reindex_now(func.HttpRequest(method="POST", url="/api/reindex", body=b""))
    assert response.status_code == 202, response.get_body()
    return json.loads(response.get_body())


async def listings(host: FunctionsHost) -> list[str]:
    return [m["run"] for m in bodies(await host.queue.peek_messages(max_messages=32)) if m["kind"] == "list"]


@pytest.mark.parametrize("requests", [2, 4])
async def test_simultaneous_posts_start_exactly_one_run(app_env: AppEnv, host: FunctionsHost, requests: int) -> None:
    answers = await asyncio.gather(*(post_reindex() for _ in range(requests)))
    assert sorted(answer["started"] for answer in answers) == [False] * (requests - 1) + [True]
    [run] = {answer["run"] for answer in answers}
    assert await listings(host) == [run]  # one run, one listing message
    services = await reindex.get_services()
    assert [r.run_id for r in await services.reindexer.store.recent() if not r.status.terminal] == [run]


async def test_the_timer_skips_while_a_full_run_is_open_and_says_so(
    app_env: AppEnv, host: FunctionsHost, caplog: pytest.LogCaptureFixture
) -> None:
    first = await post_reindex()
    with caplog.at_level(logging.INFO, logger=reindex.__name__):
        await reindex.reindex_timer(TimerRequest(past_due=False))
    assert await listings(host) == [first["run"]]
    assert f"scheduled reindex skipped: run {first['run']} is still listing" in caplog.messages

    assert await host.drain(reindex.reindex_worker) == []  # an empty container: the run completes
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=reindex.__name__):
        await reindex.reindex_timer(TimerRequest(past_due=False))
    [second] = await listings(host)
    assert second != first["run"] and caplog.messages == [f"scheduled reindex started: run {second}"]


async def test_a_stalled_open_run_is_not_joined(app_env: AppEnv, host: FunctionsHost) -> None:
    services = await use_services(stall_seconds=0)
    await upload_docs(host, 2)
    stalled = await post_reindex()
    await drain_listing(host)  # two document messages stay queued: reconcile leaves the run open
    await reindex.reindex_timer(TimerRequest(past_due=False))
    runs = await services.reindexer.store.recent()
    assert [run.status for run in runs if run.run_id == stalled["run"]] == [RunStatus.RUNNING]
    [new] = [run for run in runs if run.run_id != stalled["run"]]
    assert new.status is RunStatus.LISTING and new.trigger == "timer"
    assert await listings(host) == [new.run_id]
