"""Bolt pull client tests: unit tests of its parts, end to end against drift serve."""
