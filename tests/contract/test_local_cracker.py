"""The local registry cracker: the shared Cracker contract."""

from __future__ import annotations

import pytest

from ingestion.cracking.registry import LocalCracker
from tests.contract.cracker_contract import CrackerContract


class TestLocalCrackerContract(CrackerContract):
    @pytest.fixture
    def cracker(self) -> LocalCracker:
        return LocalCracker()
