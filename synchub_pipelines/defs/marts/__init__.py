"""The marts: a dbt project over the warehouse, loaded with dagster-dbt (docs/marts.md)."""
