#!/usr/bin/env bash
# Retrieval quality of the current settings on the golden sets, all three modes side by side, through the command
# line and the CONFIGURED backends (set INDEX_BACKEND / EMBEDDING_BACKEND etc. to measure Azure).
# bench/eval_matrix.py runs a grid of chunking and fusion settings with the local stack instead.
#
#   python3 ../shared/eval/build_golden.py --out .cache/golden     # once: stripped corpora (Debian packages, ~30 s)
#   SETS="debian_faq django_faq" bench/eval_golden.sh               # default: debian_faq django_faq
#   SETS="django_faq django_keywords sqlite_faq sqlite_keywords" bench/eval_golden.sh
#
# Only regular *.html files are staged (symlinks and search indexes would leak the questions or double-count pages);
# each corpus is ingested once per run with the configured embedder (default: local) and index (local:
# .cache/eval/<corpus set>/index.sqlite). Exact-term sets (django_keywords, sqlite_keywords: bench/eval_sets.py)
# are asked against the index of the FAQ set whose corpus they were built on, so a FAQ set and its keyword set
# measure the same index.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GOLDEN_DIR:-.cache/golden/shared}
PY=${PYTHON:-.venv/bin/python}
ingested=" "
for set in ${SETS:-debian_faq django_faq}; do
  read -r golden corpus_set < <("$PY" bench/eval_sets.py "$set" "$G")
  dst=.cache/eval/$corpus_set/corpus
  export LOCAL_INDEX_PATH=.cache/eval/$corpus_set/index.sqlite
  if [[ "$ingested" != *" $corpus_set "* ]]; then
    rm -rf ".cache/eval/$corpus_set"
    "$PY" -c 'import sys; sys.path.insert(0, "bench"); from eval_matrix import stage; from pathlib import Path; stage(Path(sys.argv[1]), Path(sys.argv[2]))' "$G/${corpus_set}_corpus_stripped" "$dst"
    echo "== $corpus_set: $(find "$dst" -type f | wc -l) html files"
    "$PY" -m ingestion ingest "$dst" --json
    ingested="$ingested$corpus_set "
  fi
  echo "== $set ($golden on $corpus_set)"
  "$PY" -m ingestion eval "$golden" --root "$dst" --mode all
done
