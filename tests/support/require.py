"""What a test does when something it needs outside the repository (Azurite, the real-document corpus) is missing.

On a developer's machine it is skipped with the reason. Under ``CI=true`` (what CI sets) it fails instead: CI installs
every dependency, so a missing one is a broken install, and a suite that skips its way to green proves nothing.
``pytest_runtest_makereport`` (imported by tests/conftest.py) extends that to every skip, whatever its cause.
"""

from __future__ import annotations

import os
from collections.abc import Generator
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    """Under ``CI=true`` a skipped test is a failed one, whatever skipped it (a missing dependency, a ``skipif``): CI
    installs everything, so a skip there means a test that proved nothing. xfail is left alone."""
    report = yield
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):  # type: ignore[attr-defined]
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)  # type: ignore[attr-defined]
        report.outcome = "failed"  # type: ignore[attr-defined]
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"  # type: ignore[attr-defined]
    return report
