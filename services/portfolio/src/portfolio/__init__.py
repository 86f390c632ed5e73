"""Portfolios of items: the hub of the platform."""
