"""Drift registry package."""
