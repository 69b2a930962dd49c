"""Dagster definitions, one folder per domain (catalog, stores, listings, orders, stock…)."""
