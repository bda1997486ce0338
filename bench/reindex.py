"""Full reindex through the Functions handlers, Azurite and queue fan-out, with 1, 2 and 4 in-process workers.

    python bench/reindex.py [--corpus DIR] [--limit 300] [--workers 1,2,4] [--processes]

Starts its own Azurite, uploads a few hundred real HTML documents (default: the SQLite documentation from
$CORPORA_DIR or .cache/corpora, see ../shared/corpora/fetch.sh), then for each worker count: a fresh SQLite index, run
store and queue; the timer handler starts a run; N workers pull messages and deliver them to the real queue handler
as the host would (base64-decoded, deleted on success); the clock stops when the run is recorded done. Prints
documents/s per worker count with the hash embedder, so the fan-out's scaling (and the cost of the table/queue round
trips per document) is visible. Workers share one process and event loop, like the concurrent invocations of one
Functions instance; CPU-bound cracking runs in threads, so one process tops out at about one core (the GIL).
``--processes`` also runs each worker count as that many worker *processes* (each like one Functions instance with
its own pipeline, sharing the SQLite index file): that is how the host scales out, bounded here by the machine's cores.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from azure.functions.timer import TimerRequest  # noqa: E402
from azure.storage.blob.aio import ContainerClient  # noqa: E402

from ingestion.functions import reindex  # noqa: E402
from ingestion.functions.services import build_services, close_services, set_services  # noqa: E402
from ingestion.settings import Settings  # noqa: E402
from tests.functions.host import FunctionsHost  # noqa: E402
from tests.support.azurite import Azurite, azurite_binary, start_azurite, stop_azurite  # noqa: E402


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


def round_env(azurite: Azurite, container: str, scratch: Path, label: str) -> dict[str, str]:
    suffix = secrets.token_hex(3)
    return {
        "DocumentStorage": azurite.connection_string,
        "SOURCE_CONTAINER": container,
        "REINDEX_QUEUE": f"reindex-{suffix}",
        "RUNS_TABLE": f"runs{suffix}",
        "EMBEDDING_BACKEND": "hash",
        "LOCAL_INDEX_PATH": str(scratch / f"index-{label}.sqlite"),
    }


async def work(env: dict[str, str], run_id: str, consumers: int) -> None:
    """``consumers`` concurrent queue consumers in this process, until the run is recorded finished."""
    services = await build_services(Settings.from_env(env))
    set_services(services)
    host = FunctionsHost(env["DocumentStorage"], container=env["SOURCE_CONTAINER"], queue=env["REINDEX_QUEUE"])
    store = services.reindexer.store

    async def consumer() -> None:
        while True:
            batch = await host.receive(4, visibility_timeout=300)
            for raw in batch:
                error = await host.deliver(raw, reindex.reindex_worker)
                if error is not None:
                    raise error
            if not batch:
                current = await store.get(run_id)
                if current is not None and current.status.terminal:
                    return
                await asyncio.sleep(0.05)

    try:
        await asyncio.gather(*(consumer() for _ in range(consumers)))
    finally:
        await host.close()
        await close_services()


def work_in_process(env: dict[str, str], run_id: str) -> None:
    asyncio.run(work(env, run_id, 1))


async def one_round(azurite: Azurite, container: str, workers: int, scratch: Path, *, processes: bool) -> tuple:
    env = round_env(azurite, container, scratch, f"{workers}-{processes}")
    services = await build_services(Settings.from_env(env))
    set_services(services)
    started = time.perf_counter()
    await reindex.reindex_timer(TimerRequest(past_due=False))
    [run] = await services.reindexer.store.recent(limit=1)
    await close_services()
    if processes:
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            await asyncio.gather(
                *(loop.run_in_executor(pool, work_in_process, env, run.run_id) for _ in range(workers))
            )
    else:
        await work(env, run.run_id, workers)
    seconds = time.perf_counter() - started
    services = await build_services(Settings.from_env(env))
    final = await services.reindexer.store.get(run.run_id)
    await services.close()
    assert final is not None and final.status.terminal
    return final.recorded, seconds, final.failed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpora = Path(os.environ.get("CORPORA_DIR", REPO / ".cache" / "corpora"))
    parser.add_argument("--corpus", type=Path, default=corpora / "html" / "sqlite")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--processes", action="store_true", help="also run N worker processes")
    args = parser.parse_args()
    files = sorted(path for path in args.corpus.rglob("*.html") if path.is_file())[: args.limit]
    if not files:
        raise SystemExit(f"no HTML documents under {args.corpus}: run ../shared/corpora/fetch.sh {corpora}")
    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as tmp:
        scratch = Path(tmp)
        (scratch / "azurite").mkdir()
        process, azurite = launch_azurite(scratch / "azurite")
        try:
            size = await upload_corpus(azurite.connection_string, "corpus", files, args.corpus)
            print(f"{len(files)} documents, {size / 1e6:.1f} MB from {args.corpus}; hash embedder, local SQLite index")
            print(
                f"{'mode':>9} {'workers':>7} {'documents':>9} {'failed':>6} {'seconds':>8} {'docs/s':>7} {'speedup':>7}"
            )
            for processes in (False, True) if args.processes else (False,):
                base = None
                for workers in (int(part) for part in args.workers.split(",")):
                    documents, seconds, failed = await one_round(
                        azurite, "corpus", workers, scratch, processes=processes
                    )
                    rate = documents / seconds
                    base = base or rate
                    mode = "processes" if processes else "tasks"
                    print(
                        f"{mode:>9} {workers:>7} {documents:>9} {failed:>6} {seconds:>8.2f} {rate:>7.1f} "
                        f"{rate / base:>6.2f}x"
                    )
        finally:
            stop_azurite(process)  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.run(main())
