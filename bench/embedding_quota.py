"""How close to the TPM quota do we embed? Ours vs the common sequential 16-input loop, against the fake Azure OpenAI.

Each phase gets a fresh fake server with the same quota, enforced over a sliding window (TPM/6 tokens per 10 s by
default) and a latency model (``--latency`` seconds per request plus ``--latency-per-1k`` per thousand tokens; an
assumption, not a measurement of Azure). Load is realistic chunks of 400-500 cl100k tokens cut from the documents
under .cache/corpora (random words when absent), grouped into documents of 5-40 chunks.

* ours: ``AzureOpenAIEmbedder`` with the TPM hint, fed by ``--documents`` concurrent document embeds (the
  pipeline's old 4 documents in flight), one request (or more) per document.
* batched: the default wiring since issue 11: ``BatchingEmbedder`` over ``AzureOpenAIEmbedder`` (no TPM hint,
  default settings), fed by ``--batched-documents`` concurrent documents (what the byte budget keeps in flight):
  chunks of many documents share each request.
* batched+hint: the same with ``AZURE_OPENAI_TPM`` set (the TPM hint: token bucket and the initial window).
* naive: ``AsyncAzureOpenAI`` with its default retries (2, honouring retry-after), one request of 16 chunks at a time.
* ours xN / naive xN (``--instances N``, N > 1): N independent clients sharing one deployment (each of ours told
  the full TPM) — the scale-out case, where no client has a coordinator.

Utilization = tokens the server accepted during the measured ``--seconds`` / (TPM x seconds / 60). A failed chunk is
one whose request (after all retries) raised.

    .venv/bin/python bench/embedding_quota.py --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingestion.embedding.azure_openai import AzureOpenAIEmbedder
from ingestion.errors import IngestionError
from ingestion.tokenizer import get_tokenizer
from tests.fakes.openai_server import FakeOpenAIServer

CORPORA = Path(__file__).resolve().parent.parent / ".cache" / "corpora"
API_VERSION = "2024-10-21"


@dataclass
class Outcome:
    tokens: int
    failed_chunks: int
    embedded_chunks: int
    throttled: int
    requests: int


def make_chunks(count: int, seed: int = 1) -> list[str]:
    """``count`` chunks of 400-500 tokens from the corpora's text files, else from random words."""
    tokenizer = get_tokenizer()
    rng = random.Random(seed)
    files = sorted(p for ext in ("*.md", "*.rst", "*.txt") for p in CORPORA.glob(f"**/{ext}") if p.is_file())
    tokens: list[int] = []
    for path in files:
        tokens += tokenizer.encode(path.read_text(encoding="utf-8", errors="replace"))
        if len(tokens) > count * 500:
            break
    if len(tokens) < count * 500:
        vocabulary = [f"{a}{b}" for a in ("con", "pre", "re", "data", "in") for b in ("tent", "view", "port", "set")]
        tokens = tokenizer.encode(" ".join(rng.choice(vocabulary) for _ in range(count * 500)))
    chunks, start = [], 0
    while len(chunks) < count:
        size = rng.randint(400, 500)
        text = tokenizer.decode(tokens[start : start + size]).strip()
        start = (start + size) % max(1, len(tokens) - 500)
        if text and tokenizer.count(text) <= 8191:
            chunks.append(text)
    return chunks


def documents(chunks: list[str], seed: int) -> Iterator[list[str]]:
    rng = random.Random(seed)
    pool = itertools.cycle(chunks)
    while True:
        yield [next(pool) for _ in range(rng.randint(5, 40))]


async def run_ours(server: FakeOpenAIServer, chunks: list[str], args: argparse.Namespace, seed: int) -> tuple[int, int]:
    """Embed documents with ``args.documents`` concurrent calls until the time is up; return (embedded, failed)."""
    embedder = AzureOpenAIEmbedder(
        endpoint=server.url,
        deployment="embed",
        tokenizer=get_tokenizer(),
        api_key=server.api_key,
        tokens_per_minute=None if args.no_hint else args.tpm,
    )
    feed = documents(chunks, seed)
    done = failed = 0
    stop_at = time.monotonic() + args.seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.monotonic() < stop_at:
            document = next(feed)
            try:
                await embedder.embed(document)
                done += len(document)
            except IngestionError:
                failed += len(document)

    try:
        await asyncio.gather(*(worker() for _ in range(args.documents)))
    finally:
        await embedder.close()
    return done, failed


async def run_naive(
    server: FakeOpenAIServer, chunks: list[str], args: argparse.Namespace, seed: int
) -> tuple[int, int]:
    """The common approach: one 16-input request at a time, the SDK's default retries."""
    client = openai.AsyncAzureOpenAI(
        azure_endpoint=server.url, azure_deployment="embed", api_version=API_VERSION, api_key=server.api_key
    )
    pool = itertools.cycle(chunks[seed * 7 :] + chunks[: seed * 7])
    done = failed = 0
    stop_at = time.monotonic() + args.seconds
    try:
        while time.monotonic() < stop_at:
            batch = [next(pool) for _ in range(16)]
            try:
                await client.embeddings.create(input=batch, model="text-embedding-3-small")
                done += len(batch)
            except openai.APIError:
                failed += len(batch)
    finally:
        await client.close()
    return done, failed


