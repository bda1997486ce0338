"""A full ingest on the Azure fakes, before vs now: quota use, actions per indexing request, docs/s, peak RSS.

    .venv/bin/python bench/scale_ingest.py [DIR] [--limit 300] [--tpm 1200000] [--phases before,now]

Each phase runs the real pipeline (``wiring.build_pipeline`` from the environment: default settings) in its own
process, so peak RSS is that ingest's own, against fakes in this process: Azure OpenAI with a sliding-window TPM
quota and a latency model (``--latency`` s per request + ``--latency-per-1k`` s per 1,000 tokens: an assumption,
not a measurement of Azure) and Azure AI Search (fresh index per phase).

* ``before``: what the code did until now: 4 documents in flight, one embedding request per document (the Azure
  OpenAI embedder unwrapped), each document's index actions in requests of their own.
* ``now``: the defaults, through the CLI (``ingestion.cli.main(["ingest", DIR, "--json"])``: settings, wiring,
  index ensure, run, close): byte-budgeted read-ahead, the process-wide batching embedder, shared indexing requests.

Quota use = tokens the fake accepted between the first and the last embedding request / (TPM x that span / 60);
``whole run`` divides by the whole ingest's wall time instead (cracking start-up and the tail included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest_local import stage_corpus  # noqa: E402

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeOpenAIServer

DEFAULT_CORPUS = REPO / ".cache" / "corpora" / "html" / "django"


def child(root: str, mode: str) -> None:
    """Run one ingest in this process; print its counts, wall time and peak RSS as JSON."""
    import asyncio
    import dataclasses

    from ingestion import wiring
    from ingestion.settings import Settings

    if mode == "before":
        from ingestion.indexing.azure import index as azure_search

        def unshared(self: azure_search.AzureSearchIndex) -> object:  # each document's requests of its own
            if self._sender is None:
                actions, size = self._batch_limits
                self._sender = azure_search.BatchSender(  # type: ignore[assignment]
                    self._client(), self.name, policy=self._policy, max_actions=actions, max_bytes=size
                )
            return self._sender

        azure_search.AzureSearchIndex._batches = unshared  # type: ignore[method-assign,assignment]

    def cli() -> dict[str, object]:
        import contextlib
        import io

        from ingestion.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            main(["ingest", root, "--json"])
        return json.loads(out.getvalue())

    async def go() -> dict[str, object]:
        settings = Settings.from_env()
        embedder = wiring.build_embedder(settings)
        if mode == "before":
            embedder = embedder.inner  # type: ignore[attr-defined]
        pipeline = wiring.build_pipeline(settings, embedder=embedder)
        if mode == "before":
            pipeline.options = dataclasses.replace(pipeline.options, max_documents_in_flight=4)
        await pipeline.index.ensure()
        source = wiring.build_folder_source(Path(root))
        started, counts_started = time.perf_counter(), time.monotonic()
        try:
            result = await pipeline.run(source)
        finally:
            await pipeline.close()
        counts = result.as_dict()
        counts["wall"] = time.perf_counter() - started
        counts["started_at"], counts["finished_at"] = counts_started, time.monotonic()
        counts["budget_peak_mb"] = pipeline.budget.peak / 2**20
        return counts

    def ingest() -> dict[str, object]:
        if mode == "before":
            return asyncio.run(go())
        started, monotonic = time.perf_counter(), time.monotonic()
        counts = cli()
        counts["wall"] = time.perf_counter() - started
        counts["started_at"], counts["finished_at"] = monotonic, time.monotonic()
        return counts

    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # where the ingest process spends its CPU: python -m pstats FILE
        import cProfile

        with cProfile.Profile() as profiler:
            counts = ingest()
        profiler.dump_stats(profile)
    else:
        counts = ingest()
    counts["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts["workers_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(counts))


def run_phase(root: Path, mode: str, args: argparse.Namespace) -> dict[str, float]:
    from tests.fakes.openai_server import FakeOpenAIServer
    from tests.fakes.search_server import FakeSearchServer

    openai_fake = FakeOpenAIServer(
        tokens_per_minute=args.tpm, latency=args.latency, latency_per_1k_tokens=args.latency_per_1k
    )
    with openai_fake, FakeSearchServer() as search:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "EMBEDDING_", "INDEX_"))}
        env |= {
            "AZURE_OPENAI_ENDPOINT": openai_fake.url,
            "AZURE_OPENAI_API_KEY": openai_fake.api_key,
            "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "embed",
            "AZURE_SEARCH_ENDPOINT": search.url,
            "AZURE_SEARCH_API_KEY": search.api_key,
        }
        env |= dict(setting.split("=", 1) for setting in args.set)
        command = [sys.executable, __file__, str(root), "--child", mode]
        out = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
        if out.returncode not in (0, 1) or not out.stdout.strip():
            raise SystemExit(f"{mode} phase failed:\n{out.stderr[-2000:]}")
        counts = json.loads(out.stdout.strip().splitlines()[-1])
        if os.environ.get("BENCH_TRACE"):  # every embedding request: when, status, inputs, tokens
            start = openai_fake.records[0].at
            for r in openai_fake.records:
                print(f"  {r.at - start:7.2f}s {r.status} {r.inputs:5d} inputs {r.tokens:7d} tokens", file=sys.stderr)
            sizes = [len(batch.actions) for batch in search.batches]
            print(f"  indexing requests, actions each: {sizes}", file=sys.stderr)
        counts |= quota_use(openai_fake, args.tpm, counts["started_at"], counts["finished_at"], counts["wall"])
        counts["embedding_requests"] = len(openai_fake.records)
        counts["throttled"] = openai_fake.counters()["throttled"]
        search_counts = search.counters()
        counts["index_requests"] = search_counts["batches"]
        counts["index_actions"] = search_counts["batch_actions"]
    return counts


def quota_use(
    openai_fake: FakeOpenAIServer, tpm: int, started: float, finished: float, wall: float
) -> dict[str, float]:
    """This bench's quota figures (``time.monotonic`` instants; ``wall`` in seconds), also used by bench/reindex.py:
    ``quota_span`` over the accepted embedding requests' span, ``quota_run`` over ``wall``, ``lead`` before the first
    one (start-up, first cracks) and ``tail`` after the last one was sent (its answer, the last writes)."""
    accepted = [r for r in openai_fake.records if r.status == 200]
    first, last = min(r.at for r in accepted), max(r.at for r in accepted)
    span = max(last - first, 1e-9)
    return {
        "quota_span": openai_fake.tokens_accepted_between(first, last + 1e-6) / (tpm * span / 60),
        "quota_run": sum(r.tokens for r in accepted) / (tpm * wall / 60),
        "lead": first - started,
        "tail": finished - last,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, nargs="?", default=DEFAULT_CORPUS)
    parser.add_argument("--glob", default="*.html")
    parser.add_argument("--limit", type=int, default=300, help="at most this many files (0: all)")
    parser.add_argument("--tpm", type=int, default=1_200_000, help="the fake deployment's tokens-per-minute quota")
    parser.add_argument("--latency", type=float, default=0.3, help="fake service time per request (s)")
    parser.add_argument("--latency-per-1k", type=float, default=0.06, help="fake service time per 1k tokens (s)")
    parser.add_argument("--phases", default="before,now")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for the ingest")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(str(args.dir), args.child)
        return
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        corpus = Path(tmp) / "corpus"
        files, size = stage_corpus(args.dir.resolve(), args.glob, args.limit or None, corpus)
        print(f"corpus: {files} files, {size / 1e6:.1f} MB from {args.dir} ({args.glob}); quota {args.tpm:,} TPM, "
              f"latency {args.latency:g} s + {args.latency_per_1k:g} s/1k tokens")  # fmt: skip
        print(
            f"{'phase':<7} {'docs':>5} {'failed':>6} {'tokens':>9} {'quota':>6} {'whole run':>9} {'emb req':>7} "
            f"{'429s':>5} {'idx req':>7} {'act/req':>7} {'docs/s':>7} {'seconds':>8} {'peak RSS':>9}"
        )
        results = {}
        for mode in args.phases.split(","):
            r = run_phase(corpus, mode, args)
            results[mode] = r
            per_request = r["index_actions"] / max(r["index_requests"], 1)
            print(
                f"{mode:<7} {r['documents']:5d} {r['failed']:6d} {r['tokens_embedded']:9d} {r['quota_span']:6.2f} "
                f"{r['quota_run']:9.2f} {r['embedding_requests']:7d} {r['throttled']:5d} {r['index_requests']:7d} "
                f"{per_request:7.1f} {r['documents'] / r['wall']:7.1f} {r['wall']:8.1f} {r['peak_rss_mb']:7.0f}MB"
            )
            print(f"{'':<7} first embedding request after {r['lead']:.1f} s, last one {r['tail']:.1f} s before the end")
        for mode, r in results.items():
            for failure in r.get("failures") or []:
                print(f"  {mode} failed: {failure['error'][:150]}")
        if "before" in results and "now" in results:
            before, now = results["before"], results["now"]
            print(
                f"quota_ratio={now['quota_span'] / max(before['quota_span'], 1e-9):.2f} "
                f"docs_per_s_ratio={before['wall'] / now['wall']:.2f} "
                f"actions_per_request_before={before['index_actions'] / max(before['index_requests'], 1):.1f} "
                f"actions_per_request_now={now['index_actions'] / max(now['index_requests'], 1):.1f}"
            )


if __name__ == "__main__":
    main()
