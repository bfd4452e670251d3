"""The store tests run on SQLite and on PostgreSQL.

PostgreSQL comes from ``$MASTERY_TEST_POSTGRES_URL`` (a server the tests may create databases
on; `.ci/postgres.sh start DIR` starts a throwaway one and prints the variable). Without it the
PostgreSQL cases skip with the reason, unless ``MASTERY_REQUIRE_POSTGRES=1`` (set by `.ci/run`),
where they fail. Each PostgreSQL test gets a schema of its own, dropped afterwards.

Import the fixtures into a test module (``from store_backends import backend, store_url``);
a test that takes ``store_url`` runs once per backend.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

POSTGRES_ENV = "MASTERY_TEST_POSTGRES_URL"
REQUIRE_ENV = "MASTERY_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgresql")


def postgres_server() -> str:
    """The URL of the test PostgreSQL server, or skip (fail when it is required)."""
    url = os.environ.get(POSTGRES_ENV)
    reason = None
    if not url:
        reason = f"no PostgreSQL server for the tests (${POSTGRES_ENV} is not set; `.ci/postgres.sh start DIR` starts one)"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            reason = "psycopg is not installed (pip install -e '.[test]')"
    if reason:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires the PostgreSQL tests to run")
        pytest.skip(reason)
    return url


def _admin(url: str):
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


_TEST_DATABASE = "mastery_tests"


def new_postgres_store_url(server: str) -> str:
    """A URL whose tables live in a new, empty schema of one test database.

    A schema is made in milliseconds where ``CREATE DATABASE`` takes a second; the URL's
    ``search_path`` points the store at it, so the store sees only its own tables.
    """
    engine = _admin(server)
    with engine.connect() as conn:
        if conn.exec_driver_sql(f"SELECT 1 FROM pg_database WHERE datname = '{_TEST_DATABASE}'").first() is None:
            try:
                conn.exec_driver_sql(f'CREATE DATABASE "{_TEST_DATABASE}"')
            except sa.exc.ProgrammingError:  # made by a concurrent test process meanwhile
                pass
    engine.dispose()
    database = sa.engine.make_url(server).set(database=_TEST_DATABASE)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = _admin(database)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    return database.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def drop_postgres_store(url: str) -> None:
    made = sa.engine.make_url(url)
    schema = made.query["options"].split("=", 1)[1]
    engine = _admin(made.difference_update_query(["options"]))
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The name of the database the test runs on (once per backend)."""
    return request.param


@pytest.fixture
def store_url(backend, tmp_path):
    """The URL of a new, empty store location on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'mastery.db'}"
        return
    url = new_postgres_store_url(postgres_server())
    try:
        yield url
    finally:
        drop_postgres_store(url)


@pytest.fixture
def store(store_url):
    """An empty store on each backend (overrides the SQLite-only ``store`` of conftest)."""
    from mastery_analysis.store import open_store

    s = open_store(store_url)
    yield s
    s.close()
