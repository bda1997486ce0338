"""HTML specifics: main-content choice, chrome removal, code fences, lists, tables, encodings."""

from __future__ import annotations

import pytest

from ingestion.errors import NoTextError, UndecodableTextError

SPHINX_PAGE = """<!DOCTYPE html><html><head><title>Models &#8212; Docs</title>
<script>var x = 1;</script></head><body>
<div class="related" role="navigation"><a href="index.html">index</a></div>
<div class="document"><div class="documentwrapper"><div class="body" role="main">
<section id="models"><h1>Models<a class="headerlink" href="#models" title="Link to this heading">¶</a></h1>
<p>A model is the <a href="x.html"><span class="doc">single source</span></a> of truth.</p>
<div class="highlight-python notranslate"><div class="highlight"><pre><span></span><span class="k">class</span> Person:
    name = <span class="s">"x"</span>


    age = 3
</pre></div></div>
<dl class="py class"><dt class="sig">class Field(**options)<a class="headerlink" href="#f">¶</a></dt>
<dd><p>Base class.</p></dd></dl>
</section></div></div>
<div class="sphinxsidebar" role="navigation"><h3>Table of Contents</h3><ul><li>Models</li></ul></div></div>
<div class="footer">&copy; Copyright.</div>
</body></html>"""


def test_sphinx_page_keeps_role_main_body_only(crack):
    document = crack("models.html", SPHINX_PAGE.encode())

    assert document.title == "Models — Docs"
    assert document.text == (
        "# Models\n\n"
        "A model is the single source of truth.\n\n"
        '```python\nclass Person:\n    name = "x"\n\n    age = 3\n```\n\n'
        "class Field(**options)\n\n"
        "Base class."
    )


def test_page_without_main_drops_header_nav_aside_footer_and_hidden(crack):
    page = b"""<html><body><header>Brand</header><nav>Menu</nav><aside>Ads</aside>
    <div>Visible <b>bold</b> text</div><div hidden>secret</div><div style="display: none">gone</div>
    <div aria-hidden="true">icon</div><footer>Legal</footer></body></html>"""

    assert crack("p.html", page).text == "Visible bold text"


def test_header_inside_article_is_kept(crack):
    page = b"<html><body><nav>Menu</nav><article><header><h1>Post</h1></header><p>Body.</p></article></body></html>"

    assert crack("p.html", page).text == "# Post\n\nBody."


def test_several_articles_are_a_listing_so_the_body_is_kept(crack):
    page = b"<html><body><article><p>One</p></article><article><p>Two</p></article></body></html>"

    assert crack("p.html", page).text == "One\n\nTwo"


def test_lists_nested_and_ordered(crack):
    page = b"""<html><body><ol start="3"><li>Third<ul><li>sub a</li><li>sub b</li></ul></li><li>Fourth</li></ol>
    </body></html>"""

    assert crack("p.html", page).text == "3. Third\n\n  - sub a\n\n  - sub b\n\n4. Fourth"


def test_table_with_colspan_and_no_header_section(crack):
    page = b"""<html><body><table><caption>Totals</caption>
    <tr><td>Name</td><td>Value</td><td>Unit</td></tr>
    <tr><td colspan="2">merged</td><td>kg</td></tr>
    <tr><td>a<br>b</td><td><p>1</p><p>2</p></td></tr></table></body></html>"""

    assert crack("p.html", page).text == (
        "Totals\n\n| Name | Value | Unit |\n|---|---|---|\n| merged |  | kg |\n| a b | 1 2 |  |"
    )


def test_layout_table_is_read_as_blocks(crack):
    page = b"""<html><body><table><tr><td><h2>Title</h2><p>Left text</p></td><td><p>Right text</p></td></tr>
    </table></body></html>"""

    assert crack("p.html", page).text == "## Title\n\nLeft text\n\nRight text"


def test_code_fence_is_longer_than_backticks_in_code(crack):
    page = b"<html><body><pre><code class='language-md'>```\nquoted\n```</code></pre></body></html>"

    assert crack("p.html", page).text == "````md\n```\nquoted\n```\n````"


def test_whitespace_collapses_inside_paragraphs_and_entities_decode(crack):
    page = b"<html><body><p>  a\n\n\tb&nbsp;&amp;   c  </p><p></p><p>d</p></body></html>"

    assert crack("p.html", page).text == "a b & c\n\nd"


def test_latin1_page_with_meta_charset(crack):
    page = '<html><head><meta charset="iso-8859-1"><title>Café</title></head><body><p>Crème brûlée</p></body></html>'

    document = crack("p.html", page.encode("latin-1"))

    assert (document.title, document.text) == ("Café", "Crème brûlée")


def test_latin1_page_without_declared_charset(crack):
    document = crack("p.html", "<html><body><p>Déjà vu à Paris</p></body></html>".encode("latin-1"))

    assert document.text == "Déjà vu à Paris"


def test_html_without_text_is_no_text(crack):
    with pytest.raises(NoTextError, match=r"^/docs/empty\.html: no text in HTML page$"):
        crack("empty.html", b"<html><head><title>t</title><script>x()</script></head><body> </body></html>")


def test_binary_named_html_is_undecodable(crack):
    with pytest.raises(UndecodableTextError, match=r"^/docs/blob\.html: "):
        crack("blob.html", b"\x00\x01\x02garbage")


def test_large_page_cracks_completely(crack):
    rows = "".join(f"<tr><td>row {i}</td><td>{'word ' * 10}</td></tr>" for i in range(2_000))
    paragraphs = "".join(f"<h2>Section {i}</h2><p>{'lorem ipsum ' * 20}</p>" for i in range(600))
    page = f"<html><body><main>{paragraphs}<table>{rows}</table></main></body></html>".encode()
    assert len(page) > 300_000

    document = crack("big.html", page)

    assert document.text.count("\n## Section ") == 599
    assert "| row 1999 |" in document.text


def test_pathologically_deep_markup_does_not_hit_the_recursion_limit(crack):
    depth = 5_000
    page = ("<html><body>" + "<div><b>" * depth + "deep text" + "</b></div>" * depth + "</body></html>").encode()

    assert crack("deep.html", page).text == "deep text"


def test_five_megabyte_word_in_a_paragraph(crack):
    page = b"<html><body><p>" + b"y" * (5 * 1024 * 1024) + b"</p></body></html>"

    assert len(crack("long.html", page).text) == 5 * 1024 * 1024


def test_empty_main_element_falls_back_to_the_body(crack):
    page = b"<html><body><header>Brand</header><main></main><div><p>Real content</p></div></body></html>"

    assert crack("p.html", page).text == "Real content"
