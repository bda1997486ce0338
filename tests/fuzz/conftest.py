"""Hypothesis profiles for the property and fuzz tests in this folder (issue 15).

``HYPOTHESIS_PROFILE`` picks one; without it ``ci`` is used when ``CI=true`` and ``dev`` otherwise.

- ``ci``: few examples (``make test`` spends seconds here), no deadline (the CI machine is shared), and the saved
  examples in ``tests/fuzz/corpus/`` replayed first, read-only. The inputs are random: a new finding in CI is a real
  bug, and its seed is printed (``print_blob``) to reproduce it.
- ``dev``: a few more random examples each run, also replaying the corpus read-only.
- ``fuzz`` (``make fuzz``): ``FUZZ_EXAMPLES`` examples per target (default 3,000: a few minutes for the slow
  targets), a 10 s per-input deadline (the "bounded time per input" invariant), and new failing or interesting
  examples written to ``tests/fuzz/corpus/`` so that they are kept in the repository and replayed by every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

CORPUS = Path(__file__).resolve().parent / "corpus"
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    database=ReadOnlyDatabase(DirectoryBasedExampleDatabase(CORPUS)),
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    database=ReadOnlyDatabase(DirectoryBasedExampleDatabase(CORPUS)),
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")),
    deadline=10_000,
    database=DirectoryBasedExampleDatabase(CORPUS),
    suppress_health_check=_SLOW_IS_FINE,
    print_blob=True,
)
_default = "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
