"""The warehouse: table definitions, migrations and fast idempotent writes. Knows no API."""
