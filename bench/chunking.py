"""Chunking throughput: our Chunker vs langchain's RecursiveCharacterTextSplitter vs bare tiktoken encoding.

Every text-like file under DIR is read first, outside the timed region (.html/.htm cracked to text with
BeautifulSoup's get_text; .txt/.md/.rst/.py read as plain text), and the same texts go to all three contenders:

* ours: ``Chunker(get_tokenizer(), max_tokens=..., overlap_tokens=...)`` on a ``CrackedDocument`` per file;
* langchain: ``RecursiveCharacterTextSplitter`` with the length function ``from_tiktoken_encoder`` builds
  (``len(enc.encode(text, allowed_special=set(), disallowed_special="all"))``) on our offline cl100k_base encoding,
  because ``from_tiktoken_encoder`` itself would download the encoding;
* encode: ``enc.encode(text, disallowed_special=())`` of each text, the floor for anything that counts tokens.

A file containing a special-token string (``<|endoftext|>``...) is left out for all three, since langchain's length
function refuses it. The contenders run in ``--rounds`` interleaved rounds (default 5, rotating who goes first, with
the garbage collector paused as timeit does) and each one's median round counts: on a shared machine that is steadier
than the best round. Chunk statistics (count, mean and max tokens, chunks over the cap, and for ours any chunk whose
``tokens`` differs from a recount) are computed after timing, with the same encoding. The last line is
machine-readable::

    ours_MBps=X langchain_MBps=Y encode_MBps=Z

    .venv/bin/python bench/chunking.py .cache/corpora/html/django
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bs4 import BeautifulSoup
from langchain_text_splitters import RecursiveCharacterTextSplitter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingestion.chunking import Chunker
from ingestion.models import CrackedDocument
from ingestion.tokenizer import get_tokenizer

HTML_SUFFIXES = {".html", ".htm"}
TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py"}


def load_texts(root: Path, limit_mb: float | None) -> list[tuple[str, str]]:
    """(name, text) of every text-like file under ``root`` (following symlinks), in path order, up to the limit."""
    paths = []
    for folder, _, names in os.walk(root, followlinks=True):
        paths += [Path(folder) / name for name in names if Path(name).suffix.lower() in HTML_SUFFIXES | TEXT_SUFFIXES]
    texts, size = [], 0
    for path in sorted(paths):
        raw = path.read_bytes()
        if path.suffix.lower() in HTML_SUFFIXES:
            text = BeautifulSoup(raw, "lxml").get_text()
        else:
            text = raw.decode("utf-8", errors="replace")
        texts.append((str(path.relative_to(root)), text))
        size += len(text.encode("utf-8"))
        if limit_mb is not None and size >= limit_mb * 1e6:
            break
    return texts


def median_seconds(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, object]]:
    """Median wall-clock seconds of each contender over ``rounds`` interleaved rounds (rotating order), and a result."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    results: dict[str, object] = {}
    names = list(contenders)
    for round_index in range(rounds):
        for name in names[round_index % len(names) :] + names[: round_index % len(names)]:  # rotate who goes first
            run = contenders[name]
            gc.collect()
            gc.disable()  # as timeit does: one contender's garbage is not collected on another's clock
            try:
                started = time.perf_counter()
                result = run()
                elapsed = time.perf_counter() - started
            finally:
                gc.enable()
            seconds[name].append(elapsed)
            results[name] = result
    return {name: (statistics.median(seconds[name]), results[name]) for name in names}


def chunk_stats(token_counts: Sequence[int], cap: int) -> str:
    if not token_counts:
        return "chunks=0"
    mean = sum(token_counts) / len(token_counts)
    over = sum(count > cap for count in token_counts)
    return f"chunks={len(token_counts)} mean_tokens={mean:.1f} max_tokens={max(token_counts)} over_cap={over}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--limit-mb", type=float, default=None, help="stop reading files after this many MB of text")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per contender; the median counts")
    args = parser.parse_args(argv)

    tokenizer = get_tokenizer()
    enc = tokenizer.encoding
    specials = tuple(enc.special_tokens_set)  # type: ignore[attr-defined]
    loaded = load_texts(args.dir, args.limit_mb)
    texts = [(name, text) for name, text in loaded if not any(special in text for special in specials)]
    megabytes = sum(len(text.encode("utf-8")) for _, text in texts) / 1e6
    print(f"{len(texts)} files ({len(loaded) - len(texts)} with special tokens left out), {megabytes:.2f} MB of text")
    if not texts:
        return 1

    chunker = Chunker(tokenizer, max_tokens=args.max_tokens, overlap_tokens=args.overlap)
    documents = [CrackedDocument(text=text, title=name) for name, text in texts]

    def langchain_length(text: str) -> int:  # what from_tiktoken_encoder builds (langchain_text_splitters/base.py)
        return len(enc.encode(text, allowed_special=set(), disallowed_special="all"))  # type: ignore[attr-defined]

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=args.max_tokens, chunk_overlap=args.overlap, length_function=langchain_length
    )
    plain = [text for _, text in texts]

    timed = median_seconds(
        {
            "encode": lambda: [enc.encode(t, disallowed_special=()) for t in plain],
            "langchain": lambda: [splitter.split_text(t) for t in plain],
            "ours": lambda: [chunker.chunk(d) for d in documents],
        },
        args.rounds,
    )
    (encode_s, encoded), (langchain_s, split), (ours_s, chunked) = timed["encode"], timed["langchain"], timed["ours"]

    ours_counts = [chunk.tokens for chunks in chunked for chunk in chunks]  # type: ignore[attr-defined]
    recounted = [tokenizer.count(chunk.text) for chunks in chunked for chunk in chunks]  # type: ignore[attr-defined]
    mismatched = sum(a != b for a, b in zip(ours_counts, recounted, strict=True))
    langchain_counts = [tokenizer.count(piece) for pieces in split for piece in pieces]  # type: ignore[attr-defined]
    total_tokens = sum(len(tokens) for tokens in encoded)  # type: ignore[attr-defined]

    rates = {name: megabytes / seconds for name, seconds in (("ours", ours_s), ("langchain", langchain_s))}
    rates["encode"] = megabytes / encode_s
    cap = args.max_tokens
    print(f"ours       {rates['ours']:7.2f} MB/s  {chunk_stats(recounted, cap)} token_mismatches={mismatched}")
    print(f"langchain  {rates['langchain']:7.2f} MB/s  {chunk_stats(langchain_counts, cap)}")
    print(f"encode     {rates['encode']:7.2f} MB/s  tokens={total_tokens}")
    versus_langchain, versus_encode = rates["ours"] / rates["langchain"], rates["ours"] / rates["encode"]
    print(f"ratios: ours/langchain={versus_langchain:.2f} ours/encode={versus_encode:.2f}")
    print(f"ours_MBps={rates['ours']:.2f} langchain_MBps={rates['langchain']:.2f} encode_MBps={rates['encode']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
