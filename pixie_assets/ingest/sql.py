"""The ingestion SQL, kept as files in ``sql/ingest/`` and loaded by name through the project's
SQL loader (``pixie_assets.core.sql``)."""

from __future__ import annotations

from pixie_assets.core import sql as project_sql
from pixie_assets.core.sql import bind

__all__ = ["bind", "load_sql", "render_sql"]


def load_sql(name: str) -> str:
    return project_sql.load_sql(f"ingest/{name}")


def render_sql(name: str, **fragments: str) -> str:
    return project_sql.render_sql(f"ingest/{name}", **fragments)