async def run_batched_hint(
    server: FakeOpenAIServer, chunks: list[str], args: argparse.Namespace, seed: int
) -> tuple[int, int]:
    return await run_batched(server, chunks, args, seed, hint=True)


async def run_batched(
    server: FakeOpenAIServer, chunks: list[str], args: argparse.Namespace, seed: int, *, hint: bool = False
) -> tuple[int, int]:
    """The pipeline's default embedder since issue 11, fed by many concurrent documents."""
    from ingestion.embedding.batching import BatchingEmbedder

    inner = AzureOpenAIEmbedder(
        endpoint=server.url,
        deployment="embed",
        tokenizer=get_tokenizer(),
        api_key=server.api_key,
        tokens_per_minute=args.tpm if hint else None,
    )
    embedder = BatchingEmbedder(
        inner,
        tokenizer=get_tokenizer(),
        max_inputs=inner.max_batch_inputs,
        max_tokens=inner.max_batch_tokens,
        slots=inner.request_slots,
    )
    feed = documents(chunks, seed)
    done = failed = 0
    stop_at = time.monotonic() + args.seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.monotonic() < stop_at:
            document = next(feed)
            try:
                await embedder.embed(document)
                done += len(document)
            except IngestionError:
                failed += len(document)

    try:
        await asyncio.gather(*(worker() for _ in range(args.batched_documents)))
    finally:
        await embedder.close()
    return done, failed


Runner = Callable[[FakeOpenAIServer, list[str], argparse.Namespace, int], Awaitable[tuple[int, int]]]


async def phase(runner: Runner, chunks: list[str], args: argparse.Namespace, *, instances: int = 1) -> Outcome:
    server = FakeOpenAIServer(
        tokens_per_minute=args.tpm,
        window_seconds=args.window,
        latency=args.latency,
        latency_per_1k_tokens=args.latency_per_1k,
    )
    with server:
        start = time.monotonic()
        results = await asyncio.gather(*(runner(server, chunks, args, seed) for seed in range(instances)))
        tokens = server.tokens_accepted_between(start, start + args.seconds)
        counters = server.counters()
    return Outcome(
        tokens=tokens,
        embedded_chunks=sum(r[0] for r in results),
        failed_chunks=sum(r[1] for r in results),
        throttled=counters["throttled"],
        requests=counters["requests"],
    )


def report(name: str, outcome: Outcome, args: argparse.Namespace) -> float:
    limit = args.tpm * args.seconds / 60
    utilization = outcome.tokens / limit
    print(
        f"{name:<14} {outcome.tokens / args.seconds * 60:>11,.0f} tokens/min of {args.tpm:,} "
        f"= {utilization:5.2f}   chunks ok {outcome.embedded_chunks:>5}  failed {outcome.failed_chunks:>4}  "
        f"requests {outcome.requests:>5}  429s {outcome.throttled:>4}"
    )
    return utilization


async def main(args: argparse.Namespace) -> None:
    chunks = make_chunks(600)
    mean = sum(map(get_tokenizer().count, chunks)) / len(chunks)
    print(
        f"quota {args.tpm:,} TPM over a sliding {args.window:g} s window; {args.seconds:g} s per phase; "
        f"latency {args.latency:g} s + {args.latency_per_1k:g} s/1k tokens; chunks ~{mean:.0f} tokens"
    )
    ours = await phase(run_ours, chunks, args)
    ours_util = report("ours", ours, args)
    batched = await phase(run_batched, chunks, args)
    batched_util = report("batched", batched, args)
    report("batched+hint", await phase(run_batched_hint, chunks, args), args)
    naive = await phase(run_naive, chunks, args)
    naive_util = report("naive", naive, args)
    if args.instances > 1:
        n = args.instances
        many = await phase(run_ours, chunks, args, instances=n)
        many_util = report(f"ours x{n}", many, args)
        naive_many = await phase(run_naive, chunks, args, instances=n)
        naive_many_util = report(f"naive x{n}", naive_many, args)
        print(
            f"ours_x{n}_utilization={many_util:.2f} ours_x{n}_failed={many.failed_chunks} "
            f"naive_x{n}_utilization={naive_many_util:.2f} naive_x{n}_failed={naive_many.failed_chunks}"
        )
    print(
        f"ours_utilization={ours_util:.2f} ours_failed={ours.failed_chunks} "
        f"batched_utilization={batched_util:.2f} batched_failed={batched.failed_chunks} "
        f"naive_utilization={naive_util:.2f} naive_failed={naive.failed_chunks} "
        f"batched_vs_naive={batched_util / max(naive_util, 1e-9):.2f}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured load per phase")
    parser.add_argument("--tpm", type=int, default=600_000, help="the fake deployment's tokens-per-minute quota")
    parser.add_argument("--window", type=float, default=10.0, help="the quota's sliding window in seconds")
    parser.add_argument("--latency", type=float, default=0.3, help="fake service time per request (s)")
    parser.add_argument("--latency-per-1k", type=float, default=0.06, help="fake service time per 1k tokens (s)")
    parser.add_argument("--documents", type=int, default=4, help="concurrent document embeds for ours")
    parser.add_argument("--batched-documents", type=int, default=64, help="concurrent documents for batched")
    parser.add_argument("--instances", type=int, default=2, help="also run N independent embedders (0/1: skip)")
    parser.add_argument("--no-hint", action="store_true", help="do not tell our embedder the TPM")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
