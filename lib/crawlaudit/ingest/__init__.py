"""Reading a snapshot: WET manifests and records into documents (``wet``), registered domains (``domains``),
progress of the file reads (``progress``)."""
