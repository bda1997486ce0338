"""Where each golden set's questions, corpus and index live, for the bench scripts (``--sets NAME,...``).

- The shared FAQ sets (``debian_faq``, ``django_faq``, ``sqlite_faq``): questions in build_golden.py's ``shared/``
  (``--golden``), corpus ``<golden>/<set>_corpus_stripped``.
- Exact-term sets built on another set's corpus, measured on that set's index: ``django_keywords`` (shared, in
  ``../shared/eval/``) on ``django_faq``, ``sqlite_keywords`` (ours, bench/golden/) on ``sqlite_faq``.
- Our own PDF set ``latex_packages`` (bench/golden/README.md): its listed documents from ``--corpora``.

``corpus`` is the staged tree that ``eval_matrix.py`` ingests (``<work>/<corpus_set>/corpus``); ``source`` where it
is staged from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OWN_GOLDEN = REPO / "bench/golden"
OWN_SETS = {"latex_packages": "pdf/latex"}
"""Our own sets with their own corpus: name -> the folder of ``--corpora`` their listed documents are in."""
ON_CORPUS_OF = {"django_keywords": "django_faq", "sqlite_keywords": "sqlite_faq"}
"""Exact-term sets -> the set whose corpus (and index) they are asked against."""
SHARED_EVAL = next(
    (p for p in (REPO.parent / "shared/eval", REPO.parents[1] / "shared/eval") if p.is_dir()), REPO / "../shared/eval"
)


@dataclass(frozen=True)
class SetSpec:
    name: str
    golden: Path
    corpus_set: str
    corpus: Path


def golden_file(name: str, golden_dir: Path) -> Path:
    """The first of ``golden_dir``, bench/golden/ and ../shared/eval/ that has ``<name>.jsonl``."""
    for folder in (golden_dir, OWN_GOLDEN, SHARED_EVAL):
        if (folder / f"{name}.jsonl").is_file():
            return folder / f"{name}.jsonl"
    raise SystemExit(f"golden set {name}: no {name}.jsonl in {OWN_GOLDEN}, {golden_dir} or {SHARED_EVAL}")


def resolve_set(name: str, *, work: Path, golden_dir: Path = REPO / ".cache/golden/shared") -> SetSpec:
    corpus_set = ON_CORPUS_OF.get(name, name)
    return SetSpec(name, golden_file(name, golden_dir), corpus_set, work / corpus_set / "corpus")


if __name__ == "__main__":  # ``python bench/eval_sets.py NAME [GOLDEN_DIR]`` -> "<golden file> <corpus set>"
    import sys

    golden_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / ".cache/golden/shared"
    spec = resolve_set(sys.argv[1], work=REPO / ".cache/eval", golden_dir=golden_dir)
    sys.stdout.write(f"{spec.golden} {spec.corpus_set}\n")
