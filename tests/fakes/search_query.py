"""Query execution for the fake Azure AI Search service: ``docs/search.post.search`` over one ``Index``.

- ``search`` in the *simple* syntax (``queryType`` simple or semantic; ``full`` Lucene is not implemented: 400):
  terms, ``"phrases"``, ``prefix*``, ``+must``, ``-not``, ``|``, parentheses (grouping is flattened) and ``\\``
  escapes; ``searchMode`` any (default: ``-x`` then means "or not x", as on the service) or all. Empty or ``*``
  matches every document. Scoring is BM25 (k1 1.2, b 0.75) per searchable field (``searchFields`` or all), summed;
  the analyzer is ``search_store.analyze``.
- ``vectorQueries`` of kind ``vector``: exact cosine over the named vector field, best ``k``; score
  ``1 / (2 - cosine)``. Text plus vectors (or several vector queries) are fused by RRF, ``sum weight/(60 + rank)``:
  a vector query's ``weight`` (default 1, must be > 0); the text query weighs 1.
- ``filter`` (see ``search_odata``) applies before ranking, to text and vector queries alike (pre-filter).
- ``queryType: semantic`` needs search text and a semantic configuration (named, or the index's default); it keeps
  the best 50 and reranks them: ``@search.rerankerScore`` (0-4) from ``search_semantic`` and ordered by it.
- ``orderby`` (sortable fields or ``search.score()``, asc/desc; nulls first ascending), ``select`` (retrievable
  fields), ``count``, ``skip`` (<= 100,000) and ``top``. A response holds at most 1,000 results, and 50 when ``top``
  is absent; when more were asked for (or ``top`` is absent and more match) it carries ``@odata.nextLink`` and
  ``@search.nextPageParameters`` (the request with ``skip`` advanced), which the SDK posts back for the next page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.fakes.search_listing import listing_page, listing_query, sort_value
from tests.fakes.search_odata import FilterError, compile_filter
from tests.fakes.search_semantic import rerank
from tests.fakes.search_store import Index, ServiceError, analyze, project

RRF_K = 60
DEFAULT_PAGE = 50
MAX_PAGE = 1000
MAX_SKIP = 100_000
BM25_K1 = 1.2
BM25_B = 0.75
_CLAUSE = re.compile(r'(?P<op>[+\-|]?)(?:"(?P<phrase>(?:[^"\\]|\\.)*)"?|(?P<term>(?:[^\s"()\\|]|\\.)+))')


@dataclass(frozen=True)
class Clause:
    occur: str
    """``should``, ``must`` or ``not``."""
    words: tuple[str, ...]
    prefix: bool = False


def parse_simple(text: str) -> list[Clause] | None:
    """Clauses of a simple-syntax query; None means "match everything" (empty or ``*``)."""
    if not text.strip() or text.strip() == "*":
        return None
    clauses = []
    for match in _CLAUSE.finditer(text.replace("(", " ").replace(")", " ")):
        op = match.group("op")
        occur = {"+": "must", "-": "not"}.get(op, "should")
        raw = match.group("phrase") if match.group("phrase") is not None else match.group("term") or ""
        prefix = match.group("term") is not None and raw.endswith("*") and not raw.endswith("\\*")
        words = tuple(analyze(re.sub(r"\\(.)", r"\1", raw)))
        if words:
            clauses.append(Clause(occur, words, prefix))
    return clauses


class _Scorer:
    """BM25 over the index's searchable fields for one query."""

    def __init__(self, index: Index, fields: list[str]) -> None:
        self.index = index
        self.fields = fields
        count = max(len(index.documents), 1)
        self.count = count
        self.average = {
            f: (sum(sum(t[f].values()) for t in index.terms.values() if f in t) / count) or 1.0 for f in fields
        }
        self._holders: dict[tuple[str, str], int] = {}

    def holders(self, f: str, word: str) -> int:
        if (f, word) not in self._holders:
            self._holders[(f, word)] = sum(1 for t in self.index.terms.values() if t.get(f, {}).get(word))
        return self._holders[(f, word)]

    def words_for(self, key: str, clause: Clause) -> dict[str, list[str]]:
        """Per field, the document terms the clause's words match (prefix-expanded); {} if the clause misses."""
        found: dict[str, list[str]] = {}
        for f in self.fields:
            terms = self.index.terms[key].get(f, {})
            if clause.prefix and len(clause.words) == 1:
                hits = [t for t in terms if t.startswith(clause.words[0])]
            elif len(clause.words) > 1:
                text = analyze(str(self.index.documents[key].get(f) or ""))
                n = len(clause.words)
                hits = (
                    list(clause.words) if any(tuple(text[i : i + n]) == clause.words for i in range(len(text))) else []
                )
            else:
                hits = [clause.words[0]] if clause.words[0] in terms else []
            if hits:
                found[f] = hits
        return found

    def score(self, key: str, matched: dict[str, list[str]]) -> float:
        total = 0.0
        for f, words in matched.items():
            counts = self.index.terms[key].get(f, {})
            length = sum(counts.values())
            for word in set(words):
                holders = self.holders(f, word)
                idf = math.log(1 + (self.count - holders + 0.5) / (holders + 0.5))
                tf = counts.get(word, 0)
                norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * length / self.average[f])
                total += idf * tf * (BM25_K1 + 1) / norm
        return total


