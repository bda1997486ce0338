"""docs/security.md's table of numeric settings is what the code enforces: each bound is accepted, one step past it
is refused with the range in the message, and every numeric setting of settings.py is in the table."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.errors import ConfigurationError
from ingestion.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ROWS = re.findall(
    r"^\| `([A-Z_]+)` \| ([0-9.]+) \| ([0-9.]+) \|", (ROOT / "docs" / "security.md").read_text("utf-8"), re.M
)
# What another setting must be for a bound to be valid on its own.
CONTEXT = {"CHUNK_OVERLAP_TOKENS": {"CHUNK_MAX_TOKENS": "8191"}, "CHUNK_MAX_TOKENS": {"CHUNK_OVERLAP_TOKENS": "0"}}


def test_every_numeric_setting_is_documented() -> None:
    source = (ROOT / "ingestion" / "settings.py").read_text("utf-8")
    numeric = set(re.findall(r'read\.(?:optional_)?(?:integer|number)\(\s*"([A-Z_]+)"', source))
    assert numeric and numeric == {name for name, _, _ in ROWS}


@pytest.mark.parametrize(("name", "low", "high"), ROWS)
def test_documented_bounds_are_enforced(name: str, low: str, high: str) -> None:
    context = CONTEXT.get(name, {})
    for bound in (low, high):
        Settings.from_env({**context, name: bound})
    step = Decimal("0.001") if "." in low + high or name.endswith(("SECONDS", "MILLION", "WEIGHT")) else Decimal(1)
    for outside in (Decimal(low) - step, Decimal(high) + step):
        with pytest.raises(ConfigurationError, match=rf"^{name}=.* from {re.escape(low)} to {re.escape(high)}$"):
            Settings.from_env({**context, name: str(outside)})
