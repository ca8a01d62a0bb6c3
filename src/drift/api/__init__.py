"""Drift api package."""
