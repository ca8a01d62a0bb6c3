"""Drift cli package."""
