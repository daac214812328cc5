"""Data helpers that adapt RecBole's datasets from outside."""
