"""Alembic environment: runs migrations on the connection that :func:`samhandling.store.upgrade`
hands over (``config.attributes["connection"]``), or on ``sqlalchemy.url`` from the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from samhandling.store.models import Base, load_area_models

load_area_models()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url for the store migrations")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


_main()