def text_ranking(
    index: Index, keys: list[str], clauses: list[Clause], fields: list[str], mode: str
) -> dict[str, float]:
    scorer = _Scorer(index, fields)
    scores: dict[str, float] = {}
    for key in keys:
        outcome = [(clause, scorer.words_for(key, clause)) for clause in clauses]
        musts = [bool(found) for clause, found in outcome if clause.occur == "must"]
        nots = [not found for clause, found in outcome if clause.occur == "not"]
        shoulds = [bool(found) for clause, found in outcome if clause.occur == "should"]
        if not all(musts):
            continue
        if mode == "all":
            ok = all(shoulds) and all(nots)
        else:
            optional = shoulds + nots
            ok = any(optional) or (not optional and bool(musts))
        if not ok:
            continue
        matched: dict[str, list[str]] = {}
        for clause, found in outcome:
            if clause.occur != "not":
                for f, words in found.items():
                    matched.setdefault(f, []).extend(words)
        scores[key] = scorer.score(key, matched) or 0.01
    return scores


def vector_ranking(index: Index, keys: list[str], query: Mapping[str, Any]) -> dict[str, float]:
    if query.get("kind", "vector") != "vector":
        raise ServiceError(400, f"Vector query kind '{query.get('kind')}' needs a vectorizer, and none is configured.")
    vector_fields = index.vector_fields()
    names = [n.strip() for n in str(query.get("fields") or "").split(",") if n.strip()]
    if not names or any(n not in vector_fields for n in names):
        raise ServiceError(400, f"The field '{','.join(names)}' in the vector field list is not a vector field.")
    k = query.get("k")
    if not isinstance(k, int) or k < 1:
        raise ServiceError(400, "The request is invalid. Details: vectorQueries : k must be a positive integer.")
    vector = np.asarray(query.get("vector") or [], dtype=np.float64)
    best: dict[str, float] = {}
    for name in names:
        if vector.shape != (vector_fields[name],):
            raise ServiceError(
                400,
                f"The request is invalid. Details: The vector field '{name}' expects a length of "
                f"'{vector_fields[name]}'. However, the provided vector has a length of '{vector.size}'.",
            )
        for key in keys:
            stored = index.documents[key].get(name)
            if not stored:
                continue
            other = np.asarray(stored, dtype=np.float64)
            denominator = float(np.linalg.norm(vector) * np.linalg.norm(other)) or 1.0
            score = 1.0 / (2.0 - float(vector @ other) / denominator)
            best[key] = max(best.get(key, 0.0), score)
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
    return dict(ranked)


