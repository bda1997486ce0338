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


KEY = "InstrumentationKey=11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize(
    "name", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"]
)
def test_an_otlp_endpoint_in_plain_http_off_loopback_is_refused_naming_the_setting(name: str) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318", name: "http://collector.example:4318/x"}
    with pytest.raises(ConfigurationError, match=f"^{name} uses plain http to collector.example") as error:
        Settings.from_env(env)
    assert "/x" not in str(error.value)


@pytest.mark.parametrize("endpoint", ["https://collector.example:4318", "http://127.0.0.1:4318", "http://[::1]:4318"])
def test_an_otlp_endpoint_over_tls_or_to_loopback_is_accepted(endpoint: str) -> None:
    assert telemetry_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}).otlp_endpoint == endpoint


@pytest.mark.parametrize("field", ["IngestionEndpoint", "LiveEndpoint"])
def test_an_application_insights_endpoint_in_plain_http_off_loopback_is_refused_without_the_key(field: str) -> None:
    connection = f"{KEY};{field}=http://westeurope-5.in.applicationinsights.azure.com/"
    with pytest.raises(ConfigurationError, match=f"APPLICATIONINSIGHTS_CONNECTION_STRING \\({field.lower()}\\)") as e:
        Settings.from_env({"APPLICATIONINSIGHTS_CONNECTION_STRING": connection})
    assert "11111111" not in str(e.value) and "plain http" in str(e.value)


@pytest.mark.parametrize(
    "connection", [CONNECTION, f"{KEY};IngestionEndpoint=http://127.0.0.1:8123/", KEY]
)
def test_an_application_insights_connection_over_tls_or_to_loopback_is_accepted(connection: str) -> None:
    assert telemetry_settings({"APPLICATIONINSIGHTS_CONNECTION_STRING": connection}).enabled
