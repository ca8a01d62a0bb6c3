"""Drift: a fast, self-hosted OCI container registry."""

__version__ = "0.1.0"
