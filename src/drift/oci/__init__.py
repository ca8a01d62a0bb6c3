"""Drift oci package."""
