"""Summaries of a results Dataset: operating characteristics, validation against published figures."""
