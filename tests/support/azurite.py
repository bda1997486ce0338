"""A real Azurite storage emulator for the test session, on free ports of 127.0.0.1.

Use it from a conftest.py with ``from tests.support.azurite import azurite  # noqa: F401``. The binary is
``$AZURITE_BIN``, else ``.tools/node_modules/.bin/azurite`` (``make test`` installs it); without either, tests that
ask for the fixture are skipped with a message saying so, and fail under ``CI=true`` (tests/support/require.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.require import missing

ACCOUNT_NAME = "devstoreaccount1"
# The well-known development storage key, published in Microsoft's Azurite documentation: not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_BIN = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / ".bin" / "azurite"
START_TIMEOUT = 30.0
START_ATTEMPTS = 3


@dataclass(frozen=True)
class Azurite:
    blob_port: int
    queue_port: int
    table_port: int
    location: Path
    account_name: str = ACCOUNT_NAME
    account_key: str = ACCOUNT_KEY

    @property
    def blob_url(self) -> str:
        return f"http://127.0.0.1:{self.blob_port}/{self.account_name}"

    @property
    def queue_url(self) -> str:
        return f"http://127.0.0.1:{self.queue_port}/{self.account_name}"

    @property
    def table_url(self) -> str:
        return f"http://127.0.0.1:{self.table_port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};AccountKey={self.account_key};"
            f"BlobEndpoint={self.blob_url};QueueEndpoint={self.queue_url};TableEndpoint={self.table_url};"
        )


def azurite_binary() -> Path | None:
    configured = os.environ.get("AZURITE_BIN")
    for candidate in (configured, str(DEFAULT_BIN)):
        if candidate and (found := shutil.which(candidate)):
            return Path(found)
    return None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _launch(binary: Path, location: Path) -> tuple[subprocess.Popen[bytes], Azurite] | None:
    """Start Azurite on fresh ports; None when it exited early (most likely a port taken in the meantime)."""
    blob, queue, table = _free_ports(3)
    server = Azurite(blob_port=blob, queue_port=queue, table_port=table, location=location)
    args = [str(binary), "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--location", str(location)]
    for service, port in (("blob", blob), ("queue", queue), ("table", table)):
        args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
    with open(location / "azurite.log", "ab") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        if all(_accepts(port) for port in (blob, queue, table)):
            return process, server
        time.sleep(0.1)
    _stop(process)
    raise RuntimeError(f"Azurite did not accept connections within {START_TIMEOUT:.0f} s; see {location}/azurite.log")


def start_azurite(binary: Path, location: Path) -> tuple[subprocess.Popen[bytes], Azurite]:
    """Start Azurite (retrying on a port race); the caller stops it with ``stop_azurite``."""
    for _ in range(START_ATTEMPTS):
        started = _launch(binary, location)
        if started is not None:
            return started
    log = (location / "azurite.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"Azurite exited at start {START_ATTEMPTS} times; last output:\n{log}")


stop_azurite = _stop


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A running Azurite (blob, queue and table on 127.0.0.1), stopped at the end of the session."""
    binary = azurite_binary()
    if binary is None:
        missing(f"Azurite not installed: set AZURITE_BIN or run `make test` (looked for {DEFAULT_BIN})")
    process, server = start_azurite(binary, tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        stop_azurite(process)
