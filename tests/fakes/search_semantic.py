"""The fake semantic ranker: a deterministic stand-in for Azure AI Search's ``queryType: semantic`` reranking.

The service reranks the best ``SEMANTIC_WINDOW`` (50) results of the first-stage ranking (BM25, vector or RRF) with
a language model that reads the semantic configuration's title (~128 tokens), content fields (in order, the rest of a
~2,000-token budget) and keywords (~128 tokens), and returns ``@search.rerankerScore`` between 0 and 4, ordering the
results by it. A model cannot run here, so the fake scores how well each result covers the query, by term overlap:

    rerankerScore = 4 * (0.5 * content coverage + 0.3 * title coverage + 0.1 * keywords coverage + 0.1 * phrase)
                    / (sum of the weights of the parts the configuration has)

where a coverage is the share of the query's distinct words (the simple-syntax query, ``-excluded`` words left out)
found in that part, and ``phrase`` is 1 when the query's words occur together, in order, in the content. Scores are
rounded to 4 decimals; ties keep the first-stage order (higher ``@search.score`` first, then key). The point is that
the order *changes* as the service's does: a result the first stage put low but that answers every query word in its
title and content rises above one that merely repeats one word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakes.search_store import Index, analyze

SEMANTIC_WINDOW = 50
TITLE_TOKENS = 128
KEYWORDS_TOKENS = 128
CONTENT_TOKENS = 2000
WEIGHTS = {"content": 0.5, "title": 0.3, "keywords": 0.1, "phrase": 0.1}


def rerank(
    index: Index,
    configuration: Mapping[str, Any],
    query_words: list[str],
    scores: Mapping[str, float],
) -> dict[str, float]:
    """``@search.rerankerScore`` (0-4) for the best ``SEMANTIC_WINDOW`` keys of ``scores``, by key."""
    window = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:SEMANTIC_WINDOW]
    prioritized = configuration.get("prioritizedFields") or {}
    title = [(prioritized.get("titleField") or {}).get("fieldName")]
    content = [f.get("fieldName") for f in prioritized.get("prioritizedContentFields") or []]
    keywords = [f.get("fieldName") for f in prioritized.get("prioritizedKeywordsFields") or []]
    wanted = list(dict.fromkeys(query_words))
    return {key: _score(index.documents[key], wanted, title, content, keywords) for key, _ in window}


def _score(
    document: Mapping[str, Any], wanted: list[str], title: list[Any], content: list[Any], keywords: list[Any]
) -> float:
    parts = {
        "title": _tokens(document, title, TITLE_TOKENS),
        "content": _tokens(document, content, CONTENT_TOKENS),
        "keywords": _tokens(document, keywords, KEYWORDS_TOKENS),
    }
    present = {name for name, fields in (("title", title), ("content", content), ("keywords", keywords)) if any(fields)}
    if content and any(content):
        present.add("phrase")
    if not wanted or not present:
        return 0.0
    total = 0.0
    for name in present - {"phrase"}:
        found = set(parts[name])
        total += WEIGHTS[name] * sum(word in found for word in wanted) / len(wanted)
    if "phrase" in present and _contains(parts["content"], wanted):
        total += WEIGHTS["phrase"]
    return round(4.0 * total / sum(WEIGHTS[name] for name in present), 4)


def _tokens(document: Mapping[str, Any], fields: list[Any], budget: int) -> list[str]:
    """The analysed words of ``fields`` in order (string or collection values), at most ``budget`` of them."""
    words: list[str] = []
    for name in fields:
        if name is None:
            continue
        value = document.get(str(name))
        for text in value if isinstance(value, list) else [value]:
            words.extend(analyze(str(text or "")))
    return words[:budget]


def _contains(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))
