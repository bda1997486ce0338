"""Full reindex through the Functions handlers, Azurite and queue fan-out, with 1, 2 and 4 in-process workers.

    python bench/reindex.py [--corpus DIR] [--limit 300] [--workers 1,2,4] [--processes]
    python bench/reindex.py --azure [--corpus DIR] [--limit 300] [--workers 48] [--tpm 1200000]

Starts its own Azurite, uploads a few hundred real HTML documents (default: the SQLite documentation from
$CORPORA_DIR or .cache/corpora, see ../shared/corpora/fetch.sh), then for each worker count: a fresh SQLite index, run
store and queue; the timer handler starts a run; N workers pull messages and deliver them to the real queue handler
as the host would (base64-decoded, deleted on success); the clock stops when the run is recorded done. Prints
documents/s per worker count with the hash embedder, so the fan-out's scaling (and the cost of the table/queue round
trips per document) is visible. Workers share one process and event loop, like the concurrent invocations of one
Functions instance; CPU-bound cracking runs in threads, so one process tops out at about one core (the GIL).
``--processes`` also runs each worker count as that many worker *processes* (each like one Functions instance with
its own pipeline, sharing the SQLite index file): that is how the host scales out, bounded here by the machine's cores.

``--azure`` runs the same path (timer, listing message, one message per document, real queue handler) on the Azure
fakes of tests/fakes instead: Azure OpenAI with a sliding-window quota of ``--tpm`` tokens per minute and a latency
model (``--latency`` s per request + ``--latency-per-1k`` s per 1,000 tokens, as bench/scale_ingest.py: an assumption,
not a measurement of Azure) and Azure AI Search (a fresh index per round); every other setting keeps its default.
Default corpus: the first 300 Django HTML pages, bench/scale_ingest.py's default, so the figures compare. A worker
count N is one child process (one Functions instance: started, modules imported, before the run starts; it builds its
Services inside the timed run, as a cold instance's first invocation does) running N concurrent consumers that each
take ONE message at a time, so N is the instance's concurrent invocations: the host runs every message it fetched at
once and fetches a new batch (``batchSize`` 32) when ``newBatchThreshold`` (16) or fewer are running, i.e. up to 48
invocations per instance (host.json), hence the default ``--workers 48``. (Taking 4 messages per consumer, as the local
mode does, would leave fetched messages waiting behind another in one consumer while others idle at the end of a
run.) The fakes serve from this process, so their CPU does not take the instance's GIL. Per round: documents, failed,
tokens the fake accepted, quota use over the embedding span and over the whole run (bench/scale_ingest.py's
formulas), embedding requests, 429s, indexing requests, actions per indexing request, docs/s and seconds; the whole
run is from the timer's start of the run to a consumer seeing it recorded done. ``BENCH_TRACE=1`` also lists every
embedding and indexing request over time, on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from azure.functions.timer import TimerRequest  # noqa: E402
from azure.storage.blob.aio import ContainerClient  # noqa: E402

from bench.scale_ingest import quota_use  # noqa: E402
from ingestion.functions import reindex  # noqa: E402
from ingestion.functions.services import build_services, close_services, set_services  # noqa: E402
from ingestion.runs.records import RunRecord  # noqa: E402
from ingestion.settings import Settings  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.fakes.search_server import FakeSearchServer  # noqa: E402
from tests.functions.host import FunctionsHost  # noqa: E402
from tests.support.azurite import Azurite, azurite_binary, start_azurite, stop_azurite  # noqa: E402

AZURE_WORKERS = "48"
"""Concurrent invocations of one Functions instance: host.json's batchSize 32 + newBatchThreshold 16."""


def launch_azurite(location: Path) -> tuple[object, Azurite]:
    binary = azurite_binary()
    if binary is None:
        raise SystemExit("Azurite not installed: set AZURITE_BIN or run `make test` (installs it under .tools/)")
    return start_azurite(binary, location)


