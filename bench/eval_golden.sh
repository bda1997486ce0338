#!/usr/bin/env bash
# Retrieval quality of the current settings on the shared golden sets (../shared/eval), all three modes side by side,
# through the command line and the CONFIGURED backends (set INDEX_BACKEND / EMBEDDING_BACKEND etc. to measure Azure).
# bench/eval_matrix.py runs a grid of chunking and fusion settings with the local stack instead.
#
#   python3 ../shared/eval/build_golden.py --out .cache/golden     # once: stripped corpora (Debian packages, ~30 s)
#   SETS="debian_faq django_faq" bench/eval_golden.sh               # default: debian_faq django_faq
#
# Only regular *.html files are staged (symlinks and search indexes would leak the questions or double-count pages);
# each set is ingested with the configured embedder (default: local) and index (local: .cache/eval/<set>/index.sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GOLDEN_DIR:-.cache/golden/shared}
PY=${PYTHON:-.venv/bin/python}
for set in ${SETS:-debian_faq django_faq}; do
  src=$G/${set}_corpus_stripped
  dst=.cache/eval/$set/corpus
  rm -rf ".cache/eval/$set"
  "$PY" -c 'import sys; sys.path.insert(0, "bench"); from eval_matrix import stage; from pathlib import Path; stage(Path(sys.argv[1]), Path(sys.argv[2]))' "$src" "$dst"
  echo "== $set: $(find "$dst" -type f | wc -l) html files"
  export LOCAL_INDEX_PATH=.cache/eval/$set/index.sqlite
  "$PY" -m ingestion ingest "$dst" --json
  "$PY" -m ingestion eval "$G/$set.jsonl" --root "$dst" --mode all
done
