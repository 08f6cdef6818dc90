"""People and permissions in the store: firms, users, their households, API/session tokens and idempotency keys.

    store.users.add_firm(Firm("northwind", "Northwind Advisors", clients_may_approve=True))
    store.users.add(User("alex", "Alex Kim", Role.ADVISOR, firm="northwind"), password_hash=argon2_hash)

The store never sees a secret: the service hashes passwords (argon2) and token secrets (SHA-256) before they get
here. Every change is audited (entity ``user``, ``firm`` or ``token``) in the same transaction.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound, ValidationError
from engine.store.base import SYSTEM, Repository, changed, normalized, store_error
from engine.store.mapping import RowMapper
from engine.store.people_tables import (
    ApiTokenRow,
    FirmRow,
    HouseholdFirmRow,
    IdempotencyRow,
    UserHouseholdRow,
    UserRow,
)
from engine.store.tables import AuditRow, HouseholdRow

__all__ = ["Firm", "IdempotencyRecord", "Role", "TokenKind", "TokenRecord", "User", "UserRepository", "sign_in_key"]

_ID = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class Role(StrEnum):
    """What a user may see and do: an advisor serves their firm's households, a client their own, an admin all."""

    ADVISOR = "advisor"
    CLIENT = "client"
    ADMIN = "admin"


