"""Per-location intake workflows (versioned definitions), self-service links, check-in."""
