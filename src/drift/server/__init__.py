"""Drift server package."""
