"""Verification: every score in one place, per lead time."""
