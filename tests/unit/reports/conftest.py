"""The reports use the surveys' database fixtures: a migrated database (SQLite, and
PostgreSQL when TIEPDAN_TEST_POSTGRES_URL is set) emptied before each test, and the catalog."""

from tests.unit.surveys.conftest import catalog, session, survey_engine  # noqa: F401
