"""Drift transports package."""
