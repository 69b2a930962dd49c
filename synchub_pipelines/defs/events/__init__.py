"""Event-driven incremental sync: webhook events, sensors, Shopee polling, reconciliation."""
