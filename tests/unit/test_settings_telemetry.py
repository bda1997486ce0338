"""Telemetry settings: read and checked in ingestion/settings.py like every other setting, secrets kept out."""

from __future__ import annotations

import pytest

from ingestion.errors import ConfigurationError
from ingestion.settings import Settings, inner_timeout, telemetry_settings

CONNECTION = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://x.in.example/"


def test_nothing_set_means_telemetry_off() -> None:
    settings = telemetry_settings({})
    assert not settings.enabled
    assert Settings.from_env({}).telemetry == settings


def test_either_destination_turns_it_on() -> None:
    assert telemetry_settings({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION}).enabled
    otlp = telemetry_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otlp.enabled and otlp.otlp_endpoint == "http://127.0.0.1:4318"


def test_the_connection_string_never_shows() -> None:
    settings = Settings.from_env({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION})
    assert settings.telemetry.applicationinsights_connection_string is not None
    assert "11111111" not in repr(settings) and "11111111" not in str(settings.telemetry)


def test_a_connection_string_without_a_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError, match="APPLICATIONINSIGHTS_CONNECTION_STRING") as error:
        telemetry_settings({"APPLICATIONINSIGHTS_CONNECTION_STRING": "IngestionEndpoint=https://secret-ish/"})
    assert "secret-ish" not in str(error.value)


@pytest.mark.parametrize("endpoint", ["collector:4318", "ftp://collector", "http://"])
def test_an_otlp_endpoint_must_be_an_http_url(endpoint: str) -> None:
    with pytest.raises(ConfigurationError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        telemetry_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})


def test_inner_timeouts_stay_below_the_function_timeout() -> None:
    assert inner_timeout(None, default=1800) == 1800
    assert inner_timeout(300, default=1800) == 240
    assert inner_timeout(3600, default=1800) == 1800
