"""Who is asking and what they may see: argon2 passwords, hashed tokens, and the household scope of a principal.

    hashed = hash_password("correct horse")          # argon2id PHC string, stored by store.users.add
    token = issue_token(store, "alex", name="ci")    # "robo_<id>.<secret>", shown once; only SHA-256(secret) is kept
    who = authenticate_token(store, token)           # Principal(user, firm, households)

A client sees only their own households, an advisor their firm's, an admin every household. A household a
principal may not see is answered exactly like a household that does not exist (HTTP 404, same message), so
neither a URL guess nor an error message tells a client that another household exists.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from engine.errors import NotFound, ValidationError
from engine.store import Firm, Role, Scope, Store, TokenKind, TokenRecord, User, sign_in_key

__all__ = [
    "SESSION_HOURS",
    "Action",
    "Forbidden",
    "Principal",
    "SignInLimit",
    "Unauthenticated",
    "authenticate_password",
    "authenticate_token",
    "csrf_token",
    "hash_password",
    "hidden",
    "issue_token",
    "principal_for",
    "verify_csrf",
]

SESSION_HOURS = 12
"""A browser session lasts this many hours (then sign in again)."""

_HASHER = PasswordHash((Argon2Hasher(),))  # argon2id with the library's (OWASP-recommended) parameters
_DUMMY_HASH = _HASHER.hash("not a real password")  # verified against for unknown users: same time either way
_PREFIX = "robo_"
MIN_PASSWORD = 10


class Unauthenticated(Exception):
    """No credentials, or credentials that do not check out (HTTP 401); the message never says which part failed."""


class Forbidden(Exception):
    """The principal sees the resource but may not do this to it (HTTP 403), e.g. a client executing trades."""


class Action(StrEnum):
    """What a principal does to a household; ``Principal.may`` answers per household."""

    READ = "read"
    APPROVE = "approve"  # approve or reject a proposal
    EXECUTE = "execute"
    RECORD_EVENT = "record_event"
    MANAGE = "manage"  # import or replace the household's facts (advisors and admins)


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user, their firm, a client's own households (``None`` for advisors and admins) and, per own
    household, whether its firm lets clients approve. ``token`` is the credential's id (session or API token).

    An advisor's firm may serve thousands of households: instead of loading them all per request, ``firm_of``
    (the store's household → firm lookup) answers ``sees`` for one household at a time.
    """

    user: User
    firm: Firm | None
    households: frozenset[str] | None
    token: str
    clients_may_approve: frozenset[str] = field(default_factory=frozenset)
    firm_of: Callable[[str], str | None] | None = field(default=None, repr=False, compare=False)

    @property
    def actor(self) -> str:
        """The audit actor of everything this principal does: the user id."""
        return self.user.id

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def scope(self) -> Scope:
        """The store's list scope of this principal: everything, the advisor's firm, or the client's households."""
        if self.role is Role.ADMIN:
            return Scope.everything()
        if self.role is Role.ADVISOR:
            assert self.user.firm is not None
            return Scope.firm(self.user.firm)
        return Scope.user(self.user.id)

    def sees(self, household: str) -> bool:
        """May this principal see the household at all (else: 404, as if it did not exist)?"""
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.ADVISOR:
            return self.firm_of is not None and self.firm_of(household) == self.user.firm
        return self.households is not None and household in self.households

    def may(self, action: Action, household: str) -> bool:
        """May this principal do ``action`` to a household it sees? Advisors and admins may do everything; a
        client reads and records life events, and approves or rejects only if the household's firm allows it."""
        if not self.sees(household):
            return False
        if self.role is not Role.CLIENT:
            return True
        if action is Action.APPROVE:
            return household in self.clients_may_approve
        return action in (Action.READ, Action.RECORD_EVENT)

    def require(self, action: Action, household: str, what: str) -> None:
        """Raise ``NotFound`` (unseen household, message as for a missing one) or ``Forbidden``."""
        if not self.sees(household):
            raise hidden(what)
        if not self.may(action, household):
            raise Forbidden(f"a {self.role.value} may not {action.value.replace('_', ' ')} here "
                            f"({what}); ask the household's advisor")


def hidden(what: str) -> NotFound:
    """The one answer for a missing and for an unseen resource (``what``: e.g. ``household 'smith'``)."""
    return NotFound(f"no {what}", fix="check the id; lists show what you may open")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (PHC string).

    Raises:
        ValidationError: the password is shorter than 10 characters.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters", field="password",
                              fix="choose a longer passphrase")
    return _HASHER.hash(password)


