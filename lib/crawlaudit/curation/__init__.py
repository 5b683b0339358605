"""From audit to curation: the per-document view of what to keep and why (``view``), built from the tables the audit
already wrote."""
