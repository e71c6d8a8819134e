"""orderdesk: work Facebook and Instagram Shops orders from Slack."""

__version__ = "0.1.0"
