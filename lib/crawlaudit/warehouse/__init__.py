"""The warehouse: one owner of every storage access (``store.Warehouse``), the table names (``tables``), where
the warehouse lives (``location``), staged publication (``publish``) and the run log (``runs``)."""
from crawlaudit.warehouse.location import Location
from crawlaudit.warehouse.store import TableMissing, Warehouse

__all__ = ["Location", "TableMissing", "Warehouse"]
