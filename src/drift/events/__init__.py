"""Registry events: the audit trail and webhook notifications.

``drift.events.model`` is what services depend on (no I/O); the rest is wired per process.
"""
