"""What only shows under the real Functions host, checked here: inner timeouts below ``functionTimeout``, quiet Azure
SDK loggers, no silent fallback without the SDK-binding extension, and a deployment package without local clutter."""

from __future__ import annotations

import fnmatch
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.cracking.docintel import DocumentIntelligenceCracker
from ingestion.cracking.registry import LocalCracker
from ingestion.errors import ConfigurationError
from ingestion.functions.invocation import HOST_JSON, QUIET_LOGGERS
from ingestion.settings import DOCUMENTINTELLIGENCE_TIMEOUT_SECONDS, Settings, function_timeout
from tests.functions.host import fresh_app

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("function_app.py", "host.json", "requirements.txt", ".funcignore")
RUNTIME_DIRS = ("ingestion/", "index_schemas/")


def host_json(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "host.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("value", "seconds"),
    [('"00:05:00"', 300.0), ('"00:30:00"', 1800.0), ('"1.00:00:00"', 86400.0), ('"-1"', None), ("-1", None)],
)
def test_function_timeout_is_read_from_host_json(tmp_path: Path, value: str, seconds: float | None) -> None:
    assert function_timeout(host_json(tmp_path, f'{{"version": "2.0", "functionTimeout": {value}}}')) == seconds


def test_a_missing_function_timeout_is_the_smallest_plan_default(tmp_path: Path) -> None:
    assert function_timeout(host_json(tmp_path, '{"version": "2.0"}')) == 300.0


@pytest.mark.parametrize("value", ['"30 minutes"', '"00:00:00"', '"00:61"'])
def test_a_malformed_function_timeout_is_a_configuration_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="functionTimeout"):
        function_timeout(host_json(tmp_path, f'{{"functionTimeout": {value}}}'))


@pytest.mark.parametrize(("value", "expected"), [('"00:05:00"', 240.0), ('"00:30:00"', 1440.0), ('"-1"', 1800.0)])
def test_document_intelligence_times_out_below_the_function_timeout(
    tmp_path: Path, value: str, expected: float
) -> None:
    path = host_json(tmp_path, f'{{"functionTimeout": {value}}}')
    settings = Settings.from_env({"DOCUMENTINTELLIGENCE_ENDPOINT": "https://di.example"}, host_json=path)
    cracker = DocumentIntelligenceCracker.from_settings(settings, fallback=LocalCracker())
    assert cracker.operation_timeout == expected
    if settings.function_timeout_seconds is not None:
        assert cracker.operation_timeout < settings.function_timeout_seconds


def test_outside_the_host_the_analysis_keeps_its_own_bound() -> None:
    settings = Settings.from_env({"DOCUMENTINTELLIGENCE_ENDPOINT": "https://di.example"})
    assert settings.function_timeout_seconds is None
    cracker = DocumentIntelligenceCracker.from_settings(settings, fallback=LocalCracker())
    assert cracker.operation_timeout == DOCUMENTINTELLIGENCE_TIMEOUT_SECONDS


def test_the_app_reads_the_host_json_it_ships_with() -> None:
    assert HOST_JSON == ROOT / "host.json"
    assert function_timeout(HOST_JSON) == 1800.0


def test_indexing_the_app_sets_the_azure_sdk_loggers_to_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in QUIET_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    fresh_app()
    assert logging.getLogger("azure").getEffectiveLevel() == logging.WARNING
    http_logger = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    assert not http_logger.isEnabledFor(logging.INFO)


def test_without_the_sdk_binding_extension_the_app_refuses_to_load() -> None:
    code = "import sys; sys.modules['azurefunctions.extensions.bindings.blob'] = None; import function_app"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ImportError" in done.stderr and "azurefunctions-extensions-bindings-blob" in done.stderr


def funcignore_patterns() -> list[str]:
    lines = (ROOT / ".funcignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """gitignore matching as .funcignore uses it: ``/x`` at the root, ``dir/`` anywhere, globs on any part."""
    parts = path.split("/")
    for pattern in patterns:
        if pattern.startswith("/"):  # anchored at the root
            if fnmatch.fnmatch(path, pattern[1:]):
                return True
        elif pattern.endswith("/"):
            if pattern.rstrip("/") in parts[:-1]:
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts) or fnmatch.fnmatch(path, pattern):
            return True
    return False


def test_funcignore_keeps_exactly_the_runtime_files_in_the_package() -> None:
    patterns = funcignore_patterns()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    for path in tracked:
        runtime = path in RUNTIME or path.startswith(RUNTIME_DIRS)
        assert ignored(path, patterns) is not runtime, path
    for local in (".venv/lib/x.py", ".tools/node_modules/a.js", ".cache/corpora/a.pdf", ".ingestion/index.sqlite"):
        assert ignored(local, patterns), local
    assert ignored("local.settings.json", patterns)
    assert ignored("ingestion/__pycache__/cli.cpython-311.pyc", patterns)
