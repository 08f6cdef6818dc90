"""Alembic revision scripts, oldest first; each is reviewed by hand after ``--autogenerate``."""
