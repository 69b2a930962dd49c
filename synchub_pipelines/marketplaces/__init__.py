"""Marketplace API clients: one module per API, plus the shared HTTP layer and token handling.

Clients return canonical models (`synchub_pipelines.models`) and know nothing of Dagster,
assets or warehouse tables; tokens persist through the `TokenStore` interface.
"""
