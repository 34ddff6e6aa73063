"""Persistence: one SQLite database (WAL), migrated at start."""

from .db import Database

__all__ = ["Database"]
