"""Quality gates on audit results. (The Great Expectations suites come with the publication issue.)"""
from __future__ import annotations

from crawlaudit import schemas as S
from crawlaudit.errors import ErrorThresholdExceeded


def check_error_fraction(snapshot_row: dict, max_error_fraction: float) -> None:
    """Raise when the snapshot's unreadable share passes the threshold; the message says what failed."""
    frac = snapshot_row.get(S.ERROR_FRAC) or 0.0
    if frac > max_error_fraction:
        raise ErrorThresholdExceeded(
            f"{snapshot_row[S.SNAPSHOT]}: error fraction {frac:.4f} > quality.max_error_fraction "
            f"{max_error_fraction} ({snapshot_row[S.N_FAILED_FILES]} of {snapshot_row[S.N_FILES]} files failed, "
            f"{snapshot_row[S.N_ERROR_RECORDS]} of {snapshot_row[S.N_RECORDS]} records damaged); "
            f"see the ingest_errors table"
        )
