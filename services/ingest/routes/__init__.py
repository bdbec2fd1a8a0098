"""HTTP routes by resource: `events` (the intake) and `ops` (health, readiness, metrics)."""
