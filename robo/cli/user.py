"""``robo user``: firms, users and API tokens of the web service (passwords hashed with argon2, tokens shown once).

    robo user firm northwind --name "Northwind Advisors" --clients-may-approve
    robo user assign rivera northwind                       # the firm serves the household; its advisors see it
    robo user add alex --role advisor --firm northwind      # asks for the password (or --password-stdin)
    robo user add rosa --role client --household rivera
    robo user token alex --name ci                          # prints robo_<id>.<secret> once
    robo user list
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from robo.cli import _args

if TYPE_CHECKING:
    from engine.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="web service users: add, list, tokens, firms")
    us = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    add = us.add_parser("add", help="add a user (advisor, client or admin)")
    add.add_argument("user", help="user name (lowercase letters, digits, . _ @ -)")
    add.add_argument("--role", required=True, choices=["advisor", "client", "admin"])
    add.add_argument("--name", help="full name (default: the user name)")
    add.add_argument("--firm", type=_args.identifier("--firm", "firm id"), help="the advisor's firm")
    add.add_argument("--household", type=_args.identifier("--household", "household id"), action="append", default=[],
                     help="a client's household (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=run_add)

    ls = us.add_parser("list", help="users with their role, firm, households and tokens")
    ls.set_defaults(func=run_list)

    tok = us.add_parser("token", help="create an API token for a user (printed once)")
    tok.add_argument("user")
    tok.add_argument("--name", default="api", help="a label for the token")
    tok.add_argument("--hours", type=_args.real_range("--hours", 0, 24 * 366 * 10, lo_open=True),
                     help="lifetime in hours (default: until revoked)")
    tok.set_defaults(func=run_token)

    rev = us.add_parser("revoke", help="revoke a token by its id (the part after robo_ and before the dot)")
    rev.add_argument("token_id", type=_args.identifier("TOKEN_ID", "token id"))
    rev.set_defaults(func=run_revoke)

    pw = us.add_parser("passwd", help="set a user's password (ends their browser sessions)")
    pw.add_argument("user")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(func=run_passwd)

    firm = us.add_parser("firm", help="add a firm")
    firm.add_argument("firm", type=_args.identifier("FIRM", "firm id"))
    firm.add_argument("--name", required=True)
    firm.add_argument("--clients-may-approve", action="store_true",
                      help="clients of this firm may approve their own household's proposals")
    firm.set_defaults(func=run_firm)

    assign = us.add_parser("assign", help="make a firm serve a household")
    assign.add_argument("household", type=_args.identifier("HOUSEHOLD", "household id"))
    assign.add_argument("firm", type=_args.identifier("FIRM", "firm id"))
    assign.set_defaults(func=run_assign)
    for sp in (add, ls, tok, rev, pw, firm, assign):
        sp.add_argument("--url", help="database URL (default: ROBO_DATABASE_URL or SQLite under ROBO_HOME)")


def _store(args: argparse.Namespace) -> Store:
    from engine.store import Store

    store = Store(args.url)
    store.upgrade()
    return store


def _password(from_stdin: bool) -> str:
    from engine.errors import ValidationError

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValidationError("the two passwords differ", field="password", fix="type the same password twice")
    return first


def run_add(args: argparse.Namespace) -> int:
    from engine.store import Role, User
    from robo.cli._out import console
    from service.auth import hash_password

    user = User(args.user, args.name or args.user, Role(args.role), firm=args.firm, households=tuple(args.household))
    hashed = hash_password(_password(args.password_stdin))
    with _store(args) as store:
        store.users.add(user, password_hash=hashed, actor="robo")
    console.print(f"Added {user.role.value} {user.id}.", highlight=False)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from robo.cli._out import console, table

    now = datetime.now(UTC)
    with _store(args) as store:
        rows = []
        for u in store.users.list():
            tokens = [t for t in store.users.tokens(u.id, kind="api") if t.valid_at(now)]
            rows.append((u.id, u.name, u.role.value, u.firm or "—", ", ".join(u.households) or "—",
                         ", ".join(f"{t.id} ({t.name})" for t in tokens) or "—", "yes" if u.active else "no"))
    console.print(table("Users", ["user", "name", "role", "firm", "households", "API tokens", "active"], rows))
    return 0


def run_token(args: argparse.Namespace) -> int:
    from robo.cli._out import console
    from service.auth import issue_token

    with _store(args) as store:
        store.users.get(args.user)
        token = issue_token(store, args.user, name=args.name, hours=args.hours, actor="robo")
    console.print("API token (shown once; send it as 'Authorization: Bearer …'):", highlight=False)
    print(token)
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from robo.cli._out import console

    with _store(args) as store:
        store.users.revoke_token(args.token_id, actor="robo")
    console.print(f"Token {args.token_id} revoked.", highlight=False)
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    from robo.cli._out import console
    from service.auth import hash_password

    hashed = hash_password(_password(args.password_stdin))
    with _store(args) as store:
        store.users.set_password(args.user, hashed, actor="robo")
    console.print(f"Password of {args.user} changed; their browser sessions ended.", highlight=False)
    return 0


def run_firm(args: argparse.Namespace) -> int:
    from engine.store import Firm
    from robo.cli._out import console

    with _store(args) as store:
        store.users.add_firm(Firm(args.firm, args.name, clients_may_approve=args.clients_may_approve), actor="robo")
    console.print(f"Added firm {args.firm}.", highlight=False)
    return 0


def run_assign(args: argparse.Namespace) -> int:
    from robo.cli._out import console

    with _store(args) as store:
        store.users.assign(args.household, args.firm, actor="robo")
    console.print(f"{args.firm} now serves {args.household}.", highlight=False)
    return 0
