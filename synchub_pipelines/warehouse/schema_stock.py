"""Warehouse tables of the stock domain, on the shared `schema.metadata`.

Imported at the end of schema.py so that every table is known wherever the schema is;
each table registers its natural key in `schema.KEYS` itself.
"""
