#!/usr/bin/env bash
# Retrieval quality of the current defaults on the shared golden sets (../shared/eval), all three modes side by side.
#
#   python3 ../shared/eval/build_golden.py --out .cache/golden     # once: stripped corpora (Debian packages, ~30 s)
#   SETS="debian_faq django_faq" bench/eval_golden.sh               # default: debian_faq django_faq
#
# Only regular *.html files are staged (symlinks and search indexes would leak the questions or double-count pages);
# each set is ingested with the configured embedder (default: local) into its own SQLite file under .cache/eval/.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GOLDEN_DIR:-.cache/golden/shared}
PY=${PYTHON:-.venv/bin/python}
for set in ${SETS:-debian_faq django_faq}; do
  src=$G/${set}_corpus_stripped
  dst=.cache/eval/$set/corpus
  rm -rf ".cache/eval/$set" && mkdir -p "$dst"
  "$PY" - "$src" "$dst" <<'PY'
import shutil, sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for f in src.rglob("*.html"):
    if f.is_file() and not f.is_symlink():
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
PY
  echo "== $set: $(find "$dst" -type f | wc -l) html files"
  export LOCAL_INDEX_PATH=.cache/eval/$set/index.sqlite EMBEDDING_BACKEND=${EMBEDDING_BACKEND:-local}
  "$PY" -m ingestion ingest "$dst" --json
  "$PY" -m ingestion eval "$G/$set.jsonl" --root "$dst" --mode all
done
