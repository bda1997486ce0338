"""The pipeline's spans and metrics, through in-memory OpenTelemetry providers (the exporters are tested end to end
in test_telemetry_export.py): names, parentage, attributes, outcomes and counts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ingestion import telemetry, wiring
from ingestion.settings import Settings
from ingestion.telemetry.instruments import QuotaWindow

STAGES = ("ingest.read", "ingest.crack", "ingest.chunk", "ingest.embed", "ingest.index")


class Captured:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        telemetry.install(tracer_provider, MeterProvider(metric_readers=[self.metrics]))

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]

    def points(self, name: str) -> list[tuple[dict[str, object], object]]:
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(dict(point.attributes or {}), point) for point in metric.data.data_points]
        return found


@pytest.fixture
def captured() -> Iterator[Captured]:
    try:
        yield Captured()
    finally:
        telemetry.reset()


def pipeline_for(tmp_path: Path):
    settings = Settings.from_env(
        {
            "EMBEDDING_BACKEND": "hash",
            "LOCAL_INDEX_PATH": str(tmp_path / "ix.sqlite"),
            "CHUNK_MAX_TOKENS": "64",
            "CHUNK_OVERLAP_TOKENS": "8",
        }
    )
    return wiring.build_pipeline(settings)


async def test_each_document_gets_a_span_with_its_stages_attributes_and_metrics(
    tmp_path: Path, captured: Captured
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "wal.md").write_text("# WAL\n\nReaders proceed while a writer appends to the wal file.\n" * 20)
    (docs / "empty.txt").write_text("   \n")
    pipeline = pipeline_for(tmp_path)
    try:
        await pipeline.index.ensure()
        with telemetry.span("ingest.run", trigger="test"):
            result = await pipeline.run(wiring.build_folder_source(docs))
        with telemetry.span("ingest.run", trigger="test"):
            again = await pipeline.run(wiring.build_folder_source(docs))
    finally:
        await pipeline.close()
    assert (result.added, result.failed, again.unchanged) == (1, 1, 1)

    runs = captured.named("ingest.run")
    documents = captured.named("ingest.document")
    assert len(runs) == 2 and len(documents) == 4
    by_outcome = {}
    for span in documents:
        assert span.parent is not None and span.parent.span_id in {run.context.span_id for run in runs}
        by_outcome.setdefault(span.attributes["ingestion.outcome"], []).append(span)
    assert sorted(by_outcome) == ["added", "failed", "unchanged"]
    added = by_outcome["added"][0]
    assert added.attributes["ingestion.source"].endswith("wal.md")
    assert added.attributes["ingestion.bytes"] == len((docs / "wal.md").read_bytes())
    assert added.attributes["ingestion.chunks"] >= 2
    assert added.attributes["ingestion.tokens"] > 0
    assert added.attributes["ingestion.vectors_reused"] == 0
    assert added.attributes["ingestion.pages"] == 0
    children = [
        span
        for span in captured.spans.get_finished_spans()
        if span.parent and span.parent.span_id == added.context.span_id
    ]
    assert [span.name for span in sorted(children, key=lambda s: s.start_time)] == list(STAGES)
    failed = by_outcome["failed"][0]
    assert failed.status.status_code is StatusCode.ERROR
    assert "no text" in failed.attributes["ingestion.failure_reason"]
    assert "empty.txt" in failed.attributes["ingestion.failure_reason"]

    outcomes = {attrs["outcome"]: point.value for attrs, point in captured.points("ingestion.documents")}
    assert outcomes == {"added": 1, "failed": 2, "unchanged": 1}
    assert [point.value for _, point in captured.points("ingestion.chunks")] == [added.attributes["ingestion.chunks"]]
    assert [point.value for _, point in captured.points("ingestion.tokens_embedded")] == [
        added.attributes["ingestion.tokens"]
    ]
    assert sum(point.count for _, point in captured.points("ingestion.document.duration")) == 4
    assert [point.value for _, point in captured.points("ingestion.documents.in_flight")] == [0]


async def test_a_changed_document_reports_the_vectors_it_reused(tmp_path: Path, captured: Captured) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    paragraphs = [f"## Part {n}\n\nParagraph {n} talks about topic {n} at some length." * 4 for n in range(6)]
    (docs / "a.md").write_text("\n\n".join(paragraphs))
    pipeline = pipeline_for(tmp_path)
    try:
        await pipeline.index.ensure()
        await pipeline.run(wiring.build_folder_source(docs))
        (docs / "a.md").write_text("\n\n".join([*paragraphs[:-1], "## Part 9\n\nA brand new ending."]))
        await pipeline.run(wiring.build_folder_source(docs))
    finally:
        await pipeline.close()
    updated = [s for s in captured.named("ingest.document") if s.attributes["ingestion.outcome"] == "updated"]
    assert len(updated) == 1
    reused = updated[0].attributes["ingestion.vectors_reused"]
    assert 0 < reused < updated[0].attributes["ingestion.chunks"]


def test_quota_window_is_the_share_of_the_last_minute() -> None:
    now = [1000.0]
    window = QuotaWindow(clock=lambda: now[0])
    window.sent(500)
    assert window.used() is None  # no quota known: no gauge value
    window.watch(1000)
    window.sent(250)
    assert window.used() == 0.75
    now[0] += 61
    window.sent(100)
    assert window.used() == 0.1


def test_nothing_is_imported_or_configured_without_a_destination() -> None:
    code = (
        "import sys; from ingestion import cli, pipeline, telemetry; from ingestion.settings import Settings;"
        "print(telemetry.configure(Settings.from_env({}).telemetry, service_name='x'),"
        " any(name.startswith('opentelemetry') for name in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "False"]
