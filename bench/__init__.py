"""Drift throughput benchmark against the reference registry; see bench/README.md."""
