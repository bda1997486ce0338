"""Settings parsing: every setting, arbitrary strings. Either a valid Settings or one ConfigurationError line naming
the setting; numbers are ASCII, finite and inside the range their error states."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hypothesis import assume, example, given
from hypothesis import strategies as st

from ingestion.errors import ConfigurationError
from ingestion.setting_numbers import MAX_SHOWN, parse_integer, parse_number
from ingestion.settings import Settings

SOURCE = (Path(__file__).resolve().parents[2] / "ingestion" / "settings.py").read_text(encoding="utf-8")
# Every environment variable settings.py reads: new settings are picked up without editing this test.
NAMES = sorted(set(re.findall(r'read\.\w+\(\s*f?"([A-Za-z_][A-Za-z0-9_]*)"', SOURCE)) - {"STORAGE_CONNECTION"})
NUMERIC = sorted(
    set(re.findall(r'read\.(?:optional_)?(?:integer|number)\(\s*"([A-Z_]+)"', SOURCE))
)
T = TypeVar("T")
SECRETS = ("AZURE_OPENAI_API_KEY", "AZURE_SEARCH_API_KEY", "DOCUMENTINTELLIGENCE_API_KEY")

# Strings that look like numbers in some way, plus anything at all.
numberish = st.one_of(
    st.from_regex(r"\A[+-]?[0-9_]{0,12}(\.[0-9_]{0,6})?([eE][+-]?[0-9]{1,4})?\Z"),
    st.sampled_from(["inf", "-inf", "nan", "1e309", "9" * 400, "٣", "３", "²", "1_0", "0x10", " 7 ", "", "-0", "+5"]),
    st.text(max_size=30),
)


def test_the_setting_list_is_complete() -> None:
    assert len(NAMES) >= 30 and "MAX_DOCUMENT_BYTES" in NAMES and "RRF_K" in NUMERIC


def attempt(build: Callable[[], T]) -> tuple[T | None, ConfigurationError | None]:
    """``(result, None)`` or ``(None, the ConfigurationError)``: any other exception fails the test."""
    try:
        return build(), None
    except ConfigurationError as error:
        return None, error


def _check_one_line(error: ConfigurationError, name: str) -> None:
    message = str(error)
    assert "\n" not in message and name in message
    assert "Traceback" not in message and "int_max_str_digits" not in message and "invalid literal" not in message
    assert len(message) < 400


@given(name=st.sampled_from(NUMERIC), raw=numberish)
@example(name="MAX_DOCUMENT_BYTES", raw="9223372036854775807")
@example(name="RRF_K", raw="9" * 400)
@example(name="DOCUMENTINTELLIGENCE_POLLING_SECONDS", raw="1e300")
@example(name="CHUNK_MAX_TOKENS", raw="٣٠٠")
@example(name="MAX_CONCURRENCY", raw="1_0")
def test_numeric_settings_are_ascii_finite_and_in_their_stated_range(name: str, raw: str) -> None:
    settings, error = attempt(lambda: Settings.from_env({name: raw}))
    if error is not None:
        _check_one_line(error, name)
        return
    assert settings is not None
    stripped = raw.strip()
    if stripped:  # a value was read: it was plain ASCII decimal
        assert stripped.isascii() and "_" not in stripped
        assert re.fullmatch(r"[+-]?[0-9.eE+-]+", stripped)
    for value in vars(settings).values():
        if isinstance(value, float):
            assert value == value and value not in (float("inf"), float("-inf"))


@given(name=st.sampled_from(NUMERIC), raw=numberish)
def test_a_refused_number_states_the_range_it_accepts(name: str, raw: str) -> None:
    stripped = raw.strip()
    assume(stripped)
    _, error = attempt(lambda: Settings.from_env({name: raw}))
    if error is not None:
        message = str(error)
        if message.startswith(f"{name}="):  # refused by the number parser, not a cross-field rule
            assert re.search(r" from -?[0-9.]+ to -?[0-9.]+$", message), message


@given(minimum=st.integers(-(10**6), 10**6), span=st.integers(0, 10**9), offset=st.integers(-5, 10**9 + 5))
def test_parse_integer_round_trips_and_respects_its_bounds(minimum: int, span: int, offset: int) -> None:
    maximum, value = minimum + span, minimum + offset
    parsed, error = attempt(lambda: parse_integer("X", str(value), minimum=minimum, maximum=maximum))
    if error is not None:
        assert not minimum <= value <= maximum
        assert f"from {minimum} to {maximum}" in str(error)
    else:
        assert parsed == value and minimum <= parsed <= maximum


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_parse_number_accepts_only_finite_values_in_range(value: float) -> None:
    parsed, error = attempt(lambda: parse_number("X", repr(value), minimum=-1e6, maximum=1e6))
    if error is not None:
        assert not -1e6 <= value <= 1e6 or len(repr(value)) > 40
        assert len(str(error)) < 40 + MAX_SHOWN + 60
    else:
        assert parsed == value


@given(name=st.sampled_from(NAMES), raw=st.text(max_size=60))
def test_any_string_in_any_setting_is_a_setting_or_one_configuration_error(name: str, raw: str) -> None:
    _, error = attempt(lambda: Settings.from_env({name: raw}))
    if error is not None:
        message = str(error)
        assert "\n" not in message and len(message) < 600
        if name in SECRETS:
            assert raw.strip() == "" or raw.strip() not in message or len(raw.strip()) < 4


@given(
    env=st.dictionaries(st.sampled_from(NAMES), st.text(max_size=20), max_size=6),
    secrets=st.dictionaries(st.sampled_from(SECRETS), st.from_regex(r"\AK[A-Za-z0-9]{11,30}\Z"), max_size=3),
)
def test_several_settings_at_once_never_show_a_secret(env: dict[str, str], secrets: dict[str, str]) -> None:
    settings, error = attempt(lambda: Settings.from_env({**env, **secrets}))
    shown = str(error) if error is not None else repr(settings)
    assert "\n" not in shown
    for secret in secrets.values():
        assert secret not in shown
