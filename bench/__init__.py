"""Benchmarks: `just bench`."""
