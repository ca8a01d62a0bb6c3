"""The S3 storage driver: distribution's v2 layout in a bucket (``S3Driver``)."""

from __future__ import annotations

from drift.storage.s3.driver import S3Driver

__all__ = ["S3Driver"]
