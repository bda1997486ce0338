"""-v logs the pipeline's progress, not every Azure SDK request; -vv asks for those too (ingestion/sdk_logging.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The CLI configures logging in main(); the SDK then logs as azure-core's HTTP logging policy does, and so does the app.
SCRIPT = """
import logging, sys
from ingestion.cli import main
code = main(sys.argv[1:])
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").info("SDK-REQUEST-LINE")
logging.getLogger("azure.storage.blob").warning("SDK-WARNING-LINE")
logging.getLogger("ingestion.pipeline").info("PROGRESS-LINE")
sys.exit(code)
"""


def run_cli(tmp_path: Path, *flags: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "DOCUMENTINTELLIGENCE_"))}
    env |= {"EMBEDDING_BACKEND": "hash", "LOCAL_INDEX_PATH": str(tmp_path / "index.sqlite")}
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The alpha service rotates its keys every ninety days.\n")
    argv = [sys.executable, "-c", SCRIPT, *flags, "ingest", str(docs)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("flags", "progress", "requests"), [((), False, False), (("-v",), True, False), (("-vv",), True, True)]
)
def test_verbose_logs_progress_and_only_asked_for_sdk_requests(
    tmp_path: Path, flags: tuple[str, ...], progress: bool, requests: bool
) -> None:
    err = run_cli(tmp_path, *flags)
    assert ("PROGRESS-LINE" in err) is progress
    assert ("SDK-REQUEST-LINE" in err) is requests
    assert ("SDK-WARNING-LINE" in err) is progress  # an SDK warning shows whenever the run logs at all
