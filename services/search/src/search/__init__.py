"""The search service: an index of public portfolios, fed only by events."""
