"""The local folder source: the shared Source contract on a fresh folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestion.sources.local import LocalFolderSource
from tests.contract.source_contract import SourceContract


@dataclass
class FolderHarness:
    root: Path
    source: LocalFolderSource

    async def put(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    async def remove(self, name: str) -> None:
        (self.root / name).unlink()

    def path(self, name: str) -> str:
        return f"{self.root.resolve().as_posix()}/{name}"


class TestLocalFolderSourceContract(SourceContract):
    @pytest.fixture
    async def harness(self, tmp_path: Path) -> AsyncIterator[FolderHarness]:
        root = tmp_path / "docs"
        root.mkdir()
        source = LocalFolderSource(root)
        yield FolderHarness(root, source)
        await source.close()
