"""Fixtures for the cracker tests: a cracker, a helper to crack bytes under a name, and the generated corpora."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion.cracking.registry import LocalCracker
from ingestion.models import CrackedDocument, SourceItem
from tests.support.bad_corpus import build_bad_corpus, build_good_corpus

CrackBytes = Callable[[str, bytes], CrackedDocument]


def source_item(path: str, data: bytes) -> SourceItem:
    return SourceItem(
        source_id=path,
        path=path,
        size=len(data),
        last_modified=datetime(2024, 1, 1, tzinfo=UTC),
        content_version="sha256:test",
    )


@pytest.fixture
def cracker() -> LocalCracker:
    return LocalCracker()


@pytest.fixture
def crack(cracker: LocalCracker) -> CrackBytes:
    """Crack ``data`` as if it were the file ``/docs/<name>``."""

    def run(name: str, data: bytes) -> CrackedDocument:
        return cracker.crack(source_item(f"/docs/{name}", data), data)

    return run


@pytest.fixture(scope="session")
def good_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("good")
    return root, build_good_corpus(root)


@pytest.fixture(scope="session")
def bad_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad")
    return root, build_bad_corpus(root)


@pytest.fixture
def crack_good(good_corpus: tuple[Path, list[str]], cracker: LocalCracker) -> Callable[[str], CrackedDocument]:
    """Crack one file of the generated good corpus by its relative name."""
    root, _ = good_corpus

    def run(name: str) -> CrackedDocument:
        path = root / name
        data = path.read_bytes()
        return cracker.crack(source_item(path.as_posix(), data), data)

    return run
