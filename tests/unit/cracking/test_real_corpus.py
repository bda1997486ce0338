"""Real documents from $CORPORA_DIR (skipped when absent; a failure under CI=true): each either cracks to text or
raises a BadInputError.

Files are picked deterministically (spread over the sorted listing) to keep the run short; the PDF manuals are big,
so only the smallest one is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.cracking.registry import LocalCracker
from ingestion.errors import BadInputError, EncryptedDocumentError
from ingestion.models import CrackedDocument
from tests.support.require import missing
from tests.unit.cracking.conftest import source_item

pytestmark = pytest.mark.corpus
# pypdf's own fixtures that need a non-empty password (other "password" files open with the empty one).
_USER_PASSWORD_PDFS = {"r2-user-password.pdf", "r4-aes-user-password.pdf", "libreoffice-writer-password.pdf"}


def _spread(files: list[Path], count: int) -> list[Path]:
    files = sorted(files)
    if len(files) <= count:
        return files
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def _files(folder: Path, pattern: str) -> list[Path]:
    if not folder.is_dir():
        missing(f"{folder} is not in the corpus")
    return [path for path in folder.rglob(pattern) if path.is_file()]


def _crack(path: Path) -> CrackedDocument | BadInputError:
    """The cracked document or the BadInputError; any other exception type fails the test."""
    data = path.read_bytes()
    outcome: CrackedDocument | BadInputError
    try:
        outcome = LocalCracker().crack(source_item(path.as_posix(), data), data)
    except BadInputError as error:
        outcome = error
    if isinstance(outcome, BadInputError):
        assert str(outcome).startswith(f"{path.as_posix()}: "), str(outcome)
        assert "\n" not in str(outcome)
        return outcome
    assert outcome.text.strip(), path
    assert outcome.title
    starts = [span.start for span in outcome.pages]
    assert starts == sorted(starts) and all(0 <= start < len(outcome.text) for start in starts), path
    return outcome


def test_django_html_pages_crack_to_structured_text(corpora_dir):
    pages = _spread(_files(corpora_dir / "html" / "django", "*.html"), 6)
    tutorial = corpora_dir / "html" / "django" / "intro" / "tutorial01.html"
    if tutorial.is_file():
        pages.append(tutorial)

    for path in pages:
        result = _crack(path)
        assert isinstance(result, CrackedDocument), f"{path}: {result}"
        assert result.content_type == "text/html"
        assert "¶" not in result.text, path  # Sphinx header links are chrome
    if tutorial.is_file():
        text = _crack(tutorial).text
        assert text.startswith("# Writing your first Django app, part 1")
        assert "```console\n$ python -m django --version\n```" in text
        assert "Quick search" not in text  # the sidebar is gone


def test_smallest_r_manual_pdf_cracks_with_page_spans(corpora_dir):
    manuals = sorted(_files(corpora_dir / "pdf" / "r-manuals", "*.pdf"), key=lambda path: path.stat().st_size)

    document = _crack(manuals[0])

    assert isinstance(document, CrackedDocument), document
    assert len(document.pages) > 10
    assert document.pages[0].number == 1


def test_real_xlsx_files(corpora_dir):
    for path in _spread(_files(corpora_dir / "office" / "xlsx", "*.xlsx"), 8):
        result = _crack(path)
        if isinstance(result, CrackedDocument):
            assert result.text.startswith("# Sheet: "), path
            assert "\n|---" in result.text, path


def test_real_docx_and_pptx_files(corpora_dir):
    folder = corpora_dir / "office" / "docx-pptx"
    files = _spread(_files(folder, "*.docx"), 6) + _spread(_files(folder, "*.pptx"), 6)

    results = [_crack(path) for path in files]

    assert any(isinstance(result, CrackedDocument) for result in results)


def test_hostile_pdfs_never_escape_as_foreign_exceptions(corpora_dir):
    files = _files(corpora_dir / "hostile" / "pdf", "*.pdf")
    smallest = sorted(files, key=lambda path: path.stat().st_size)[:10]
    encrypted = [path for path in sorted(files) if path.name in _USER_PASSWORD_PDFS]

    results = {path.name: _crack(path) for path in [*smallest, *encrypted]}

    assert encrypted
    for name in (path.name for path in encrypted):
        assert isinstance(results[name], EncryptedDocumentError), f"{name}: {results[name]!r}"
