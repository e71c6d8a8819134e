"""Thin Slack listeners, one module per listener kind, each exporting ``register(app)``."""
