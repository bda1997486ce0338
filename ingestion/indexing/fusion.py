"""How HYBRID search weighs its two rankings for one query: the exact-term rule. Pure: no I/O.

A hybrid query fuses the text (BM25) and vector rankings by weighted RRF (``rrf.py``; the text ranking weighs 1).
No single vector weight serves both kinds of question (docs/retrieval-quality.md): natural-language questions need
the vector ranking to dominate (weight 6), while a question that names an exact term (a function, setting, error
code: ``sys.setrecursionlimit``, ``EX_TEMPFAIL``, ``max_wal_senders``) is answered by the pages that contain the
term, which the text ranking finds and the vector ranking mostly does not. At weight 6 a chunk found only by the
text ranking scores at most 1/61, less than any vector hit in the first 50 (6/110), so hybrid loses those pages.

The rule (``ExactTermRule``): a query is an *exact-term query* when it contains an identifier-shaped term
(``exact_terms``) that occurs, as a phrase, in a few chunks of the index (1 to 50; the index counts them:
``count_exact``). Such a query is fused with the rule's vector weight instead of the usual one. Both signals are
needed: the shape says the user typed a name, the index says the name exists here and picks out a few pages (a name
the corpus never uses, or uses everywhere, says nothing about which ranking to trust). All of it is expressible
on Azure AI Search: the weight is the vector query's ``weight``, sent per query, and the counts are ``count``
queries on the same phrases (``azure/fusion.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_EXACT_TERMS = 8

_UNQUOTABLE = re.compile(r'["\x00-\x1f\x7f]')
_BACKTICKED = re.compile(r"`([^`\s]{2,100})`")
_IDENTIFIER = re.compile(
    r"""(?<![\w.])(
        [A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::|->)[A-Za-z_][A-Za-z0-9_]*)+   # dotted / scoped: sys.setrecursionlimit
      | [A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*[A-Za-z0-9]       # snake or SCREAMING: max_wal_senders
      | _{1,2}[A-Za-z][A-Za-z0-9_]*                                     # leading underscore: __init__, _meta
      | [a-z]+[A-Z][A-Za-z0-9]*                                         # camelCase: setTimeout
      | [A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*                                 # inner capital: PyUnicode, NoSQL
      | [A-Za-z]+[0-9][A-Za-z0-9]*                                      # letters then digits: UTF8, sqlite3
    )(?![\w])""",
    re.VERBOSE,
)


def exact_terms(text: str) -> list[str]:
    """The identifier-shaped terms of a user query, in order, each once (case-insensitively), at most 8.

    Backticked spans without spaces count whole; otherwise a term is a dotted or scoped name, a name with an inner
    ``_``, a name with an inner capital, or letters followed by digits. Plain words (``NULL``, ``Django``,
    ``well-known``) are not. A trailing sentence dot is not part of a name ("Explain ST_Intersects."), and
    ``a.k.a`` is no name.
    """
    found: list[str] = []
    for match in _BACKTICKED.finditer(text):
        found.append(match.group(1).strip())
    for match in _IDENTIFIER.finditer(_BACKTICKED.sub(" ", text)):
        found.append(match.group(1))
    unique: dict[str, str] = {}
    for term in found:
        parts = re.split(r"\.|::|->", term)
        if re.search(r"[^\W_]", term) and not (len(parts) > 1 and all(len(p) <= 1 for p in parts)):
            unique.setdefault(term.casefold(), term)
    return list(unique.values())[:MAX_EXACT_TERMS]


def phrase(term: str) -> str:
    """``term`` as one double-quoted phrase (FTS5 and Azure simple syntax); inner quotes and control characters
    become spaces (FTS5 reads a NUL as the end of the query: "unterminated string")."""
    return '"' + _UNQUOTABLE.sub(" ", term).strip() + '"'


@dataclass(frozen=True)
class ExactTermRule:
    """Fuse an exact-term query with ``vector_weight`` (instead of the index's usual weight).

    A query is an exact-term query when one of its ``exact_terms`` occurs in 1 to ``max_chunks`` chunks of the
    index. A term found in more chunks than the text ranking's depth (50) is a common word of this corpus (``LaTeX``
    in LaTeX manuals), not a name that picks out a few pages, so it says nothing about which ranking to trust.
    """

    vector_weight: float
    max_chunks: int = 50

    def __post_init__(self) -> None:
        if not self.vector_weight > 0 or self.max_chunks < 1:
            raise ValueError(f"exact-term rule needs vector_weight > 0 and max_chunks >= 1, got {self}")

    def applies(self, term_counts: Sequence[int]) -> bool:
        """Whether a query whose exact terms occur in ``term_counts`` chunks each is an exact-term query."""
        return any(0 < count <= self.max_chunks for count in term_counts)


def hybrid_vector_weight(default: float, rule: ExactTermRule | None, term_counts: Sequence[int]) -> float:
    """The vector ranking's RRF weight for one hybrid query: the rule's when it applies, else ``default``."""
    return rule.vector_weight if rule is not None and rule.applies(term_counts) else default
