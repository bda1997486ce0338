"""The one parser of numeric settings: ASCII digits only, finite, inside a documented range.

Every numeric setting goes through ``parse_integer`` / ``parse_number`` (``setting_values.Reader.integer`` and
friends call them; a new setting should too, with its own ``minimum`` and ``maximum``). What they refuse, each with a
one-line ``ConfigurationError`` that names the setting and states the allowed range:

- anything but ASCII: ``int()`` and ``float()`` accept other scripts' digits (``٣``, ``３``), superscripts are refused
  with an unhelpful message, and ``_`` separators (``1_0``) are Python syntax, not a number a person writes;
- non-finite values (``inf``, ``nan``) and values outside ``[minimum, maximum]``;
- more than ``MAX_DIGITS`` characters, before any conversion: a 400-digit value never reaches ``int()`` (whose
  ``sys.set_int_max_str_digits`` limit would otherwise leak into the message) or a later overflow.

The shown value is cut to ``MAX_SHOWN`` characters, so that a hostile value cannot flood a log line.
"""

from __future__ import annotations

import math
import re

from ingestion.errors import ConfigurationError

MAX_DIGITS = 40
MAX_SHOWN = 40
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def parse_integer(name: str, raw: str, *, minimum: int, maximum: int) -> int:
    """``raw`` (already stripped) as a whole number in ``[minimum, maximum]``; ConfigurationError naming ``name``."""
    if len(raw) > MAX_DIGITS or not _INTEGER.fullmatch(raw):
        raise _refused(name, raw, "a whole number", minimum, maximum)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise _refused(name, raw, "a whole number", minimum, maximum)
    return value


def parse_number(name: str, raw: str, *, minimum: float, maximum: float) -> float:
    """``raw`` (already stripped) as a finite decimal number in ``[minimum, maximum]``."""
    if len(raw) > MAX_DIGITS or not _DECIMAL.fullmatch(raw):
        raise _refused(name, raw, "a number", minimum, maximum)
    value = float(raw)
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise _refused(name, raw, "a number", minimum, maximum)
    return value


def shown(value: str) -> str:
    """``value`` as it may appear in a message: repr'd (one line, escapes visible) and cut to MAX_SHOWN characters."""
    return repr(value) if len(value) <= MAX_SHOWN else repr(value[:MAX_SHOWN]) + f"... ({len(value)} characters)"


def _refused(name: str, raw: str, what: str, minimum: float, maximum: float) -> ConfigurationError:
    return ConfigurationError(f"{name}={shown(raw)} is not {what} from {_plain(minimum)} to {_plain(maximum)}")


def _plain(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)
