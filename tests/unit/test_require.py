"""A missing Azurite or corpus skips on a developer's machine and fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import corpora_dir
from tests.support import azurite as azurite_support
from tests.support.require import in_ci, missing


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("", False), ("0", False)],
)
def test_ci_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_missing_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no corpus"):
        missing("no corpus")


def test_missing_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"no corpus.*CI=true"):
        missing("no corpus")


def test_a_missing_corpus_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("CORPORA_DIR", str(tmp_path / "absent"))
    with pytest.raises(pytest.fail.Exception, match="corpus not found"):
        corpora_dir.__wrapped__()  # type: ignore[attr-defined]


def test_a_missing_azurite_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(azurite_support, "azurite_binary", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="Azurite not installed"):
        next(azurite_support.azurite.__wrapped__(tmp_path_factory=None))  # type: ignore[attr-defined]


def test_under_ci_any_skip_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.support.require import pytest_runtest_makereport  # noqa: F401\n")
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n\n"
        "def test_skipped():\n    pytest.skip('no such service here')\n\n"
        "@pytest.mark.skipif(True, reason='not on this machine')\ndef test_skipif():\n    pass\n\n"
        "@pytest.mark.xfail(reason='known')\ndef test_xfail():\n    assert False\n"
    )
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
               str(tmp_path)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(repo), "CI": "true", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    strict = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert strict.returncode == 1, strict.stdout
    assert "1 failed, 1 xfailed, 1 error" in strict.stdout, strict.stdout  # the skipif fails in its setup phase
    assert "no such service here" in strict.stdout and "not on this machine" in strict.stdout
