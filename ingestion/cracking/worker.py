"""Local cracking in worker processes that can be killed: a bounded cost per document, and Ctrl-C that returns.

A pathological file (a 46 KB PDF with 200,000 text operators keeps pypdf busy for about a minute) cannot be stopped
in a thread: Python cannot interrupt it, a run waits for it, and interpreter shutdown waits for the thread. Here the
parsers run in up to ``workers`` processes (``forkserver``: started once with the parsers imported, each worker forked
from it in milliseconds; ``spawn`` where fork is unavailable). ``ProcessCracker.crack`` sends the bytes to an idle
worker and awaits its answer; when the awaiting task is cancelled — the pipeline's DOCUMENT_TIMEOUT_SECONDS, a run
stopping, Ctrl-C — the worker is killed at once and a fresh one takes its place on the next call. Several processes
also crack on several cores, which one process with the GIL cannot.

Workers ignore SIGINT (the terminal sends it to the whole process group): the parent decides, and kills them. They
are daemons, so they never outlive the parent. Errors raised by the parser (``ingestion.errors``) come back as they
are; a worker that dies on its own (out of memory, a crash in a C extension) fails that document with
CorruptDocumentError and is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Protocol

from ingestion.errors import CorruptDocumentError
from ingestion.models import CrackedDocument, SourceItem

log = logging.getLogger(__name__)

_PRELOAD = ["ingestion.cracking.registry"]


class SyncCracker(Protocol):
    def crack(self, item: SourceItem, data: bytes) -> CrackedDocument: ...


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)  # type: ignore[attr-defined]
        return context
    return multiprocessing.get_context("spawn")


def _serve(conn: Connection, cracker: SyncCracker) -> None:
    """A worker's life: crack what arrives until told to stop (None) or killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        item, data = request
        try:
            answer: tuple[str, Any] = ("ok", cracker.crack(item, data))
        except Exception as error:  # crack maps its own errors; anything else is reported, not fatal to the worker
            answer = ("error", error)
        del data
        try:
            conn.send(answer)
        except Exception as error:  # e.g. an exception that does not pickle
            conn.send(("error", CorruptDocumentError(f"{item.path}: unreadable ({type(error).__name__})")))


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext, cracker: SyncCracker) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, cracker), daemon=True, name="crack-worker")
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.process.join(timeout=1.0)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        self.process.join(timeout=0.5)
        self.kill()


class ProcessCracker:
    """The ``cracker`` (picklable, synchronous) run in up to ``workers`` killable processes."""

    def __init__(self, cracker: SyncCracker, *, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.cracker = cracker
        self.workers = workers
        self._context = _context()
        self._idle: list[_Worker] = []
        self._busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crack-wait")
        self.killed = 0
        """Workers killed so far (timeouts, cancellations, crashes)."""

    def warm(self) -> None:
        """Start the fork server (it imports the parsers: about 0.5 s) on a background thread, so that the first
        crack does not wait for it while the caller goes on building the rest (importing the SDKs)."""
        if self._context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            threading.Thread(target=forkserver.ensure_running, name="crack-forkserver", daemon=True).start()

    def supported_extensions(self) -> frozenset[str]:
        return self.cracker.supported_extensions()  # type: ignore[attr-defined,no-any-return]

    async def crack(self, item: SourceItem, data: bytes) -> CrackedDocument:
        await self._slot()
        worker: _Worker | None = None
        try:
            worker = self._idle.pop() if self._idle else await asyncio.to_thread(self._start)
            status, value = await self._ask(worker, item, data)
        except BaseException:
            if worker is not None:  # cancelled mid-crack (timeout, Ctrl-C) or broken: kill it, never reuse it
                worker.kill()
                self.killed += 1
            self._free(None)
            raise
        self._free(worker)
        if status == "ok":
            return value  # type: ignore[no-any-return]
        raise value

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for worker in idle:
            await asyncio.to_thread(worker.stop)
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> _Worker:
        return _Worker(self._context, self.cracker)

    async def _ask(self, worker: _Worker, item: SourceItem, data: bytes) -> tuple[str, Any]:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._threads, worker.conn.send, (item, data))
            answer: tuple[str, Any] = await loop.run_in_executor(self._threads, worker.conn.recv)
        except (EOFError, OSError, BrokenPipeError):
            code = worker.process.exitcode
            raise CorruptDocumentError(
                f"{item.path}: the parser's worker process died (exit code {code}); the file may be malformed"
            ) from None
        return answer

    async def _slot(self) -> None:
        if not self._waiters and self._busy < self.workers:
            self._busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._free(None)
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def _free(self, worker: _Worker | None) -> None:
        if worker is not None:
            self._idle.append(worker)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight on
                return
        self._busy -= 1
