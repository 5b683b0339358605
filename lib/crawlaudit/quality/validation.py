"""Precondition checks for transforms (quinn's validate_presence_of_columns, as a narrow error)."""
from __future__ import annotations

from pyspark.sql import DataFrame


class MissingColumnsError(ValueError):
    """A transform got a DataFrame without the columns it needs."""


def require_columns(df: DataFrame, required: list[str], where: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise MissingColumnsError(f"{where}: missing columns {missing}; present: {df.columns}")
