"""Summaries of stored per-trial results: arm selection strategies and their metrics."""
