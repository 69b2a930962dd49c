"""Marketplace category trees, attribute rules and category predictors, one module each.

They use the store clients' public HTTP session and authentication only, so the clients
stay about listings, orders and stock.
"""