def authenticate_password(store: Store, user_id: str, password: str) -> User:
    """The active user whose password this is.

    Raises:
        Unauthenticated: unknown user, deactivated user or wrong password (one message for all three).
    """
    try:
        stored = store.users.password_hash(user_id.strip().lower())
    except (NotFound, ValidationError):
        _HASHER.verify(password, _DUMMY_HASH)  # spend the same time as a real check: no user enumeration by timing
        raise Unauthenticated("wrong user name or password") from None
    if not _HASHER.verify(password, stored):
        raise Unauthenticated("wrong user name or password")
    return store.users.get(user_id.strip().lower())


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignInLimit:
    """Sign-in throttling: at most ``attempts`` failed sign-ins per user name and per client address within
    ``window``; past that, sign-in answers 429 with ``Retry-After`` (RFC 6585 §4) until the oldest counted
    failure ages out — without checking the password, so a locked name cannot be probed further
    (OWASP Authentication Cheat Sheet, "Login Throttling").

    Failures are kept in the store's audit log (``store.users.record_sign_in_failure``), so every worker
    process and a restarted server share the count; the start of a lock is audited as ``auth.sign_in_locked``.
    """

    attempts: int = 10
    window: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = field(default=_utcnow, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.window <= timedelta(0):
            raise ValidationError("a sign-in limit needs at least one attempt in a positive window",
                                  field="SignInLimit", value=(self.attempts, self.window))

    def retry_after(self, store: Store, user: str, address: str) -> int | None:
        """Seconds until ``user`` from ``address`` may try again (``None``: they may try now)."""
        now = self.clock()
        waits = []
        for key in (sign_in_key("user", user), sign_in_key("address", address)):
            recent = store.users.recent_sign_in_failures(key, since=now - self.window, limit=self.attempts)
            if len(recent) >= self.attempts:  # the oldest of the last `attempts` failures must age out first
                waits.append((recent[-1] + self.window - now).total_seconds())
        return None if not waits else max(1, math.ceil(max(waits)))

    def failed(self, store: Store, user: str, address: str) -> int | None:
        """Count a failed sign-in; returns the wait in seconds when this failure starts a lock (audited)."""
        store.users.record_sign_in_failure(user, address)
        wait = self.retry_after(store, user, address)
        if wait is not None:
            store.audit.append(actor="anonymous", action="auth.sign_in_locked", entity="sign_in",
                               entity_id=sign_in_key("user", user),
                               after={"user": user[:100], "address": address[:100], "retry_after_seconds": wait,
                                      "attempts": self.attempts, "window_seconds": self.window.total_seconds()})
        return wait


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(store: Store, user_id: str, *, name: str, kind: TokenKind = TokenKind.API,
                hours: float | None = None, actor: str | None = None) -> str:
    """A new token for the user, ``robo_<id>.<secret>``; shown once, only the SHA-256 of the secret is stored.

    ``hours``: lifetime (``None``: until revoked; sessions default to ``SESSION_HOURS``).
    """
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    if kind is TokenKind.SESSION and hours is None:
        hours = SESSION_HOURS
    expires = None if hours is None else now + timedelta(hours=hours)
    store.users.add_token(TokenRecord(token_id, user_id, kind, name, now, expires), secret_hash=_digest(secret),
                          actor=actor or user_id)
    return f"{_PREFIX}{token_id}.{secret}"


def authenticate_token(store: Store, token: str, *, kind: TokenKind = TokenKind.API) -> Principal:
    """The principal behind a token of ``kind``.

    Raises:
        Unauthenticated: malformed, unknown, revoked, expired or of the wrong kind; or the user is deactivated.
    """
    if not token.startswith(_PREFIX) or "." not in token:
        raise Unauthenticated("invalid token")
    token_id, _, secret = token[len(_PREFIX):].partition(".")
    try:
        record, stored, user = store.users.token(token_id)
    except NotFound:
        raise Unauthenticated("invalid token") from None
    if (record.kind is not kind or not record.valid_at(datetime.now(UTC))
            or not hmac.compare_digest(stored, _digest(secret))):
        raise Unauthenticated("invalid token")
    return principal_for(store, user, token=token_id)


def principal_for(store: Store, user: User, *, token: str) -> Principal:
    """The user with the households they may see, read fresh from the store (a change applies at once)."""
    firm = store.users.firm(user.firm) if user.firm else None
    if user.role is Role.ADMIN:
        return Principal(user, firm, None, token)
    if user.role is Role.ADVISOR:
        assert user.firm is not None
        return Principal(user, firm, None, token, firm_of=store.users.firm_of)
    approving: set[str] = set()
    firms: dict[str, Firm] = {}
    for h in user.households:
        fid = store.users.firm_of(h)
        if fid is None:
            continue
        if fid not in firms:
            firms[fid] = store.users.firm(fid)
        if firms[fid].clients_may_approve:
            approving.add(h)
    return Principal(user, firm, frozenset(user.households), token, frozenset(approving))


def csrf_token(session_token: str) -> str:
    """The CSRF token of a browser session: an HMAC of the session cookie (secret to the browser's own pages).

    A forged cross-site form cannot read the cookie, so it cannot compute this value (OWASP CSRF cheat sheet,
    "signed double-submit cookie").
    """
    return hmac.new(session_token.encode(), b"robo-csrf", hashlib.sha256).hexdigest()


def verify_csrf(session_token: str, submitted: str | None) -> bool:
    """Is ``submitted`` the CSRF token of this session (constant-time compare)?"""
    return bool(submitted) and hmac.compare_digest(csrf_token(session_token), str(submitted))
