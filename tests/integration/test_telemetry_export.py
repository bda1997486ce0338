"""A CLI ingest, run as a process, sends its spans and metrics in the exporters' real wire formats: Application
Insights envelopes to a stand-in ingestion endpoint, and OTLP/HTTP protobuf to a stand-in collector (both on
127.0.0.1). The Azure stack is the Azure OpenAI and Azure AI Search fakes, so the SDKs' HTTP calls show up as
dependencies under the stage that made them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.appinsights_server import AppInsightsServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.search_server import FakeSearchServer

REPO = Path(__file__).resolve().parents[2]
STAGES = {"ingest.read", "ingest.crack", "ingest.chunk", "ingest.embed", "ingest.index"}
METRICS = {
    "ingestion.documents",
    "ingestion.chunks",
    "ingestion.tokens_embedded",
    "ingestion.embedding.throttled",
    "ingestion.document.duration",
    "ingestion.documents.in_flight",
    "ingestion.embedding.quota.used",
}
QUIET_DISTRO = {
    # Nothing leaves 127.0.0.1: no statsbeat, no control-plane (OneSettings) call, no Azure VM metadata probe.
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
    # Keep every span (the distro's default rate-limited sampler may drop a process's first ones).
    "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
    "OTEL_TRACES_SAMPLER_ARG": "1.0",
}


@dataclass
class Stack:
    docs: Path
    env: dict[str, str]
    sink: AppInsightsServer
    openai: FakeOpenAIServer
    search: FakeSearchServer


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    sink, openai, search = (
        AppInsightsServer(),
        FakeOpenAIServer(deployments={"embed": "text-embedding-3-small"}),
        FakeSearchServer(),
    )
    for server in (sink, openai, search):
        server.start()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rotation.md").write_text("# Key rotation\n\nStorage keys are rotated every ninety days.\n" * 5)
    (docs / "empty.txt").write_text("  \n")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AZURE_", "OTEL_", "APPLICATIONINSIGHTS_"))
    }
    env.update(QUIET_DISTRO)
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": openai.url,
            "AZURE_OPENAI_API_KEY": openai.api_key,
            "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "embed",
            "AZURE_OPENAI_EMBEDDING_DIMENSIONS": "64",
            "AZURE_OPENAI_TPM": "1000000",
            "AZURE_SEARCH_ENDPOINT": search.url,
            "AZURE_SEARCH_API_KEY": search.api_key,
            "TMPDIR": str(tmp_path),  # the exporter's offline retry storage
        }
    )
    for name in ("DOCUMENTINTELLIGENCE_ENDPOINT", "EMBEDDING_BACKEND", "INDEX_BACKEND", "LOCAL_INDEX_PATH"):
        env.pop(name, None)
    try:
        yield Stack(docs, env, sink, openai, search)
    finally:
        for server in (search, openai, sink):
            server.stop()


def run_cli(stack: Stack, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "ingestion", *args],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_a_cli_ingest_delivers_its_spans_and_metrics_to_application_insights(stack: Stack) -> None:
    stack.env["APPLICATIONINSIGHTS_CONNECTION_STRING"] = stack.sink.connection_string()
    stack.openai.fail_next(1, status=429, retry_after=0.2)
    counts = run_cli(stack, "ingest", str(stack.docs), "--json")
    assert (counts["added"], counts["failed"]) == (1, 1)

    sink = stack.sink
    [run] = sink.spans("ingest.run")
    documents = sink.spans("ingest.document")
    assert len(documents) == 2
    operation = run["tags"]["ai.operation.id"]
    assert {doc["tags"]["ai.operation.id"] for doc in documents} == {operation}
    assert {doc["tags"]["ai.operation.parentId"] for doc in documents} == {run["id"]}
    assert run["properties"]["ingestion.added"] == "1" and run["properties"]["ingestion.failed"] == "1"
    added = next(doc for doc in documents if doc["properties"]["ingestion.outcome"] == "added")
    failed = next(doc for doc in documents if doc["properties"]["ingestion.outcome"] == "failed")
    assert added["properties"]["ingestion.source"].endswith("rotation.md") and added["success"] is True
    assert int(added["properties"]["ingestion.chunks"]) >= 1 and int(added["properties"]["ingestion.tokens"]) > 0
    assert failed["success"] is False and "empty.txt" in failed["properties"]["ingestion.failure_reason"]

    # Both documents have stage spans (the failed one stops after cracking): take the added document's, by parent.
    spans = [span for span in sink.items("RemoteDependency") if span["name"] in STAGES]
    stages = {span["name"]: span for span in spans if span["tags"]["ai.operation.parentId"] == added["id"]}
    assert set(stages) == STAGES
    assert {span["tags"]["ai.operation.parentId"] for span in spans} <= {added["id"], failed["id"]}
    # The SDKs' HTTP calls: dependencies under the stage that made them (openai via httpx, search via azure-core).
    http = [item for item in sink.items("RemoteDependency") if item.get("type") in ("HTTP", "Http")]
    parents = {item["tags"]["ai.operation.parentId"] for item in http}
    assert stages["ingest.embed"]["id"] in parents
    index_children = {
        item["id"]
        for item in sink.items("RemoteDependency")
        if item["tags"].get("ai.operation.parentId") == stages["ingest.index"]["id"]
    }
    assert index_children, "no Azure AI Search call under ingest.index"

    assert sink.metric_names() >= METRICS
    outcomes = {
        point["properties"].get("outcome"): point["value"] for point in sink.metric_points("ingestion.documents")
    }
    assert outcomes == {"added": 1, "failed": 1}
    [throttled] = sink.metric_points("ingestion.embedding.throttled")
    assert throttled["count"] == 1 and throttled["value"] >= 0.2
    assert all(0 < point["value"] < 1 for point in sink.metric_points("ingestion.embedding.quota.used"))

    wire = json.dumps(sink.envelopes)
    for secret in (stack.openai.api_key, stack.search.api_key):
        assert secret not in wire


def test_a_cli_ingest_delivers_to_an_otlp_collector(stack: Stack) -> None:
    stack.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = stack.sink.url
    counts = run_cli(stack, "ingest", str(stack.docs), "--json")
    assert counts["added"] == 1
    names = stack.sink.otlp_span_names
    assert names.count("ingest.run") == 1 and names.count("ingest.document") == 2
    assert set(names) >= STAGES
    assert stack.sink.otlp_client_span_count > 0  # the SDKs' HTTP calls to the OpenAI and Search fakes
    assert {
        "ingestion.documents",
        "ingestion.document.duration",
        "ingestion.tokens_embedded",
    } <= stack.sink.otlp_metric_names
