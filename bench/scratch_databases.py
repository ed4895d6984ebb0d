"""The databases a bench runs against: a fresh SQLite file, a scratch PostgreSQL database.

Shared by the bench scripts that take ``--db sqlite,postgresql``, so each of them times
the same two setups: SQLite in a temporary folder, PostgreSQL as a database of its own on
127.0.0.1, created empty and dropped afterwards.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.scratch import recreate_database

LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@asynccontextmanager
async def scratch_database(db: str, postgres_name: str) -> AsyncIterator[str]:
    """The URL of an empty database of kind ``db`` (``sqlite`` or ``postgresql``)."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
    elif db == "postgresql":
        await recreate_database(postgres_name)
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{postgres_name}"
        finally:
            await recreate_database(postgres_name, drop_only=True)
    else:
        raise SystemExit(f"unknown --db {db} (sqlite or postgresql)")
