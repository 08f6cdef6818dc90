"""Store fixtures live in tests/db_fixtures.py (shared with the scheduler suite, registered in tests/conftest.py)."""
