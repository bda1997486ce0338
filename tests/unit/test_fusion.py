"""The exact-term rule of hybrid search: which query words are names, and when the rule changes the weight."""

from __future__ import annotations

import pytest

from ingestion.indexing.fusion import MAX_EXACT_TERMS, ExactTermRule, exact_terms, hybrid_vector_weight, phrase


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("What does `object_pairs_hook` do?", ["object_pairs_hook"]),
        ("allocate_lock", ["allocate_lock"]),
        ("Explain ST_Intersects.", ["ST_Intersects"]),  # the sentence's dot is not part of the name
        ("sys.setrecursionlimit", ["sys.setrecursionlimit"]),
        ("What is django.template.TemplateSyntaxError for?", ["django.template.TemplateSyntaxError"]),
        ("PyUnicode_AsUTF8AndSize and tp_dictoffset", ["PyUnicode_AsUTF8AndSize", "tp_dictoffset"]),
        ("EX_TEMPFAIL", ["EX_TEMPFAIL"]),
        ("What is __init__ for?", ["__init__"]),
        ("Does setTimeout run in NoSQL or UTF8?", ["setTimeout", "NoSQL", "UTF8"]),
        ("std::vector and obj->field", ["std::vector", "obj->field"]),
        ("`max-age` header", ["max-age"]),  # backticked: whole, whatever its characters
        ("max_wal_senders MAX_WAL_SENDERS", ["max_wal_senders"]),  # once, case-insensitively
    ],
)
def test_identifier_shaped_words_are_exact_terms(query: str, terms: list[str]) -> None:
    assert exact_terms(query) == terms


@pytest.mark.parametrize(
    "query",
    [
        "How do I log in to the admin?",
        "What datatypes does SQLite support? NULL, INTEGER and TEXT.",  # plain and all-capital words
        "a well-known built-in feature, a.k.a. the usual one",  # hyphens and abbreviations
        "Why is `foo' not removed when I uninstall `foo-data'?",  # Debian's `quotes' are not code spans
        "snake_",
        "`__`",
        "",
    ],
)
def test_plain_language_has_no_exact_terms(query: str) -> None:
    assert exact_terms(query) == []


def test_at_most_eight_exact_terms() -> None:
    assert len(exact_terms(" ".join(f"name_{i}" for i in range(20)))) == MAX_EXACT_TERMS == 8


def test_phrase_quotes_the_term_and_drops_inner_quotes() -> None:
    assert phrase("sys.setrecursionlimit") == '"sys.setrecursionlimit"'
    assert phrase('a"b') == '"a b"'
    assert phrase("a\x00b\tc\x7f") == '"a b c"'


def test_the_rule_applies_to_a_term_found_in_a_few_chunks() -> None:
    rule = ExactTermRule(0.5, max_chunks=50)
    assert rule.applies([1]) and rule.applies([0, 50]) and rule.applies([400, 3])
    assert not rule.applies([]) and not rule.applies([0]) and not rule.applies([51, 0])
    assert hybrid_vector_weight(6.0, rule, [2]) == 0.5
    assert hybrid_vector_weight(6.0, rule, [0]) == 6.0
    assert hybrid_vector_weight(6.0, None, [2]) == 6.0


@pytest.mark.parametrize(("weight", "max_chunks"), [(0.0, 50), (-1.0, 50), (1.0, 0)])
def test_the_rule_refuses_bad_parameters(weight: float, max_chunks: int) -> None:
    with pytest.raises(ValueError, match="exact-term rule"):
        ExactTermRule(weight, max_chunks=max_chunks)
