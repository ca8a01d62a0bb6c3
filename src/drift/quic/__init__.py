"""Drift quic package."""
