"""Drift config package."""
