"""Retrieval quality over a grid of settings on the golden sets: hybrid vs text vs vector, side by side.

    python3 ../shared/eval/build_golden.py --out .cache/golden           # once: stripped corpora (~30 s)
    .venv/bin/python bench/eval_matrix.py [--sets django_faq,debian_faq] [--sizes 128,256,512] [--overlaps 0,64]
        [--headings on|off|both] [--rrf-k 20,60,100] [--vector-weights 1,6] [--fresh] [--json OUT]

For each set, only the regular ``*.html`` files of ``<golden>/<set>_corpus_stripped`` are staged under ``--work``
(other files leak the questions; debian-faq's ``X.html`` symlinks would make every page a second document); our own
sets (``OWN_SETS``, bench/golden/) stage the documents their ``<set>.corpus.txt`` lists from ``--corpora``. For each
(chunk size, overlap, headings) setting the staged tree is ingested with the LOCAL embedder into its own SQLite file,
``<work>/<set>/c<size>-o<overlap>-h<0|1>.sqlite``; an existing file is brought up to date by the pipeline (unchanged
documents are skipped), ``--fresh`` deletes it first. A chunk whose embedded text an earlier setting of the same run
already embedded borrows that vector (``reuse_from``; exact: same text, same model). Each index is then evaluated in
text and vector mode once, and in hybrid mode once per RRF k and vector weight (they change only the fusion, so the
index is reused). Prints recall@5 and MRR@10 tables; ``+`` marks a hybrid cell >= the better single mode.

Every cell equals the CLI on the same index, e.g. for size 256, overlap 0, headings on, k 60, vector weight 6:

    CHUNK_MAX_TOKENS=256 CHUNK_OVERLAP_TOKENS=0 EMBED_HEADINGS=true RRF_K=60 HYBRID_VECTOR_WEIGHT=6 \\
    LOCAL_INDEX_PATH=.cache/eval-matrix/django_faq/c256-o0-h1.sqlite .venv/bin/python -m ingestion eval \\
        .cache/golden/shared/django_faq.jsonl --root .cache/eval-matrix/django_faq/corpus --mode all
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
import numpy as np  # noqa: E402
from eval_sets import OWN_GOLDEN, OWN_SETS, resolve_set  # noqa: E402

from ingestion import wiring  # noqa: E402
from ingestion.evaluation.runner import evaluate, load_golden, resolve_roots  # noqa: E402
from ingestion.indexing.base import Index  # noqa: E402
from ingestion.models import SearchMode  # noqa: E402
from ingestion.settings import Settings  # noqa: E402


@dataclass(frozen=True)
class Setting:
    size: int
    overlap: int
    headings: bool

    @property
    def key(self) -> str:
        return f"c{self.size}-o{self.overlap}-h{int(self.headings)}"


def stage(source: Path, dest: Path) -> int:
    """Copy the regular ``*.html`` files of ``source`` into a clean ``dest`` (relative paths kept); return the count."""
    if dest.exists():
        shutil.rmtree(dest)
    files = sorted(p for p in source.rglob("*.html") if p.is_file() and not p.is_symlink())
    for path in files:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return len(files)


def stage_listed(listing: Path, source: Path, dest: Path) -> int:
    """Copy the files ``listing`` names (one path per line relative to ``source``; ``#`` comments) into a clean
    ``dest``; return the count. Our own sets list their document pool this way (bench/golden/*.corpus.txt)."""
    if dest.exists():
        shutil.rmtree(dest)
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip() and not line.startswith("#")]
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)
    return len(names)


def golden_and_corpus(name: str, args: argparse.Namespace) -> tuple[Path, str, int]:
    """The golden file of set ``name``, the set whose corpus and index it uses (``eval_sets``), and how many
    documents were staged under ``<work>/<that set>/corpus``."""
    spec = resolve_set(name, work=args.work, golden_dir=args.golden)
    own = OWN_SETS.get(spec.corpus_set)
    if own is not None:
        listing = OWN_GOLDEN / f"{spec.corpus_set}.corpus.txt"
        return spec.golden, spec.corpus_set, stage_listed(listing, args.corpora / own, spec.corpus)
    return spec.golden, spec.corpus_set, stage(args.golden / f"{spec.corpus_set}_corpus_stripped", spec.corpus)


def remove_index(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


FUSION = {"fusion": "exact-term"}
"""HYBRID_FUSION for every hybrid cell (``--fusion``)."""


def settings_for(setting: Setting, index_path: Path, *, rrf_k: int = 60, vector_weight: float = 1.0) -> Settings:
    """Local embedder and local index only; nothing is inherited from the environment (no Azure by accident)."""
    return Settings.from_env(
        {
            "HYBRID_FUSION": FUSION["fusion"],
            "EMBEDDING_BACKEND": "local",
            "INDEX_BACKEND": "local",
            "LOCAL_INDEX_PATH": str(index_path),
            "CHUNK_MAX_TOKENS": str(setting.size),
            "CHUNK_OVERLAP_TOKENS": str(setting.overlap),
            "EMBED_HEADINGS": "true" if setting.headings else "false",
            "RRF_K": str(rrf_k),
            "HYBRID_VECTOR_WEIGHT": str(vector_weight),
        }
    )


class PooledVectors:
    """The earlier settings' indexes of one set, lending vectors by chunk hash (the pipeline's ``reuse_from``).

    A chunk hash covers the embedded text and the embedding model, so a lent vector is exactly the one the embedder
    would compute again: results are unchanged, only time is saved (overlap 0 and 64 share most FAQ sections).
    """

    def __init__(self, indexes: list[Index]) -> None:
        self._indexes = indexes

    async def get_vectors(self, parent_key: str) -> dict[str, np.ndarray]:
        pooled: dict[str, np.ndarray] = {}
        for index in self._indexes:
            pooled.update(await index.get_vectors(parent_key))
        return pooled

    async def close(self) -> None:
        for index in self._indexes:
            await index.close()


def ingest_embedder(settings: Settings) -> object:
    """The configured embedder; the local one on ONE intra-op thread. On this shared 2-core machine the CPU is the
    limit, not the cores, and one thread spends no time spin-waiting for a second (same vectors, less CPU)."""
    if settings.embedding_backend == "local":
        from ingestion.embedding.local import LocalEmbedder

        return LocalEmbedder(threads=int(os.environ.get("BENCH_EMBED_THREADS", "1")))
    return wiring.build_embedder(settings)


async def ingest(settings: Settings, corpus: Path, earlier: list[Settings]) -> dict[str, object]:
    embedder = ingest_embedder(settings)
    lenders = PooledVectors([wiring.build_index(s, dimensions=embedder.dimensions) for s in earlier])
    pipeline = wiring.build_pipeline(settings, embedder=embedder, reuse_from=lenders)  # type: ignore[arg-type]
    source = wiring.build_folder_source(corpus)
    try:
        await pipeline.index.ensure()
        result = await pipeline.run(source, sync_deletes=True)
        stats = await pipeline.index.stats()
    finally:
        await source.close()
        await pipeline.close()
        await lenders.close()
    if result.failed:
        raise SystemExit(f"{corpus}: {result.failed} documents failed, e.g. {result.failures[0]}")
    return {**result.as_dict(), "index_chunks": stats.chunks}


def hybrid_columns(rrf_ks: list[int], weights: list[float]) -> list[str]:
    return [f"hybrid k{k} w{w:g}" for k, w in itertools.product(rrf_ks, weights)]


async def evaluate_index(
    setting: Setting, index_path: Path, golden: Path, corpus: Path, rrf_ks: list[int], weights: list[float]
) -> dict[str, dict[str, object]]:
    """``{"text": report, "vector": report, "hybrid k60 w1": report, ...}`` for one built index."""
    queries = load_golden(golden)
    roots = resolve_roots(str(corpus))
    reports: dict[str, dict[str, object]] = {}
    runs = [(SearchMode.TEXT, rrf_ks[0], 1.0), (SearchMode.VECTOR, rrf_ks[0], 1.0)]
    runs += [(SearchMode.HYBRID, k, w) for k, w in itertools.product(rrf_ks, weights)]
    for mode, k, w in runs:
        settings = settings_for(setting, index_path, rrf_k=k, vector_weight=w)
        embedder = wiring.build_embedder(settings)
        index = wiring.build_index(settings, dimensions=embedder.dimensions)
        try:
            report = await evaluate(queries, index=index, embedder=embedder, roots=roots, mode=mode, top=10)
        finally:
            await index.close()
            await embedder.close()
        reports[mode.value if mode is not SearchMode.HYBRID else f"hybrid k{k} w{w:g}"] = report
    return reports


async def run_set(name: str, args: argparse.Namespace, settings_grid: list[Setting]) -> list[dict[str, object]]:
    golden, corpus_set, files = golden_and_corpus(name, args)
    corpus = args.work / corpus_set / "corpus"
    print(f"== {name}: {files} documents staged in {corpus}", file=sys.stderr)
    rows = []
    earlier: list[Settings] = []
    for setting in settings_grid:
        index_path = args.work / corpus_set / f"{setting.key}.sqlite"
        if args.fresh:
            remove_index(index_path)
        started = time.perf_counter()
        run = await ingest(settings_for(setting, index_path), corpus, earlier)
        earlier.append(settings_for(setting, index_path))
        seconds = round(time.perf_counter() - started, 1)
        print(f"   {setting.key}: {run['index_chunks']} chunks, added {run['added']}, {seconds} s", file=sys.stderr)
        reports = await evaluate_index(setting, index_path, golden, corpus, args.rrf_k, args.vector_weights)
        rows.append({"set": name, **setting.__dict__, "ingest": run, "ingest_seconds": seconds, "modes": reports})
    return rows


def print_table(rows: list[dict[str, object]], metric: str, columns: list[str]) -> None:
    print(f"\n{metric}")
    header = f"{'set':<11}{'size':>5}{'ovl':>5}{'head':>5}{'chunks':>8}{'text':>8}{'vector':>8}"
    print(header + "".join(f"{c:>16}" for c in columns) + "   (+: hybrid >= the better of text and vector)")
    for row in rows:
        modes = row["modes"]
        best_single = max(modes["text"][metric], modes["vector"][metric])
        print(
            f"{row['set']:<11}{row['size']:>5}{row['overlap']:>5}{'on' if row['headings'] else 'off':>5}"
            f"{row['ingest']['index_chunks']:>8}{modes['text'][metric]:>8.3f}{modes['vector'][metric]:>8.3f}"
            + "".join(f"{modes[c][metric]:>15.3f}{'+' if modes[c][metric] >= best_single else ' '}" for c in columns)
        )


def integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def numbers(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--golden", type=Path, default=REPO / ".cache/golden/shared", help="build_golden.py's shared/")
    parser.add_argument("--work", type=Path, default=REPO / ".cache/eval-matrix", help="staged corpora and indexes")
    parser.add_argument(
        "--corpora", type=Path, default=Path(os.environ.get("CORPORA_DIR", REPO / ".cache/corpora")),
        help="fetch.sh's folder (`make corpora`), for our own sets",
    )  # fmt: skip
    parser.add_argument("--sets", default="django_faq,debian_faq")
    parser.add_argument("--sizes", type=integers, default=[128, 256, 512], help="CHUNK_MAX_TOKENS values")
    parser.add_argument("--overlaps", type=integers, default=[0, 64], help="CHUNK_OVERLAP_TOKENS values")
    parser.add_argument("--headings", choices=["on", "off", "both"], default="on", help="EMBED_HEADINGS values")
    parser.add_argument("--rrf-k", type=integers, default=[60], help="RRF_K values for hybrid (index reused)")
    parser.add_argument(
        "--vector-weights", type=numbers, default=[1.0, 6.0], help="HYBRID_VECTOR_WEIGHT values (index reused)"
    )
    parser.add_argument(
        "--fusion", choices=["exact-term", "fixed"], default="exact-term", help="HYBRID_FUSION of the hybrid cells"
    )
    parser.add_argument("--fresh", action="store_true", help="delete each setting's index before ingesting")
    parser.add_argument("--json", type=Path, help="also write every report to this file")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    FUSION["fusion"] = args.fusion
    headings = {"on": [True], "off": [False], "both": [True, False]}[args.headings]
    grid = [
        Setting(size, overlap, heading)
        for size, overlap, heading in itertools.product(args.sizes, args.overlaps, headings)
        if overlap < size
    ]
    rows = []
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        rows += await run_set(name, args, grid)
    for metric in ("recall@5", "mrr@10"):
        print_table(rows, metric, hybrid_columns(args.rrf_k, args.vector_weights))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
