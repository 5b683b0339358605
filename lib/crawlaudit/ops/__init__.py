"""Operating audits: the schedule and its leases, cluster submission, the trend report."""
