"""Scheduled full reindex: a timer starts a run, a queue trigger works through it, a second timer reconciles.

The timer fires on %REINDEX_SCHEDULE% (six-field NCRONTAB, UTC; the app setting must exist: the host resolves it)
and never on startup. It only records the run and enqueues its listing message; listing and documents run on the
queue %REINDEX_QUEUE%, where the host retries failures up to ``maxDequeueCount`` (host.json) and then moves the
message to ``<queue>-poison``. See ingestion/runs/reindex.py for how runs survive crashes and redelivery.

No ``from __future__ import annotations`` here: the worker reads these annotations to choose the binding type.
"""

import logging

import azure.functions as func

from ingestion import telemetry
from ingestion.functions.blobs import log_results
from ingestion.functions.invocation import invocation
from ingestion.functions.services import get_services
from ingestion.runs.directories import directory_delete_url
from ingestion.runs.reconcile import reconcile, start_run
from ingestion.settings import STORAGE_CONNECTION

log = logging.getLogger(__name__)

RECONCILE_SCHEDULE = "0 */10 * * * *"
"""Every ten minutes: cheap (one table query when nothing is open) and well inside any stall timeout."""

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%REINDEX_SCHEDULE%", run_on_startup=False, use_monitor=True)
async def reindex_timer(timer: func.TimerRequest, context: func.Context = None) -> None:
    if timer.past_due:
        log.warning("scheduled reindex is running late")
    with invocation(context):
        services = await get_services()
        run = await start_run(services.reindexer, trigger="timer")
    log.info("scheduled reindex started: run %s", run.run_id)


@bp.queue_trigger(arg_name="message", queue_name="%REINDEX_QUEUE%", connection=STORAGE_CONNECTION)
async def reindex_worker(message: func.QueueMessage, context: func.Context = None) -> None:
    with invocation(context):
        services = await get_services()
        body = message.get_body()
        directory = directory_delete_url(body)
        if directory is not None:  # handed over by delete_blob (see ingestion/runs/directories.py)
            log_results(await services.live.delete_directory(directory))
            return
        # The worker passes azure.functions.queue.QueueMessage, which carries the dequeue count.
        attempt = getattr(message, "dequeue_count", None) or 1
        await services.reindexer.handle(body, dequeue_count=attempt)


@bp.timer_trigger(arg_name="timer", schedule=RECONCILE_SCHEDULE, run_on_startup=False, use_monitor=True)
async def reindex_reconcile(timer: func.TimerRequest, context: func.Context = None) -> None:
    with invocation(context):
        services = await get_services()
        runs = await reconcile(services.reindexer)
        telemetry.queue_lengths(await services.reindexer.queue.counts())
    for run in runs:
        log.info("run %s is %s (%d of %s recorded)", run.run_id, run.status, run.recorded, run.expected)
