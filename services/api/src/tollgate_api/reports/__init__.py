"""Finance reports: rollups of job cost, price and margin, their rebuild and drift check, and the
``/admin/reports`` views and CSV exports built on them (ADR 0007, docs/reports.md)."""
