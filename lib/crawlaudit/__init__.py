"""crawlaudit: per-domain, per-snapshot and per-year audit of Common Crawl for signs of model collapse."""

__version__ = "0.1.0"

import warnings as _warnings

# pandas 3 makes PySpark 4.2 warn on every pandas UDF; the UDFs here use only APIs that work with it.
_warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
