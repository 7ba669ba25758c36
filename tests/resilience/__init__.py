"""Retry, failover, round robin and the fault soak."""
