"""Structure per format: headings as '#', pipe tables with a separator, page spans at the right offsets, titles."""

from __future__ import annotations

import io
from datetime import date, datetime

import docx
import openpyxl
import pptx
import pytest

from ingestion.cracking.registry import LocalCracker
from ingestion.cracking.structure import TableLimits
from ingestion.cracking.xlsx import cell_text
from ingestion.errors import NoTextError
from tests.support.bad_corpus import text_pdf
from tests.unit.cracking.conftest import source_item

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _page_starts(document) -> dict[int, str]:
    return {span.number: document.text[span.start : span.start + 60] for span in document.pages}


def test_docx_headings_lists_and_table_in_document_order(crack_good):
    document = crack_good("report.docx")

    assert document.title == "Quarterly Report"
    assert document.content_type == DOCX
    assert document.pages == ()
    assert document.text == (
        "# Quarterly Report\n\n"
        "This report summarises the quarter.\n\n"
        "# Summary\n\n"
        "Sales rose in every region.\n\n"
        "- North grew fastest.\n\n"
        "- South was flat.\n\n"
        "## Figures\n\n"
        "| Region | Q1 | Q2 |\n|---|---|---|\n| North | 10 | 12 |\n| South | 7 | 7 |\n\n"
        "End of report."
    )


def test_docx_without_core_title_uses_file_name_and_deep_headings_cap_at_six(crack):
    document = docx.Document()
    document.add_heading("Deep", level=9)
    document.add_paragraph("Body text.")
    out = io.BytesIO()
    document.save(out)

    cracked = crack("deep notes.docx", out.getvalue())

    assert cracked.title == "deep notes.docx"
    assert cracked.text == "###### Deep\n\nBody text."


def test_docx_without_text_is_no_text_error(crack):
    out = io.BytesIO()
    docx.Document().save(out)
    with pytest.raises(NoTextError, match=r"^/docs/blank\.docx: no text in document$"):
        crack("blank.docx", out.getvalue())


def test_pptx_slides_become_headings_and_page_spans(crack_good):
    document = crack_good("slides.pptx")

    assert document.title == "Welcome deck"
    assert [span.number for span in document.pages] == [1, 2]
    assert _page_starts(document)[1].startswith("## Slide 1: Welcome deck")
    assert _page_starts(document)[2].startswith("## Slide 2: Roadmap")
    second = document.text[document.pages[1].start :]
    assert "Ship version 2\nHire two engineers" in second
    assert "| Quarter | Goal |\n|---|---|\n| Q3 | Beta |" in second
    assert "Notes: Speaker notes about the roadmap." in second
    assert document.page_at(document.text.index("Introduction for new staff")) == 1
    assert document.page_at(document.text.index("Beta")) == 2


def test_pptx_slide_without_title_still_gets_a_numbered_heading(crack):
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank layout: no title placeholder
    box = slide.shapes.add_textbox(0, 0, 100, 100)
    box.text_frame.text = "Loose text box"
    out = io.BytesIO()
    deck.save(out)

    document = crack("loose.pptx", out.getvalue())

    assert document.text == "## Slide 1\n\nLoose text box"
    assert document.title == "loose.pptx"


def test_xlsx_sheets_become_headings_tables_and_page_spans(crack_good):
    document = crack_good("budget.xlsx")

    assert document.title == "Budget 2024"
    assert document.text == (
        "# Sheet: Revenue\n\n| Month | Amount |\n|---|---|\n| January | 1200 |\n| February | 1350.5 |\n\n"
        "# Sheet: Costs\n\n| Item | Cost | Owner |\n|---|---|---|\n| Rent | 800 | Facilities |\n| Laptops | 2400 | IT |"
    )
    assert [(span.number, document.text[span.start :].split("\n")[0]) for span in document.pages] == [
        (1, "# Sheet: Revenue"),
        (2, "# Sheet: Costs"),
    ]


