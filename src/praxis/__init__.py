"""Praxis: open, self-hosted practice management for multi-location clinic groups."""

__version__ = "0.1.0"
