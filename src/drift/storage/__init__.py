"""Drift storage package."""
