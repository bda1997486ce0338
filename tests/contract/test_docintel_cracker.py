"""The Document Intelligence cracker on the fake service (which checks and analyses the content itself, see
tests/fakes/docintel_content.py): the shared Cracker contract. Formats the service does not take go to the local
cracker, its fallback, as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ingestion.cracking.docintel import DocumentIntelligenceCracker
from ingestion.cracking.registry import LocalCracker
from tests.contract.cracker_contract import THREE_PAGES, CrackerContract, crack
from tests.fakes.docintel_server import FakeDocumentIntelligenceServer


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDocumentIntelligenceServer]:
    with FakeDocumentIntelligenceServer(polls_before_done=1) as fake:
        yield fake


class TestDocumentIntelligenceCrackerContract(CrackerContract):
    @pytest.fixture
    async def cracker(self, server: FakeDocumentIntelligenceServer) -> AsyncIterator[DocumentIntelligenceCracker]:
        instance = DocumentIntelligenceCracker(
            server.url, fallback=LocalCracker(), api_key=server.api_key, polling_interval=0.01
        )
        yield instance
        await instance.close()


async def test_paged_formats_really_went_to_the_service(server: FakeDocumentIntelligenceServer) -> None:
    cracker = DocumentIntelligenceCracker(
        server.url, fallback=LocalCracker(), api_key=server.api_key, polling_interval=0.01
    )
    before = server.counters()["accepted"]
    try:
        await crack(cracker, "three.pdf", THREE_PAGES)
    finally:
        await cracker.close()
    assert server.counters()["accepted"] == before + 1
