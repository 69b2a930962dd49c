"""Alembic environment: migrations run on the connection that `migrate()` hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
if (
    connection.dialect.name == "sqlite"
    and not connection.connection.dbapi_connection.in_transaction
):
    # Python's sqlite3 opens a transaction only before DML, so DDL ran in autocommit: a
    # migration refused half-way (a downgrade that would lose rows) kept the tables it had
    # already dropped. An explicit BEGIN makes SQLite's DDL as atomic as PostgreSQL's.
    connection.exec_driver_sql("BEGIN")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
