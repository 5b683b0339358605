#!/usr/bin/env python
"""Fuzz the ingestion layer: mutate valid WET files and check that nothing crashes, hangs or vanishes.

Each mutant (truncation, flipped bytes in members and headers, wrong or huge Content-Length, missing headers,
bad encodings, NUL bytes, empty and 200 MB records, gzip bombs, non-gzip files, empty files, repeated
record ids, garbage between members) is written to a file and parsed by crawlaudit.ingest.wet.parse_file. The
invariants are in crawlaudit.devtools.fuzz: every untouched record read intact, every lost record matched by an
error row, no exception, a bounded time per file. Prints counts per mutation kind and per error kind, and
the peak memory.

    .venv/bin/python scripts/fuzz_ingest.py --mutants 10000
"""
from __future__ import annotations

import argparse
import collections
import os
import resource
import signal
import sys
import tempfile
import time

from crawlaudit.devtools import fuzz
from crawlaudit.ingest import wet as ingest
from crawlaudit.config import InputConfig


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mutants", type=int, default=10_000, help="number of mutants (default 10,000)")
    p.add_argument("--seed", type=int, default=0, help="first seed; mutant i uses seed + i")
    p.add_argument("--time-bound", type=int, default=30, help="seconds allowed per file before it counts as a hang")
    p.add_argument("--max-record-bytes", type=int, default=5_000_000, help="input.max_record_bytes for the parse")
    p.add_argument("--show", type=int, default=3, help="failures to print per mutation kind")
    args = p.parse_args(argv)

    cfg = InputConfig(max_record_bytes=args.max_record_bytes)
    path = os.path.join(tempfile.mkdtemp(prefix="fuzz-ingest-"), "mutant.warc.wet.gz")

    def parse(data: bytes):
        with open(path, "wb") as f:
            f.write(data)
        signal.alarm(args.time_bound)
        try:
            return list(ingest.parse_file(path, "CC-MAIN-2024-22", cfg))
        finally:
            signal.alarm(0)

    signal.signal(signal.SIGALRM, _alarm)
    kinds, failed, error_kinds = collections.Counter(), collections.Counter(), collections.Counter()
    crashes = hangs = 0
    t0 = time.time()
    for i in range(args.mutants):
        seed = args.seed + i
        try:
            kind, problems, errs = fuzz.run_one(parse, seed, time_bound=args.time_bound)
        except Hang:
            kind, problems, errs = "?", ["hang"], []
        kinds[kind] += 1
        error_kinds.update(errs)
        if problems:
            failed[kind] += 1
            crashes += any(p.startswith("crash") for p in problems)
            hangs += any(p.startswith("hang") or p.startswith("took") for p in problems)
            if failed[kind] <= args.show:
                print(f"seed {seed} {kind}: {problems[:3]}", file=sys.stderr)
        if (i + 1) % 1000 == 0:
            print(f"... {i + 1}/{args.mutants} mutants, {time.time() - t0:.0f}s", file=sys.stderr)

    print(f"{args.mutants} mutants in {time.time() - t0:.0f}s: {crashes} crashes, {hangs} hangs, "
          f"{sum(failed.values())} invariant violations")
    print("mutation kind        mutants  violations")
    for k, n in sorted(kinds.items()):
        print(f"  {k:18} {n:>8} {failed[k]:>11}")
    print("error kind           rows")
    for k, n in sorted(error_kinds.items()):
        print(f"  {k:18} {n:>8}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 1 if sum(failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
