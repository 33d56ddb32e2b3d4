"""The clinic service's database engine: one per app, for the database of its settings."""

from __future__ import annotations

from sanic import Sanic
from sqlalchemy.engine import Engine

from clinicbot.db.engine import make_engine


def service_engine(app: Sanic) -> Engine:
    """The engine of ``app.ctx.settings.database_url``, made on first use and kept in ctx."""
    if getattr(app.ctx, "db_engine", None) is None:
        app.ctx.db_engine = make_engine(app.ctx.settings.database_url)
    engine: Engine = app.ctx.db_engine
    return engine
