"""``robo db``: create or migrate the store's tables and show the revision the database is at.

    robo db upgrade                 # the database of ROBO_DATABASE_URL (default: SQLite under ROBO_HOME)
    robo db current --url postgresql+psycopg://postgres@127.0.0.1:5432/robo
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database: migrate (upgrade) or show the current revision")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="create or migrate the tables to the newest revision")
    up.add_argument("--url", help="database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(func=upgrade)
    cur = dbsub.add_parser("current", help="show the revision the database is at")
    cur.add_argument("--url", help="database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)")
    cur.set_defaults(func=current)


def upgrade(args: argparse.Namespace) -> int:
    from engine.store import Store, head
    from robo.cli._out import console

    with Store(args.url) as store:
        reached = store.upgrade(args.revision)
        console.print(f"{store!r}: at revision {reached} (newest shipped: {head()})", highlight=False)
    return 0


def current(args: argparse.Namespace) -> int:
    from engine.errors import NotFound
    from engine.store import Store, head
    from robo.cli._out import console

    try:
        store = Store(args.url, create=False)  # reading the revision must not create a database file
    except NotFound as exc:
        console.print(str(exc), highlight=False)
        return 1
    with store:
        rev = store.current()
        latest = head()
        if rev is None:
            console.print(f"{store!r}: no tables yet — run `robo db upgrade`", highlight=False)
            return 1
        note = "up to date" if rev == latest else f"behind {latest} — run `robo db upgrade`"
        console.print(f"{store!r}: at revision {rev} ({note})", highlight=False)
    return 0
