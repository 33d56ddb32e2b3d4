"""Data layer: SQLAlchemy models, engine/session factory, Alembic migrations and partitions."""
