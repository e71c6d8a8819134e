"""Offline stand-ins for Meta's Order Management API and the Slack Web API.

They are the sandboxes' own code: the bot talks to them only through the base URLs in its settings.
"""
