"""One Python function per group, many groups per Python call.

``groupBy(...).applyInPandas`` serializes every group on its own (an Arrow stream in, a pandas frame out and back):
a fixed cost per group, whatever the function does, larger than the per-domain entropy or synthetic estimate of a
small domain (README, Performance). ``per_group`` gets the same result from one Arrow stream per
partition: rows hash-partitioned by the group and sorted by it, each group handed to the function as one pandas
frame (in ``order_cols`` order), a group that continues into the next batch carried over to it. A group's rows are
in one worker at a time, as with ``applyInPandas``.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from crawlaudit.quality.validation import require_columns

GroupFunction = Callable[[tuple, pd.DataFrame], dict]


def group_starts(keys: list[np.ndarray]) -> np.ndarray:
    """Row indices where a new group starts (0 first) in rows sorted by the key columns; nulls group together."""
    n = len(keys[0]) if keys else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(change)


def per_group(group_cols: list[str], order_cols: list[str], fn: GroupFunction,
              schema: StructType) -> Callable[[DataFrame], DataFrame]:
    """One row per group of ``group_cols``: the group's key and ``fn(key, rows)`` (a dict of ``schema``'s other
    columns), ``rows`` the group's rows as a pandas frame sorted by ``order_cols``. ``schema``: group_cols first,
    as the input's types. Columns in: group_cols, order_cols and whatever ``fn`` reads."""
    out_arrow = to_arrow_schema(schema)
    names = [f.name for f in schema.fields]

    def row(key: tuple, parts: list[pd.DataFrame]) -> dict:
        rows = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        out = {**dict(zip(group_cols, key)), **fn(key, rows)}
        return {c: out[c] for c in names}

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        current, parts = None, []   # the last group seen so far, which may continue in the next batch
        for batch in batches:
            if not batch.num_rows:
                continue
            # keys from Arrow (None for null), not from pandas, where a missing string reads NaN != NaN
            keys = [_objects(batch.column(c).to_pylist()) for c in group_cols]
            starts = group_starts(keys).tolist() + [batch.num_rows]
            frame, done = batch.to_pandas(), []
            for i, (s, e) in enumerate(zip(starts[:-1], starts[1:])):
                key = tuple(k[s] for k in keys)
                if not (i == 0 and parts and key == current):
                    if parts:
                        done.append(row(current, parts))
                    current, parts = key, []
                parts.append(frame.iloc[s:e])
            if done:
                yield pa.RecordBatch.from_pylist(done, schema=out_arrow)
        if parts:
            yield pa.RecordBatch.from_pylist([row(current, parts)], schema=out_arrow)

    def transform(df: DataFrame) -> DataFrame:
        require_columns(df, [*group_cols, *order_cols], "per_group")
        return (df.repartition(*group_cols).sortWithinPartitions(*group_cols, *order_cols)
                .mapInArrow(run, schema))

    return transform


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