async def upload_corpus(connection_string: str, container: str, files: list[Path], root: Path) -> int:
    total = 0
    gate = asyncio.Semaphore(16)
    async with ContainerClient.from_connection_string(connection_string, container) as client:
        await client.create_container()

        async def one(path: Path) -> None:
            nonlocal total
            data = await asyncio.to_thread(path.read_bytes)
            total += len(data)
            async with gate:
                await client.upload_blob(path.relative_to(root).as_posix(), data, overwrite=True)

        await asyncio.gather(*(one(path) for path in files))
    return total


def round_env(azurite: Azurite, container: str) -> dict[str, str]:
    """The app settings of one round's plumbing: the source container, a fresh queue and runs table."""
    suffix = secrets.token_hex(3)
    return {
        "DocumentStorage": azurite.connection_string,
        "SOURCE_CONTAINER": container,
        "REINDEX_QUEUE": f"reindex-{suffix}",
        "RUNS_TABLE": f"runs{suffix}",
    }


def local_env(scratch: Path, label: str) -> dict[str, str]:
    return {"EMBEDDING_BACKEND": "hash", "LOCAL_INDEX_PATH": str(scratch / f"index-{label}.sqlite")}


def azure_env(openai_fake: FakeOpenAIServer, search: FakeSearchServer) -> dict[str, str]:
    """The Azure OpenAI and Azure AI Search settings pointing at the fakes (as tests/functions/test_scale_shared.py)."""
    return {
        "EMBEDDING_BACKEND": "azure_openai",
        "AZURE_OPENAI_ENDPOINT": openai_fake.url,
        "AZURE_OPENAI_API_KEY": openai_fake.api_key,
        "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "embed",
        "INDEX_BACKEND": "azure_search",
        "AZURE_SEARCH_ENDPOINT": search.url,
        "AZURE_SEARCH_API_KEY": search.api_key,
    }


async def work(env: dict[str, str], run_id: str, consumers: int, *, take: int = 4) -> float:
    """``consumers`` concurrent queue consumers in this process, each taking ``take`` messages at a time and running
    them one after the other, until the run is recorded finished; returns when (``time.monotonic``) one saw that."""
    services = await build_services(Settings.from_env(env))
    set_services(services)
    host = FunctionsHost(env["DocumentStorage"], container=env["SOURCE_CONTAINER"], queue=env["REINDEX_QUEUE"])
    store = services.reindexer.store

    async def consumer() -> None:
        while True:
            batch = await host.receive(take, visibility_timeout=300)
            for raw in batch:
                error = await host.deliver(raw, reindex.reindex_worker)
                if error is not None:  # as the host does: the message is retried (dequeue count + 1), then poisoned
                    print(f"  invocation failed, message retried: {error}", file=sys.stderr)
            if not batch:
                current = await store.get(run_id)
                if current is not None and current.status.terminal:
                    return
                await asyncio.sleep(0.05)

    try:
        await asyncio.gather(*(consumer() for _ in range(consumers)))
        return time.monotonic()
    finally:
        await host.close()
        await close_services()


def work_in_process(env: dict[str, str], run_id: str, consumers: int = 1, take: int = 4) -> float:
    return asyncio.run(work(env, run_id, consumers, take=take))


async def start_run(env: dict[str, str]) -> tuple[str, float, float]:
    """Start a run with the timer handler; returns its id and when (perf_counter, monotonic) the start began."""
    services = await build_services(Settings.from_env(env))
    set_services(services)
    started, monotonic = time.perf_counter(), time.monotonic()
    await reindex.reindex_timer(TimerRequest(past_due=False))
    [run] = await services.reindexer.store.recent(limit=1)
    await close_services()
    return run.run_id, started, monotonic


async def recorded_run(env: dict[str, str], run_id: str) -> tuple[RunRecord, list[dict[str, object]]]:
    """The finished run's record and its failed documents."""
    services = await build_services(Settings.from_env(env))
    try:
        final = await services.reindexer.store.get(run_id)
        assert final is not None and final.status.terminal
        return final, await services.reindexer.store.failures(run_id) if final.failed else []
    finally:
        await services.close()