def test_xlsx_skips_empty_sheets_keeps_sheet_numbers_and_caps_rows():
    workbook = openpyxl.Workbook()
    workbook.active.title = "Empty"
    big = workbook.create_sheet("Big")
    big.append(["n", "square"])
    for n in range(1, 11):
        big.append([n, n * n])
    out = io.BytesIO()
    workbook.save(out)
    limited = LocalCracker(table_limits=TableLimits(max_rows=4))
    document = limited.crack(source_item("/docs/big.xlsx", out.getvalue()), out.getvalue())

    assert [span.number for span in document.pages] == [2]
    assert document.text.startswith("# Sheet: Big\n\n| n | square |\n|---|---|\n| 1 | 1 |\n| 2 | 4 |\n| 3 | 9 |\n\n")
    assert "| 4 | 16 |" not in document.text
    assert document.text.endswith("(table truncated: at most 4 rows are kept)")


def test_xlsx_cell_values_render_as_plain_text():
    assert cell_text(None) == ""
    assert cell_text(3.0) == "3"
    assert cell_text(2.5) == "2.5"
    assert cell_text(True) == "TRUE"
    assert cell_text(datetime(2024, 5, 1)) == "2024-05-01"
    assert cell_text(datetime(2024, 5, 1, 13, 30)) == "2024-05-01 13:30:00"
    assert cell_text(date(2024, 5, 1)) == "2024-05-01"


def test_pdf_pages_become_spans_at_each_page_start(crack_good):
    document = crack_good("report.pdf")

    assert document.title == "Annual Report"
    assert document.content_type == "application/pdf"
    assert [span.number for span in document.pages] == [1, 2, 3]
    for number, start in _page_starts(document).items():
        assert start.startswith(f"Page {number}: annual report section {number}.")
    assert document.page_at(document.text.index("Revenue grew in part 2.")) == 2


def test_pdf_page_without_text_gets_no_span_and_metadata_title_falls_back_to_name(crack):
    data = text_pdf([["First page words."], [], ["Third page words."]])

    document = crack("gap.pdf", data)

    assert document.title == "gap.pdf"
    assert [span.number for span in document.pages] == [1, 3]
    assert document.text == "First page words.\n\nThird page words."


def test_pdf_encrypted_with_an_empty_user_password_is_read(crack_good):
    document = crack_good("owner-locked.pdf")

    assert document.text.startswith("Page 1: annual report section 1.")
    assert len(document.pages) == 3


def test_html_keeps_main_content_and_drops_chrome(crack_good):
    document = crack_good("guide.html")

    assert document.title == "Field Guide"
    assert document.content_type == "text/html"
    assert document.text == (
        "# Field Guide\n\n"
        "This guide explains the common birds of the region.\n\n"
        "## Identification\n\n"
        "- Look at the beak.\n\n"
        "- Listen to the song.\n\n"
        "| Bird | Colour |\n|---|---|\n| Robin | Red \\| brown |\n| Blackbird | Black |\n\n"
        "### Counting script\n\n"
        "```python\ndef count(birds):\n    return len(birds)\n```"
    )


def test_markdown_keeps_text_collapses_blank_runs_and_takes_first_heading_as_title(crack_good):
    document = crack_good("handbook.md")

    assert document.title == "Team Handbook"
    assert document.content_type == "text/markdown"
    assert "basics.\n\n## Working hours" in document.text
    assert "\n\n\n" not in document.text


def test_csv_becomes_a_pipe_table(crack_good):
    document = crack_good("people.csv")

    assert document.content_type == "text/csv"
    assert document.text.split("\n")[:3] == [
        "| name | city | notes |",
        "|---|---|---|",
        "| Ada | London | math, engines |",
    ]


def test_json_is_pretty_printed(crack_good):
    document = crack_good("config.json")

    assert document.content_type == "application/json"
    assert '"name": "Zürich gateway"' in document.text
    assert document.text.startswith('{\n  "service": {')


def test_every_good_file_cracks_to_text(good_corpus, crack_good):
    _, names = good_corpus

    for name in names:
        document = crack_good(name)
        assert document.text.strip(), name
        assert document.title, name


def test_file_names_with_spaces_and_non_ascii_characters(crack_good):
    assert crack_good("Résumé 2024 ä.md").text == "# Résumé\n\nExpérience: ingénieure à Zürich."
    assert crack_good("Résumé 2024 ä.md").title == "Résumé"
    assert crack_good("notes with spaces.txt").title == "notes with spaces.txt"
