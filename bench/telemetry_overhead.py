"""What telemetry costs a local ingest: the same folder ingested with telemetry off, and on (in-memory exporters, so
only the instrumentation is measured, not a network), side by side.

    .venv/bin/python bench/telemetry_overhead.py [FOLDER] [--rounds N]

Each round ingests FOLDER into a fresh SQLite index with the hash embedder (no model: the pipeline's own work
dominates), once per mode, alternating; the figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingestion import telemetry, wiring  # noqa: E402
from ingestion.settings import Settings  # noqa: E402


async def ingest(folder: Path, index_dir: Path) -> tuple[float, int]:
    settings = Settings.from_env({"EMBEDDING_BACKEND": "hash", "LOCAL_INDEX_PATH": str(index_dir / "ix.sqlite")})
    pipeline = wiring.build_pipeline(settings)
    try:
        await pipeline.index.ensure()
        started = time.perf_counter()
        with telemetry.span("ingest.run", trigger="bench"):
            result = await pipeline.run(wiring.build_folder_source(folder))
        return time.perf_counter() - started, result.documents
    finally:
        await pipeline.close()


def telemetry_on() -> object:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    telemetry.install(tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return tracer_provider


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "samples")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    documents = 0
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            provider = telemetry_on() if mode == "on" else None
            with tempfile.TemporaryDirectory() as scratch:
                elapsed, documents = asyncio.run(ingest(args.folder, Path(scratch)))
            seconds[mode].append(elapsed)
            if provider is not None:
                provider.shutdown()  # type: ignore[attr-defined]
                telemetry.reset()
    print(f"{args.folder} ({documents} documents), median of {args.rounds} rounds")
    print(f"{'telemetry':>10} {'seconds':>9} {'ms/doc':>8}")
    for mode, values in seconds.items():
        median = statistics.median(values)
        print(f"{mode:>10} {median:>9.3f} {1000 * median / max(documents, 1):>8.2f}")


if __name__ == "__main__":
    main()
