"""A Functions invocation with APPLICATIONINSIGHTS_CONNECTION_STRING delivers its spans, correlated with the host's
invocation, and the metrics, in the Azure Monitor exporter's wire format (a stand-in ingestion endpoint on 127.0.0.1).

The app runs in its own process (invoke_with_telemetry.py), as in the worker: telemetry installs process-wide
providers, which must not leak into the other tests."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.appinsights_server import AppInsightsServer
from tests.functions.conftest import AppEnv
from tests.functions.host import FunctionsHost
from tests.integration.test_telemetry_export import METRICS, QUIET_DISTRO, STAGES

pytestmark = pytest.mark.azurite

ROOT = Path(__file__).resolve().parents[2]


async def test_an_invocation_delivers_spans_under_the_host_trace_and_metrics(
    app_env: AppEnv, host: FunctionsHost, tmp_path: Path
) -> None:
    await host.upload("guides/wal.md", "# WAL\n\nReaders proceed while a writer appends pages to the wal file.\n")
    await host.upload("guides/backup.md", "# Backup\n\nThe backup API copies a live database page by page.\n")
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    with AppInsightsServer() as sink:
        env = {
            name: value for name, value in os.environ.items() if not name.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))
        }
        env.update(
            {**QUIET_DISTRO, "APPLICATIONINSIGHTS_CONNECTION_STRING": sink.connection_string(), "TMPDIR": str(tmp_path)}
        )
        env.pop("FUNCTIONS_WORKER_RUNTIME", None)
        done = subprocess.run(
            [sys.executable, "-m", "tests.functions.invoke_with_telemetry", trace_id, span_id],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        run_id = json.loads(done.stdout.strip().splitlines()[-1])["run"]

    # The blob trigger: its document is a child of the host's invocation, its stages children of the document.
    blob_documents = [d for d in sink.spans("ingest.document") if d["tags"].get("ai.operation.parentId") == span_id]
    assert len(blob_documents) == 1
    [document] = blob_documents
    assert document["tags"]["ai.operation.id"] == trace_id
    assert document["properties"]["ingestion.outcome"] == "added"
    assert document["properties"]["ingestion.source"] == f"{app_env.container}/guides/wal.md"
    stages = {
        s["name"] for s in sink.items("RemoteDependency") if s["tags"].get("ai.operation.parentId") == document["id"]
    }
    assert stages == STAGES
    # The blob read through the storage SDK is a dependency under ingest.read.
    [read] = [
        s
        for s in sink.items("RemoteDependency")
        if s["name"] == "ingest.read" and s["tags"]["ai.operation.parentId"] == document["id"]
    ]
    assert any(s["tags"].get("ai.operation.parentId") == read["id"] for s in sink.items("RemoteDependency"))

    # The reindex run: one ingest.run span when it finalized, and its documents carry its id.
    [run] = sink.spans("ingest.run")
    assert run["properties"]["ingestion.run_id"] == run_id and run["properties"]["ingestion.status"] == "done"
    assert run["properties"]["ingestion.trigger"] == "http"
    in_run = [d for d in sink.spans("ingest.document") if d["properties"].get("ingestion.run_id") == run_id]
    assert sorted(d["properties"]["ingestion.outcome"] for d in in_run) == ["added", "unchanged"]

    names = sink.metric_names()
    assert names >= METRICS - {"ingestion.embedding.throttled", "ingestion.embedding.quota.used"}
    outcomes: dict[str, float] = {}
    for point in sink.metric_points("ingestion.documents"):
        outcome = point["properties"]["outcome"]
        outcomes[outcome] = outcomes.get(outcome, 0) + point["value"]
    assert outcomes == {"added": 2, "unchanged": 1}
    queues = {point["properties"]["queue"]: point["value"] for point in sink.metric_points("ingestion.queue.messages")}
    assert queues == {app_env.queue: 0, f"{app_env.queue}-poison": 0, "webjobs-blobtrigger-poison": 0}
    assert {item["tags"]["ai.cloud.role"] for item in sink.spans("ingest.document")} == {"ingestion-functions"}
    assert app_env.connection_string.split("AccountKey=")[-1][:20] not in json.dumps(sink.envelopes)