class TokenKind(StrEnum):
    """An API token (REST clients, ``Authorization: Bearer``) or a browser session (cookie)."""

    API = "api"
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Firm:
    """An advisory firm; ``clients_may_approve``: its clients may approve their own household's proposals."""

    id: str
    name: str
    clients_may_approve: bool = False

    def __post_init__(self) -> None:
        _check_id(self.id, "Firm.id")
        if not self.name.strip():
            raise ValidationError("a firm needs a name", field="Firm.name", value=self.name)


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in. ``households``: a client's own households (advisors see their firm's instead)."""

    id: str
    name: str
    role: Role
    firm: str | None = None
    households: tuple[str, ...] = ()
    active: bool = True

    def __post_init__(self) -> None:
        _check_id(self.id, "User.id")
        try:
            object.__setattr__(self, "role", Role(self.role))
        except ValueError as exc:
            raise ValidationError("unknown role", field="User.role", value=self.role,
                                  fix=f"use one of: {', '.join(r.value for r in Role)}") from exc
        object.__setattr__(self, "households", tuple(self.households))
        if self.role is Role.ADVISOR and not self.firm:
            raise ValidationError("an advisor belongs to a firm", field="User.firm", value=self.firm,
                                  fix="name the advisor's firm (robo user add --firm FIRM)")


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token without its secret: id (public), owner, kind, label and its life times (aware UTC)."""

    id: str
    user: str
    kind: TokenKind
    name: str
    created: datetime
    expires: datetime | None = None
    revoked: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        """Not revoked and not expired at ``now``."""
        return self.revoked is None and (self.expires is None or now < self.expires)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A request seen under an ``Idempotency-Key``: its fingerprint and, once finished, status and JSON body."""

    user: str
    key: str
    method: str
    path: str
    fingerprint: str
    status_code: int | None
    response: Any
    created: datetime

    @property
    def finished(self) -> bool:
        """The first request under this key has its response stored (else it is still running)."""
        return self.status_code is not None


#: Firms, users, tokens and idempotency keys ↔ their rows (engine/store/mapping.py); secrets' hashes, a user's
#: households (``user_households`` rows) and the rows' times are the repository's own.
FIRMS: RowMapper[Firm] = RowMapper(Firm, FirmRow, keys=("created_at",))
USERS: RowMapper[User] = RowMapper(User, UserRow, renames={"firm": "firm_id"}, children=("households",),
                                   keys=("password_hash", "created_at", "updated_at"))
TOKENS: RowMapper[TokenRecord] = RowMapper(TokenRecord, ApiTokenRow, keys=("secret_hash",), renames={
    "user": "user_id", "created": "created_at", "expires": "expires_at", "revoked": "revoked_at"})
IDEMPOTENCY: RowMapper[IdempotencyRecord] = RowMapper(IdempotencyRecord, IdempotencyRow, keys=("completed_at",),
                                                      renames={"user": "user_id", "created": "created_at"})


def _check_id(value: Any, field: str) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValidationError("must be 1–64 lowercase letters, digits, '.', '_', '@' or '-'", field=field,
                              value=value, fix="e.g. alex or alex@northwind.example")


def utc_now() -> datetime:
    return datetime.now(UTC)


class UserRepository(Repository):
    """Firms, users, their households, tokens and idempotency keys (``store.users``)."""

    # -- firms ---------------------------------------------------------------------------------

    def add_firm(self, firm: Firm, *, actor: str = SYSTEM) -> None:
        """Store a new firm.

        Raises:
            Conflict: a firm with this id exists.
        """
        with self._tx() as session:
            if session.get(FirmRow, firm.id) is not None:
                raise store_error(Conflict, f"firm {firm.id!r} already exists", "pick another id")
            session.add(FirmRow(**FIRMS.values(firm, created_at=utc_now())))
            self._record(session, actor=actor, action="firm.add", entity="firm", entity_id=firm.id, household=None,
                         after=firm)

    def firm(self, firm_id: str) -> Firm:
        """The firm with this id.

        Raises:
            NotFound: no such firm.
        """
        with self._tx() as session:
            return _firm(_firm_or_raise(session, firm_id))

    def firms(self) -> list[Firm]:
        """Every firm, by id."""
        with self._tx() as session:
            return [_firm(r) for r in session.scalars(select(FirmRow).order_by(FirmRow.id))]

    def assign(self, household_id: str, firm_id: str, *, actor: str = SYSTEM) -> None:
        """Make ``firm_id`` the firm serving the household (replacing any earlier one); audited.

        Raises:
            NotFound: no such household or firm.
        """
        with self._tx() as session:
            _firm_or_raise(session, firm_id)
            _household_or_raise(session, household_id)
            row = session.get(HouseholdFirmRow, household_id)
            before = None if row is None else row.firm_id
            if row is None:
                session.add(HouseholdFirmRow(household_id=household_id, firm_id=firm_id))
            else:
                row.firm_id = firm_id
            self._record(session, actor=actor, action="household.assign_firm", entity="household",
                         entity_id=household_id, household=household_id, before={"firm": before},
                         after={"firm": firm_id})

    def firm_of(self, household_id: str) -> str | None:
        """The id of the firm serving the household (``None``: no firm yet)."""
        with self._tx() as session:
            row = session.get(HouseholdFirmRow, household_id)
            return None if row is None else row.firm_id

    def households_of_firm(self, firm_id: str) -> builtins.list[str]:
        """Ids of the households the firm serves, sorted."""
        with self._tx() as session:
            stmt = select(HouseholdFirmRow.household_id).where(HouseholdFirmRow.firm_id == firm_id)
            return sorted(session.scalars(stmt))

    # -- users ---------------------------------------------------------------------------------

    def add(self, user: User, *, password_hash: str, actor: str = SYSTEM) -> User:
        """Store a new user with a password hash (never a password) and link a client's households.

        Raises:
            Conflict: a user with this id exists.
            NotFound: the firm or one of the households is not stored.
            ValidationError: the hash is empty.
        """
        if not password_hash or not password_hash.startswith("$"):
            raise ValidationError("expected a password hash (argon2 PHC string), not a password",
                                  field="password_hash", fix="hash it with service.auth.hash_password")
        if user.role is Role.CLIENT and not user.households:
            raise ValidationError("a client needs their household", field="User.households", value=user.households,
                                  fix="link the client to a household (robo user add --household ID)")
        with self._tx() as session:
            if session.get(UserRow, user.id) is not None:
                raise store_error(Conflict, f"user {user.id!r} already exists", "pick another user name")
            if user.firm is not None:
                _firm_or_raise(session, user.firm)
            for h in user.households:
                _household_or_raise(session, h)
            now = utc_now()
            session.add(UserRow(**USERS.values(user, password_hash=password_hash, created_at=now, updated_at=now)))
            session.flush()
            for h in dict.fromkeys(user.households):
                session.add(UserHouseholdRow(user_id=user.id, household_id=h))
            self._record(session, actor=actor, action="user.add", entity="user", entity_id=user.id, household=None,
                         after={"name": user.name, "role": user.role.value, "firm": user.firm,
                                "households": list(user.households)})
            session.flush()
            return _user(session, _user_or_raise(session, user.id))

    def get(self, user_id: str) -> User:
        """The user with this id and their linked households.

        Raises:
            NotFound: no such user.
        """
        with self._tx() as session:
            return _user(session, _user_or_raise(session, user_id))

    def list(self, *, firm: str | None = None, role: Role | str | None = None) -> builtins.list[User]:
        """Users, optionally of one firm and/or one role, by id."""
        stmt = select(UserRow).order_by(UserRow.id)
        if firm is not None:
            stmt = stmt.where(UserRow.firm_id == firm)
        if role is not None:
            stmt = stmt.where(UserRow.role == Role(role).value)
        with self._tx() as session:
            return [_user(session, r) for r in session.scalars(stmt).all()]

    def password_hash(self, user_id: str) -> str:
        """The stored password hash of an active user.

        Raises:
            NotFound: no such user, or the user is deactivated.
        """
        with self._tx() as session:
            row = _user_or_raise(session, user_id)
            if not row.active:
                raise store_error(NotFound, f"user {user_id!r} is deactivated", "ask an admin to reactivate the user")
            return row.password_hash

    def set_password(self, user_id: str, password_hash: str, *, actor: str = SYSTEM) -> None:
        """Replace a user's password hash (audited without the hash); every session of the user is revoked."""
        with self._tx() as session:
            row = _user_or_raise(session, user_id)
            now = utc_now()
            row.password_hash = password_hash
            row.updated_at = now
            session.execute(update(ApiTokenRow)
                            .where(ApiTokenRow.user_id == user_id, ApiTokenRow.kind == TokenKind.SESSION.value,
                                   ApiTokenRow.revoked_at.is_(None))
                            .values(revoked_at=now))
            self._record(session, actor=actor, action="user.set_password", entity="user", entity_id=user_id,
                         household=None)

    def set_active(self, user_id: str, active: bool, *, actor: str = SYSTEM) -> None:
        """Activate or deactivate a user; a deactivated user's tokens stop working at once."""
        with self._tx() as session:
            row = _user_or_raise(session, user_id)
            before, row.active, row.updated_at = row.active, active, utc_now()
            self._record(session, actor=actor, action="user.set_active", entity="user", entity_id=user_id,
                         household=None, before={"active": before}, after={"active": active})

    def link(self, user_id: str, household_id: str, *, actor: str = SYSTEM) -> None:
        """Give a client one more household of their own (idempotent)."""
        with self._tx() as session:
            _user_or_raise(session, user_id)
            _household_or_raise(session, household_id)
            if session.get(UserHouseholdRow, (user_id, household_id)) is None:
                session.add(UserHouseholdRow(user_id=user_id, household_id=household_id))
                self._record(session, actor=actor, action="user.link", entity="user", entity_id=user_id,
                             household=household_id, after={"household": household_id})

    def unlink(self, user_id: str, household_id: str, *, actor: str = SYSTEM) -> None:
        """Take a household away from a user (idempotent)."""
        with self._tx() as session:
            _user_or_raise(session, user_id)
            gone = session.execute(delete(UserHouseholdRow).where(UserHouseholdRow.user_id == user_id,
                                                                  UserHouseholdRow.household_id == household_id))
            if changed(gone):
                self._record(session, actor=actor, action="user.unlink", entity="user", entity_id=user_id,
                             household=household_id, before={"household": household_id})

    # -- tokens --------------------------------------------------------------------------------

    def add_token(self, token: TokenRecord, *, secret_hash: str, actor: str = SYSTEM) -> None:
        """Store a token's public id and its secret's SHA-256 (hex, 64 characters).

        Raises:
            NotFound: no such user.
            Conflict: the token id is taken.
        """
        if len(secret_hash) != 64:
            raise ValidationError("expected the SHA-256 hex digest of the secret", field="secret_hash")
        with self._tx() as session:
            _user_or_raise(session, token.user)
            if session.get(ApiTokenRow, token.id) is not None:
                raise store_error(Conflict, f"token id {token.id!r} is taken", "generate a new token")
            session.add(ApiTokenRow(**TOKENS.values(replace(token, kind=TokenKind(token.kind), revoked=None),
                                                  secret_hash=secret_hash)))
            if token.kind is TokenKind.API:  # sign-ins are not audited one by one; API tokens are credentials
                self._record(session, actor=actor, action="token.add", entity="token", entity_id=token.id,
                             household=None, after={"user": token.user, "name": token.name})

    def token(self, token_id: str) -> tuple[TokenRecord, str, User]:
        """The token, its secret's hash and its (active) owner.

        Raises:
            NotFound: no such token, or its owner is deactivated.
        """
        with self._tx() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                raise store_error(NotFound, "no such token", "sign in again or create a token (robo user token)")
            owner = _user_or_raise(session, row.user_id)
            if not owner.active:
                raise store_error(NotFound, "no such token", "sign in again or create a token (robo user token)")
            return _token(row), row.secret_hash, _user(session, owner)

    def tokens(self, user_id: str, *, kind: TokenKind | None = None) -> builtins.list[TokenRecord]:
        """The user's tokens (revoked ones included), oldest first."""
        stmt = select(ApiTokenRow).where(ApiTokenRow.user_id == user_id).order_by(ApiTokenRow.created_at)
        if kind is not None:
            stmt = stmt.where(ApiTokenRow.kind == TokenKind(kind).value)
        with self._tx() as session:
            return [_token(r) for r in session.scalars(stmt)]

    def revoke_token(self, token_id: str, *, actor: str = SYSTEM) -> None:
        """Revoke a token (idempotent); a revoked token never authenticates again."""
        with self._tx() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                raise store_error(NotFound, f"no token {token_id!r}", "list tokens with robo user list")
            if row.revoked_at is None:
                row.revoked_at = utc_now()
                if row.kind == TokenKind.API.value:
                    self._record(session, actor=actor, action="token.revoke", entity="token", entity_id=token_id,
                                 household=None, after={"user": row.user_id})

    # -- refused sign-ins (the rate limiter's memory, kept in the audit log) ----------------------

    def record_sign_in_failure(self, user: str, address: str, *, actor: str = "anonymous") -> None:
        """Audit a failed sign-in twice in one transaction: under the user name tried (``sign_in`` entity
        ``user:NAME``) and under the client address (``address:IP``), so a limiter can count either cheaply
        (the audit log's (entity, entity_id) index). Nothing secret is written: no password, no hash."""
        with self._tx() as session:
            for key in (sign_in_key("user", user), sign_in_key("address", address)):
                self._record(session, actor=actor, action="auth.sign_in_failed", entity="sign_in", entity_id=key,
                             household=None, after={"user": user[:100], "address": address[:100]})

    def recent_sign_in_failures(self, key: str, *, since: datetime, limit: int) -> builtins.list[datetime]:
        """Instants (aware UTC) of the newest ``limit`` failed sign-ins under ``key`` (``user:NAME`` or
        ``address:IP``, see ``sign_in_key``) at or after ``since``, newest first."""
        stmt = (select(AuditRow.at)
                .where(AuditRow.entity == "sign_in", AuditRow.entity_id == key,
                       AuditRow.action == "auth.sign_in_failed", AuditRow.at >= since)
                .order_by(AuditRow.seq.desc()).limit(limit))
        with self._tx() as session:
            return builtins.list(session.scalars(stmt))

    # -- idempotency keys ----------------------------------------------------------------------

    def claim_key(
        self, user_id: str, key: str, *, method: str, path: str, fingerprint: str
    ) -> IdempotencyRecord | None:
        """Claim an ``Idempotency-Key`` for a request: ``None`` when this call claimed it (go ahead), else the
        earlier request's record (finished: replay its response; unfinished: it is still running).

        The claim is an INSERT on the (user, key) primary key, so of two simultaneous requests exactly one wins.
        """
        if not key or len(key) > 255:
            raise ValidationError("an Idempotency-Key is 1–255 characters", field="Idempotency-Key", value=key)
        try:
            with self._tx() as session:
                seen = IdempotencyRecord(user_id, key, method, path, fingerprint, None, None, utc_now())
                session.add(IdempotencyRow(**IDEMPOTENCY.values(seen, completed_at=None)))
                session.flush()
                return None
        except Conflict as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
        with self._tx() as session:
            row = session.get(IdempotencyRow, (user_id, key))
            if row is None:  # released between our insert and this read: the caller may retry
                raise store_error(Conflict, "the earlier request under this Idempotency-Key just failed", "retry")
            return _idempotency(row)

    def finish_key(self, user_id: str, key: str, *, status_code: int, response: Any) -> None:
        """Store the response of the request that claimed the key (JSON-able ``response``)."""
        with self._tx() as session:
            session.execute(update(IdempotencyRow)
                            .where(IdempotencyRow.user_id == user_id, IdempotencyRow.key == key)
                            .values(status_code=status_code, response=normalized(response), completed_at=utc_now()))

    def release_key(self, user_id: str, key: str) -> None:
        """Forget a claimed key whose request failed unexpectedly, so the client may retry under it."""
        with self._tx() as session:
            session.execute(delete(IdempotencyRow).where(IdempotencyRow.user_id == user_id,
                                                         IdempotencyRow.key == key,
                                                         IdempotencyRow.status_code.is_(None)))


