"""Run as a process by test_telemetry.py: the Functions app with telemetry on, driven as the host drives it.

With the environment the test prepared (Azurite, APPLICATIONINSIGHTS_CONNECTION_STRING at a stand-in endpoint), it
indexes the app, calls the blob trigger with an invocation context carrying the host's trace context (argv[1] and
argv[2]: trace id and parent span id), runs a full reindex through POST /api/reindex and the queue worker, then ends
the process the way the worker does: atexit flushes the exporters.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass

import azure.functions as func
from azure.functions.timer import TimerRequest


@dataclass
class TraceContext:
    trace_parent: str
    trace_state: str = ""


@dataclass
class Context:
    trace_context: TraceContext
    function_name: str = "ingest_blob"
    invocation_id: str = "0"


async def main(trace_id: str, span_id: str) -> None:
    from tests.functions.host import FunctionsHost, blob_client, fresh_app

    app = fresh_app()
    functions = {function.get_function_name(): function.get_user_function() for function in app.app.get_functions()}
    container = os.environ["SOURCE_CONTAINER"]
    context = Context(TraceContext(f"00-{trace_id}-{span_id}-01"))
    await functions["ingest_blob"](blob_client(container, "guides/wal.md"), context)

    connection = os.environ["DocumentStorage"]  # noqa: SIM112  (the host's setting name)
    host = FunctionsHost(connection, container=container, queue=os.environ["REINDEX_QUEUE"])
    try:
        request = func.HttpRequest(method="POST", url="http://localhost/api/reindex", body=b"")
        response = await functions["reindex_now"](request, Context(TraceContext(f"00-{trace_id}-{'1' * 16}-01")))
        run = json.loads(response.get_body())["run"]
        errors = await host.drain(lambda message: functions["reindex_worker"](message, None))
        assert errors == [], errors
        await functions["reindex_reconcile"](TimerRequest(past_due=False), None)
    finally:
        await host.close()
        from ingestion.functions.services import close_services

        await close_services()
    sys.stdout.write(json.dumps({"run": run}) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
