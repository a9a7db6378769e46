"""Organisations and locations: the reference data every other domain points at."""