def fuse(rankings: list[dict[str, float]], weights: list[float]) -> dict[str, float]:
    """RRF with k = 60; each ranking's contribution times its weight (a vector query's ``weight``; text weighs 1)."""
    if len(rankings) == 1:
        return rankings[0]
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        ordered = sorted(ranking.items(), key=lambda item: (-item[1], item[0]))
        for rank, (key, _) in enumerate(ordered, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (RRF_K + rank)
    return fused


def vector_weight(query: Mapping[str, Any]) -> float:
    weight = query.get("weight")
    if weight is None:
        return 1.0
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise ServiceError(400, "The request is invalid. Details: vectorQueries : weight must be a positive number.")
    return float(weight)


def execute(index: Index, body: Mapping[str, Any], *, next_link: str) -> dict[str, Any]:
    """Run one search request; raise ServiceError(400) for anything the service refuses."""
    top, skip = body.get("top"), body.get("skip") or 0
    if top is not None and (not isinstance(top, int) or top < 0):
        raise ServiceError(400, "The request is invalid. Details: top must be a non-negative integer.")
    if not isinstance(skip, int) or not 0 <= skip <= MAX_SKIP:
        raise ServiceError(400, f"The request is invalid. Details: skip must be between 0 and {MAX_SKIP}.")
    select = _select(index, body.get("select"))
    order = _order(index, body.get("orderby"))
    if listing_query(body, order):
        return listing_page(index, body, order[0], select, next_link=next_link)
    keys = _filtered(index, body.get("filter"))
    scores, semantic = _rank(index, body, keys)
    ordered = _sort(index, scores, order, semantic)
    total = len(scores)
    page = min(top if top is not None else DEFAULT_PAGE, MAX_PAGE)
    window = ordered[skip : skip + page]
    payload: dict[str, Any] = {}
    if body.get("count"):
        payload["@odata.count"] = total
    results = []
    for key in window:
        row = project(index.documents[key], select)
        row["@search.score"] = scores[key]
        if semantic:
            row["@search.rerankerScore"] = semantic[key]
        results.append(row)
    payload["value"] = results
    wanted = (top if top is not None else len(ordered)) - len(window)
    if wanted > 0 and skip + len(window) < len(ordered) and len(window) == page:
        following = {k: v for k, v in body.items() if v is not None}
        following["skip"] = skip + len(window)
        if top is not None:
            following["top"] = top - len(window)
        payload["@odata.nextLink"] = next_link
        payload["@search.nextPageParameters"] = following
    return payload


def _select(index: Index, raw: Any) -> list[str]:
    retrievable = index.retrievable()
    if not raw or str(raw).strip() == "*":
        return retrievable
    names = [n.strip() for n in str(raw).split(",") if n.strip()]
    for name in names:
        if name not in index.fields:
            raise ServiceError(
                400, f"Invalid expression: Could not find a property named '{name}' on type 'search.document'."
            )
        if name not in retrievable:
            raise ServiceError(
                400, f"Invalid expression: The field '{name}' is not retrievable and cannot be selected."
            )
    return names


def _order(index: Index, raw: Any) -> list[tuple[str, bool]]:
    order = []
    for part in [p.strip() for p in str(raw or "").split(",") if p.strip()]:
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ServiceError(400, f"Invalid expression: '{part}' is not a valid $orderby clause.")
        name, descending = words[0], len(words) == 2 and words[1] == "desc"
        if name != "search.score()":
            spec = index.fields.get(name)
            if spec is None or not spec.get("sortable"):
                raise ServiceError(
                    400,
                    f"Invalid expression: '{name}' is not a sortable field. Only sortable fields can be used "
                    "in $orderby expressions.",
                )
        order.append((name, descending))
    return order


def _filtered(index: Index, raw: Any) -> list[str]:
    keys = sorted(index.documents)
    if not raw:
        return keys
    try:
        predicate = compile_filter(str(raw), index.field_infos())
    except FilterError as error:
        raise ServiceError(400, str(error)) from None
    return [key for key in keys if predicate(index.documents[key], {})]


def _rank(index: Index, body: Mapping[str, Any], keys: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    query_type = body.get("queryType") or "simple"
    if query_type not in ("simple", "semantic"):
        raise ServiceError(400, f"The fake supports queryType simple and semantic, not '{query_type}'.")
    text = body.get("search") or ""
    clauses = parse_simple(str(text))
    rankings, weights = [], []
    if clauses is not None:
        fields = _search_fields(index, body.get("searchFields"))
        rankings.append(text_ranking(index, keys, clauses, fields, str(body.get("searchMode") or "any")))
        weights.append(1.0)
    for query in body.get("vectorQueries") or []:
        rankings.append(vector_ranking(index, keys, query))
        weights.append(vector_weight(query))
    scores = fuse(rankings, weights) if rankings else dict.fromkeys(keys, 1.0)
    if query_type != "semantic":
        return scores, {}
    if clauses is None:
        raise ServiceError(400, "The request is invalid. Details: semantic ranking needs search text.")
    configuration = _semantic_configuration(index, body.get("semanticConfiguration"))
    words = [word for clause in clauses if clause.occur != "not" for word in clause.words]
    return scores, rerank(index, configuration, words, scores)


def _search_fields(index: Index, raw: Any) -> list[str]:
    searchable = index.searchable_text_fields()
    if not raw:
        return searchable
    names = [n.strip() for n in str(raw).split(",") if n.strip()]
    bad = [n for n in names if n not in searchable]
    if bad:
        raise ServiceError(400, f"Invalid expression: '{bad[0]}' is not a searchable field.")
    return names


def _semantic_configuration(index: Index, name: Any) -> dict[str, Any]:
    semantic = index.definition.get("semantic") or {}
    configurations = {c.get("name"): c for c in semantic.get("configurations") or []}
    chosen = name or semantic.get("defaultConfiguration")
    if chosen is None or chosen not in configurations:
        raise ServiceError(
            400, f"The request is invalid. Details: semanticConfiguration '{chosen}' is not defined on the index."
        )
    return dict(configurations[chosen])


def _sort(
    index: Index, scores: dict[str, float], order: list[tuple[str, bool]], semantic: dict[str, float]
) -> list[str]:
    if semantic:
        keys = sorted(semantic, key=lambda key: (-semantic[key], -scores[key], key))
    else:
        keys = sorted(scores, key=lambda key: (-scores[key], key))
    for name, descending in reversed(order):
        if name == "search.score()":
            keys.sort(key=lambda key: scores[key], reverse=descending)
            continue
        present = [k for k in keys if index.documents[k].get(name) is not None]
        missing = [k for k in keys if index.documents[k].get(name) is None]
        value = sort_value(index, name)
        present.sort(key=lambda key: value(index.documents[key][name]), reverse=descending)
        keys = present + missing if descending else missing + present
    return keys
