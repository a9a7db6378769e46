"""Billing: code sets, fee schedules, charges (encounters), the scrubber, claims, EDI files."""
