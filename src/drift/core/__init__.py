"""Drift core package."""