def sign_in_key(kind: str, value: str) -> str:
    """The audit entity id a refused sign-in is counted under: ``user:alex`` (names compared lower-case, as
    sign-in does) or ``address:203.0.113.5``; at most 120 characters whatever was typed."""
    value = value.strip().lower() if kind == "user" else value.strip()
    return f"{kind}:{value[:100]}"


def _firm_or_raise(session: Session, firm_id: str) -> FirmRow:
    row = session.get(FirmRow, firm_id)
    if row is None:
        raise store_error(NotFound, f"no firm {firm_id!r}", "add it first (robo user firm add ID NAME)", firm=firm_id)
    return row


def _household_or_raise(session: Session, household_id: str) -> None:
    if session.get(HouseholdRow, household_id) is None:
        raise store_error(NotFound, f"no household {household_id!r} in the store",
                     "import it first (robo household import FILE)", household=household_id)


def _user_or_raise(session: Session, user_id: str) -> UserRow:
    row = session.get(UserRow, user_id)
    if row is None:
        raise store_error(NotFound, f"no user {user_id!r}", "list users with robo user list", user=user_id)
    return row


def _firm(r: FirmRow) -> Firm:
    return FIRMS.to_domain(r)


def _user(session: Session, r: UserRow) -> User:
    stmt = select(UserHouseholdRow.household_id).where(UserHouseholdRow.user_id == r.id)
    return USERS.to_domain(r, {"households": tuple(sorted(session.scalars(stmt)))})


def _token(r: ApiTokenRow) -> TokenRecord:
    return TOKENS.to_domain(r)


def _idempotency(r: IdempotencyRow) -> IdempotencyRecord:
    return IDEMPOTENCY.to_domain(r)
