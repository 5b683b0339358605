"""The gate before publication: expectation suites (``expectations``) run on a snapshot's results (``gate``), and
the column preconditions of the transforms (``validation``)."""
