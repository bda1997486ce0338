"""Bounded cost per document: cracking in killable worker processes, DOCUMENT_TIMEOUT_SECONDS, Ctrl-C mid-crack.

The pathological input is generated (``tests/support/pathological.slow_pdf``): a few KB of PDF whose 200,000 text
operators keep pypdf busy for tens of seconds, far longer than any wait below.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion import wiring
from ingestion.cracking.registry import LocalCracker
from ingestion.cracking.worker import ProcessCracker
from ingestion.errors import NoTextError
from ingestion.models import SourceItem
from ingestion.settings import Settings
from tests.support.pathological import slow_pdf

REPO = Path(__file__).resolve().parents[2]


def item(path: str, data: bytes) -> SourceItem:
    return SourceItem(path, path, len(data), datetime.now(UTC), "sha256:x")


async def test_worker_processes_crack_report_errors_and_are_reused() -> None:
    cracker = ProcessCracker(LocalCracker(), workers=2)
    try:
        text = b"# Title\n\nSome words about foxes."
        document = await cracker.crack(item("/docs/a.md", text), text)
        assert "foxes" in document.text
        with pytest.raises(NoTextError, match=r"/docs/empty\.txt: empty file"):
            await cracker.crack(item("/docs/empty.txt", b""), b"")
        again = await cracker.crack(item("/docs/b.md", text), text)
        assert again.text == document.text
        assert cracker.killed == 0 and len(cracker._idle) == 1  # one worker served all three, in turn
    finally:
        await cracker.close()


async def test_a_document_over_its_time_limit_fails_and_its_worker_is_killed(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "slow.pdf").write_bytes(slow_pdf(200_000))
    (root / "fine.md").write_text("# Fine\n\nA small document that cracks at once.\n")
    settings = Settings(
        embedding_backend="hash", local_index_path=tmp_path / "index.sqlite", document_timeout_seconds=2
    )
    pipeline = wiring.build_pipeline(settings)
    cracker = pipeline.cracker
    assert isinstance(cracker, ProcessCracker)
    try:
        await pipeline.index.ensure()
        result = await pipeline.run(wiring.build_folder_source(root))
    finally:
        await pipeline.close()
    assert (result.added, result.failed) == (1, 1)
    slow = str(root / "slow.pdf")
    assert result.failures == [
        {"source": slow, "error": f"{slow}: took longer than DOCUMENT_TIMEOUT_SECONDS=2 s; stopped"}
    ]
    assert cracker.killed == 1


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far (0 if it is gone)."""
    try:
        fields = (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def running(pid: int) -> bool:
    """Whether ``pid`` still exists and is not a zombie."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to see the worker processes")
def test_ctrl_c_while_a_pdf_is_being_cracked_exits_at_once(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "slow.pdf").write_bytes(slow_pdf(200_000))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "DOCUMENTINTELLIGENCE_"))}
    env |= {"EMBEDDING_BACKEND": "hash", "INDEX_BACKEND": "local", "LOCAL_INDEX_PATH": str(tmp_path / "i.sqlite")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ingestion", "ingest", str(root), "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A run started in the background (``cmd &`` in a script, nohup) inherits SIGINT ignored, and Python then
        # leaves it ignored: give the child the terminal's default so the test measures what a user's Ctrl-C does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        # Cracking is under way once a worker process has spent a second of CPU on the PDF (the fork server and the
        # resource tracker exist before any document reaches a worker, so a count of processes is not enough).
        while max((cpu_seconds(pid) for pid in descendants(process.pid)), default=0.0) < 1.0:
            assert process.poll() is None and time.monotonic() < deadline, "cracking never started"
            time.sleep(0.1)
        workers = descendants(process.pid)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        # The crack alone goes on for about a minute: the run must not wait for it. The bound is generous because
        # this machine is shared (the 1-2 s figure is measured by hand, not asserted).
        code = process.wait(timeout=30)
        assert code == 130, f"exit {code}: {process.stdout.read()!r} {process.stderr.read()!r}"  # type: ignore[union-attr]
        deadline = time.monotonic() + 5  # the fork server notices its parent is gone, the killed worker is reaped
        while alive := {pid for pid in workers if running(pid)}:
            assert time.monotonic() < deadline, f"worker process(es) {alive} outlived the run"
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