async def one_round(azurite: Azurite, container: str, workers: int, scratch: Path, *, processes: bool) -> tuple:
    env = round_env(azurite, container) | local_env(scratch, f"{workers}-{processes}")
    run_id, started, _ = await start_run(env)
    if processes:
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            await asyncio.gather(*(loop.run_in_executor(pool, work_in_process, env, run_id) for _ in range(workers)))
    else:
        await work(env, run_id, workers)
    seconds = time.perf_counter() - started
    final, _ = await recorded_run(env, run_id)
    return final.recorded, seconds, final.failed


@dataclass
class AzureRound:
    """One ``--azure`` round's figures (times in ``time.monotonic`` seconds)."""

    run: RunRecord
    failures: list[dict[str, object]]
    wall: float
    """From the timer's start of the run to a consumer seeing it recorded done."""
    tokens: int
    """Tokens the fake accepted (status 200)."""
    embedding_requests: int
    throttled: int
    index_requests: int
    index_actions: int
    quota_span: float | None = None
    quota_run: float | None = None
    lead: float | None = None
    """From the start to the first embedding request."""
    tail: float | None = None
    """From the last embedding request to the end."""


async def azure_round(azurite: Azurite, container: str, workers: int, args: argparse.Namespace) -> AzureRound:
    """One reindex on fresh Azure fakes by one instance with ``workers`` concurrent invocations."""
    openai_fake = FakeOpenAIServer(
        tokens_per_minute=args.tpm, latency=args.latency, latency_per_1k_tokens=args.latency_per_1k
    )
    with openai_fake, FakeSearchServer() as search:
        search.batches = StampedList()
        env = round_env(azurite, container) | azure_env(openai_fake, search)
        env |= dict(setting.split("=", 1) for setting in args.set)
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as instance:
            await loop.run_in_executor(instance, int)  # the instance is up (process, imports) before the run starts
            run_id, _, started = await start_run(env)
            finished = await loop.run_in_executor(instance, work_in_process, env, run_id, workers, 1)
        run, failures = await recorded_run(env, run_id)
        if os.environ.get("BENCH_TRACE"):
            trace(openai_fake, search, started)
        accepted = [r for r in openai_fake.records if r.status == 200]
        counts = search.counters()
        result = AzureRound(
            run=run,
            failures=failures,
            wall=finished - started,
            tokens=sum(r.tokens for r in accepted),
            embedding_requests=len(openai_fake.records),
            throttled=openai_fake.counters()["throttled"],
            index_requests=counts["batches"],
            index_actions=counts["batch_actions"],
        )
        if accepted:
            figures = quota_use(openai_fake, args.tpm, started, finished, result.wall)
            result.quota_span, result.quota_run = figures["quota_span"], figures["quota_run"]
            result.lead, result.tail = figures["lead"], figures["tail"]
    return result


