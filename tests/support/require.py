"""What a test does when something it needs outside the repository (Azurite, the real-document corpus) is missing.

On a developer's machine it is skipped with the reason. Under ``CI=true`` (what CI sets) it fails instead: CI installs
every dependency, so a missing one is a broken install, and a suite that skips its way to green proves nothing.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when the ``CI`` environment variable says so (``true``/``1``/``yes``, any case)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(reason: str) -> NoReturn:
    """Skip the test for ``reason``; under CI=true fail it instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing test dependency is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
