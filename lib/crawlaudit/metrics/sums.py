"""Aggregations whose result does not depend on the order of the rows (Spark column expressions).

A published number must be the same whatever the partition count or the order in which snapshots were audited;
Spark's double ``sum``/``avg`` differ in their last bits with the order partitions arrive in.
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

_EXACT = "decimal(38,18)"


def exact_sum(col: Column) -> Column:
    """The sum of a double column whatever the order of its rows: each value rounded to 18 decimals, summed
    exactly as a decimal, returned as a double."""
    return F.sum(col.cast(_EXACT)).cast("double")