class StampedList(list):
    """The search fake's ``batches``, noting when each indexing request was answered (``stamps``, monotonic)."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[float] = []

    def append(self, item: object) -> None:
        self.stamps.append(time.monotonic())
        super().append(item)


def trace(openai_fake: FakeOpenAIServer, search: FakeSearchServer, started: float) -> None:
    """Every embedding request (arrival, status, inputs, tokens) and indexing request (answered, actions) in time
    order, on stderr."""
    events = [(r.at, f"embed {r.status} {r.inputs:5d} inputs {r.tokens:7d} tokens") for r in openai_fake.records]
    batches = zip(search.batches.stamps, search.batches, strict=True)  # type: ignore[attr-defined]
    events += [(at, f"index {batch.status} {len(batch.actions):5d} actions") for at, batch in batches]
    for at, event in sorted(events):
        print(f"  {at - started:7.2f}s {event}", file=sys.stderr)


def print_azure(workers: int, r: AzureRound) -> None:
    per_request = r.index_actions / max(r.index_requests, 1)
    quota = "     -         -" if r.quota_span is None else f"{r.quota_span:6.2f} {r.quota_run:9.2f}"
    print(
        f"{workers:>7} {r.run.recorded:5d} {r.run.failed:6d} {r.tokens:9d} {quota} {r.embedding_requests:7d} "
        f"{r.throttled:5d} {r.index_requests:7d} {per_request:7.1f} {r.run.recorded / r.wall:7.1f} {r.wall:8.1f}"
    )
    if r.lead is not None:
        print(f"{'':>7} first embedding request after {r.lead:.1f} s, last one {r.tail:.1f} s before the end")
    if r.run.status.value != "done":
        print(f"{'':>7} run ended {r.run.status.value}: {r.run.note}")
    for failure in r.failures:
        print(f"{'':>7} failed: {str(failure)[:150]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpora = Path(os.environ.get("CORPORA_DIR", REPO / ".cache" / "corpora"))
    parser.add_argument("--corpus", type=Path, default=None, help="default: html/sqlite, html/django with --azure")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--workers", default=None, help=f"default: 1,2,4, {AZURE_WORKERS} with --azure")
    parser.add_argument("--processes", action="store_true", help="also run N worker processes")
    parser.add_argument("--azure", action="store_true", help="on the Azure OpenAI and Azure AI Search fakes")
    parser.add_argument("--tpm", type=int, default=1_200_000, help="--azure: the fake deployment's TPM quota")
    parser.add_argument("--latency", type=float, default=0.3, help="--azure: fake service time per request (s)")
    parser.add_argument("--latency-per-1k", type=float, default=0.06, help="--azure: per 1k tokens (s)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="--azure: an app setting")
    args = parser.parse_args()
    if args.azure and args.processes:
        parser.error("--processes is for the local stack: --azure runs one instance (process) per worker count")
    args.corpus = args.corpus or corpora / "html" / ("django" if args.azure else "sqlite")
    args.workers = args.workers or (AZURE_WORKERS if args.azure else "1,2,4")
    files = sorted(path for path in args.corpus.rglob("*.html") if path.is_file())[: args.limit]
    if not files:
        raise SystemExit(f"no HTML documents under {args.corpus}: run ../shared/corpora/fetch.sh {corpora}")
    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as tmp:
        scratch = Path(tmp)
        (scratch / "azurite").mkdir()
        process, azurite = launch_azurite(scratch / "azurite")
        try:
            size = await upload_corpus(azurite.connection_string, "corpus", files, args.corpus)
            corpus = f"{len(files)} documents, {size / 1e6:.1f} MB from {args.corpus}"
            if args.azure:
                await azure_rounds(azurite, args, corpus)
            else:
                print(f"{corpus}; hash embedder, local SQLite index")
                await local_rounds(azurite, args, scratch)
        finally:
            stop_azurite(process)  # type: ignore[arg-type]


async def local_rounds(azurite: Azurite, args: argparse.Namespace, scratch: Path) -> None:
    print(f"{'mode':>9} {'workers':>7} {'documents':>9} {'failed':>6} {'seconds':>8} {'docs/s':>7} {'speedup':>7}")
    for processes in (False, True) if args.processes else (False,):
        base = None
        for workers in (int(part) for part in args.workers.split(",")):
            documents, seconds, failed = await one_round(azurite, "corpus", workers, scratch, processes=processes)
            rate = documents / seconds
            base = base or rate
            mode = "processes" if processes else "tasks"
            print(
                f"{mode:>9} {workers:>7} {documents:>9} {failed:>6} {seconds:>8.2f} {rate:>7.1f} {rate / base:>6.2f}x"
            )


async def azure_rounds(azurite: Azurite, args: argparse.Namespace, corpus: str) -> None:
    print(
        f"{corpus}; Functions reindex on the Azure fakes: quota {args.tpm:,} TPM, "
        f"latency {args.latency:g} s + {args.latency_per_1k:g} s/1k tokens; one instance, N concurrent invocations"
    )
    print(
        f"{'workers':>7} {'docs':>5} {'failed':>6} {'tokens':>9} {'quota':>6} {'whole run':>9} {'emb req':>7} "
        f"{'429s':>5} {'idx req':>7} {'act/req':>7} {'docs/s':>7} {'seconds':>8}"
    )
    for workers in (int(part) for part in args.workers.split(",")):
        print_azure(workers, await azure_round(azurite, "corpus", workers, args))


if __name__ == "__main__":
    asyncio.run(main())
