"""Who may sign in: argon2 password hashes, sign-in throttling, API bearer tokens, user admin.

The web app and the CLI call these; the rules (who may manage users, when sign-in is
refused, what a token may do) live here, not in the callers.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, delete, func, select

from .actors import ROLES, Actor
from .directory import create_user
from .errors import Forbidden, NotFound, SimpulError, ValidationFailed
from .i18n import LOCALES, N_, Message
from .models import Office, User, utcnow
from .models_accounts import ApiToken, LoginAttempt, UserSetting, WebSession

security_log = logging.getLogger("simpul.security")

#: failures of one user name (or from one address) within the window before sign-in is refused.
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "smp_"
#: a session never lasts longer than this, however busy (the cookie's own lifetime too).
SESSION_MAX_AGE = timedelta(hours=12)
#: a session's last activity is written at most this often (idle periods are whole minutes).
SESSION_TOUCH_INTERVAL = timedelta(seconds=30)
#: a token's last use is written at most this often (a write per API call would contend on SQLite).
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)

#: field messages (English msgids, translated where shown).
MSG_PASSWORD_SHORT = N_("A password has at least {n} characters.")
MSG_REQUIRED = N_("This field is required.")
MSG_USERNAME_CHARS = N_("Use letters, digits, dot, dash or underscore.")
MSG_ONE_ROLE = N_("Choose at least one role.")
MSG_CHOICE = N_("Choose one of the listed values.")
MSG_UNKNOWN_OFFICE = N_("Unknown office.")
MSG_USERNAME_TAKEN = N_("This user name is taken.")
MSG_KEEP_ADMIN = N_("You cannot take the system administrator role from yourself.")
MSG_WRONG_PASSWORD = N_("Wrong password.")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user has none, made on first use: hashing at import
    cost every ``simpul`` command a fifth of a second, though only sign-in needs it."""
    return _hasher.hash("simpul: no such user")


class Unauthorized(SimpulError):
    code = "unauthorized"
    status = 401


class TooManyAttempts(SimpulError):
    code = "too_many_attempts"
    status = 429


# -- passwords -----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _verify_quietly(_dummy_hash(), password)  # same cost whether or not the user has a password
        return False
    return _verify_quietly(password_hash, password)


def _verify_quietly(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> None:
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "Some fields need attention.",
            errors={"password": [Message(MSG_PASSWORD_SHORT, n=MIN_PASSWORD_LENGTH)]},
            n=MIN_PASSWORD_LENGTH,
        )


def _actor(user: User) -> Actor:
    return Actor(
        username=user.username,
        office_code=user.office_code,
        roles=frozenset(user.roles or ()),
        display_name=user.display_name,
    )


def password_fingerprint(password_hash: str | None) -> str:
    """Changes whenever the password does: sessions signed before a change stop working."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


# -- signing in ----------------------------------------------------------------------------


def _failures_since(session, column, value, since: datetime) -> tuple[int, datetime | None]:
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            column == value, LoginAttempt.success.is_(True), LoginAttempt.at >= since
        )
    )
    start = max(since, last_success) if last_success else since
    count, first = session.execute(
        select(func.count(), func.min(LoginAttempt.at)).where(
            column == value, LoginAttempt.success.is_(False), LoginAttempt.at >= start
        )
    ).one()
    return count, first


def _waits(session, username: str, remote_addr: str | None, now: datetime) -> list[timedelta]:
    since = now - FAILURE_WINDOW
    waits = []
    for column, value, limit in (
        (LoginAttempt.username, username.lower(), MAX_FAILURES_PER_USER),
        (LoginAttempt.remote_addr, remote_addr, MAX_FAILURES_PER_ADDRESS),
    ):
        if value is None:
            continue
        count, first = _failures_since(session, column, value, since)
        if count >= limit and first is not None:
            waits.append(first + FAILURE_WINDOW - now)
    return waits


def throttle_remaining(runtime, username: str, remote_addr: str | None = None) -> timedelta | None:
    """How long sign-in stays refused for this user name or address (None: not refused)."""
    with runtime.read() as s:
        waits = _waits(s, username, remote_addr, utcnow())
    return max(waits) if waits else None


def _lock_throttle(session, key: str, remote_addr: str | None) -> None:
    """Serialise sign-in tries for one user name and one address until the transaction ends.

    SQLite already has one writer at a time (``BEGIN IMMEDIATE``); PostgreSQL takes
    transaction-scoped advisory locks on both keys (in a fixed order, so no deadlock)."""
    if session.bind.dialect.name != "postgresql":
        return
    for value in sorted({f"user:{key}", *([f"addr:{remote_addr}"] if remote_addr else [])}):
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(value, 0))))


def _reserve_attempt(runtime, key: str, username: str, remote_addr: str | None) -> int:
    """The throttle check and the count as one step: under a lock, refuse when the limit is
    reached, else record this try as a failure before the password is even checked (it
    becomes a success afterwards).  Parallel wrong passwords therefore each take a slot, and
    no more than the limit are ever checked."""
    with runtime.transaction() as uow:
        s = uow.session
        _lock_throttle(s, key, remote_addr)
        now = utcnow()
        waits = _waits(s, key, remote_addr, now)
        if waits:
            security_log.warning("sign-in refused (throttled): user %r from %s", username, remote_addr)
            minutes = max(1, int(max(waits).total_seconds() // 60) + 1)
            raise TooManyAttempts("Too many failed sign-ins. Try again in {minutes} minutes.", minutes=minutes)
        attempt = LoginAttempt(username=key, remote_addr=remote_addr, at=now, success=False)
        s.add(attempt)
        s.flush()
        return attempt.id


def authenticate(runtime, username: str, password: str, *, remote_addr: str | None = None) -> Actor:
    """Check a user name and password; every try is recorded.

    Refused with TooManyAttempts after repeated failures for the user name or the address
    (the password is then not even checked), else with Unauthorized; the message never says
    which of name or password was wrong."""
    username = (username or "").strip()
    key = username.lower()
    attempt_id = _reserve_attempt(runtime, key, username, remote_addr)
    with runtime.read() as s:
        user = s.get(User, username) if username else None
        password_hash = user.password_hash if user is not None else None
        active = user is not None and user.active
    ok = verify_password(password_hash, password or "") and active  # slow: outside any lock
    actor = None
    if ok:
        with runtime.transaction() as uow:
            s = uow.session
            s.get(LoginAttempt, attempt_id).success = True
            user = s.get(User, username)
            if user is not None and user.active and user.password_hash == password_hash:
                if _hasher.check_needs_rehash(user.password_hash):
                    user.password_hash = hash_password(password)
                actor = _actor(user)
    if actor is None:
        security_log.warning("sign-in failed: user %r from %s", username, remote_addr)
        raise Unauthorized("Wrong user name or password.")
    return actor


# -- sessions ------------------------------------------------------------------------------


def open_session(runtime, username: str, remote_addr: str | None = None) -> str:
    """A new signed-in session; the token goes into the browser's cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with runtime.transaction() as uow:
        uow.session.add(
            WebSession(
                id=_token_hash(token), username=username, remote_addr=remote_addr, created_at=now, last_seen_at=now
            )
        )
    return token


def session_actor(runtime, token: str | None, idle: timedelta | None = None) -> Actor | None:
    """The Actor of a signed-in session, or None when it was ended (signed out, password
    changed, user deactivated), idle longer than ``idle``, or older than SESSION_MAX_AGE."""
    if not token or not isinstance(token, str):
        return None
    sid = _token_hash(token)
    now = utcnow()
    with runtime.read() as s:
        row = s.get(WebSession, sid)
        if row is None or row.ended_at is not None:
            return None
        user = s.get(User, row.username)
        actor = _actor(user) if user is not None and user.active else None
        last_seen, created = row.last_seen_at, row.created_at
    reason = None
    if actor is None:
        reason = "deactivated"
    elif idle and now - last_seen > idle:
        reason = "idle"
    elif now - created > SESSION_MAX_AGE:
        reason = "expired"
    if reason is not None:
        _end(runtime, [WebSession.id == sid], reason)
        return None
    if now - last_seen >= SESSION_TOUCH_INTERVAL:
        with runtime.transaction() as uow:
            row = uow.session.get(WebSession, sid)
            if row is not None and row.ended_at is None:
                row.last_seen_at = now
    return actor


def _end(runtime, where, reason: str) -> int:
    from sqlalchemy import update

    with runtime.transaction() as uow:
        return uow.session.execute(
            update(WebSession)
            .where(*where, WebSession.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason)
            .execution_options(synchronize_session=False)
        ).rowcount


def end_session(runtime, token: str | None, reason: str = "signed_out") -> None:
    """Sign-out: the session ends on the server, so a copy of the cookie opens nothing."""
    if token and isinstance(token, str):
        _end(runtime, [WebSession.id == _token_hash(token)], reason)


def end_sessions(runtime, username: str, reason: str) -> int:
    """End every session of a user (a password change, a deactivation)."""
    ended = _end(runtime, [WebSession.username == username], reason)
    if ended:
        security_log.info("%d session(s) of %s ended: %s", ended, username, reason)
    return ended


def active_actor(runtime, username: str, fingerprint: str | None = None) -> Actor | None:
    """The Actor of a signed-in session, or None if the user is gone, inactive or their
    password changed since the session began."""
    with runtime.read() as s:
        user = s.get(User, username)
        if user is None or not user.active:
            return None
        if fingerprint is not None and fingerprint != password_fingerprint(user.password_hash):
            return None
        return _actor(user)


def session_fingerprint(runtime, username: str) -> str:
    with runtime.read() as s:
        user = s.get(User, username)
        return password_fingerprint(user.password_hash if user else None)


def prune_login_attempts(runtime, older_than: timedelta = timedelta(days=90)) -> int:
    """Forget sign-in tries and sessions that started before ``older_than``."""
    cutoff = utcnow() - older_than
    with runtime.transaction() as uow:
        uow.session.execute(delete(WebSession).where(WebSession.created_at < cutoff))
        return uow.session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff)).rowcount


# -- API tokens ----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token_dict(t: ApiToken) -> dict:
    return {
        "id": t.id,
        "username": t.username,
        "name": t.name,
        "prefix": t.prefix,
        "created_by": t.created_by,
        "created_at": t.created_at.isoformat(),
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
    }


def _may_manage(actor: Actor, username: str) -> bool:
    return actor.username == username or actor.has_role("system_admin")


def create_token(runtime, username: str, name: str, actor: Actor) -> tuple[str, dict]:
    """A new bearer token acting as ``username``; the token itself is returned only here."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Some fields need attention.", errors={"name": [MSG_REQUIRED]})
    if not _may_manage(actor, username):
        raise Forbidden("Only a system administrator manages other users' tokens.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with runtime.transaction() as uow:
        s = uow.session
        user = s.get(User, username)
        if user is None:
            raise NotFound("Unknown user {user}.", user=username)
        row = ApiToken(
            username=username,
            name=name[:100],
            token_hash=_token_hash(token),
            prefix=token[:10],
            created_by=actor.username,
            created_at=utcnow(),
        )
        s.add(row)
        s.flush()
        security_log.info("API token %s (%s) created for %s by %s", row.id, row.name, username, actor.username)
        return token, _token_dict(row)


def list_tokens(runtime, username: str, actor: Actor) -> list[dict]:
    """A user's API tokens (never their secret), for themselves or a system administrator."""
    if not _may_manage(actor, username):
        raise Forbidden("Only a system administrator manages other users' tokens.")
    with runtime.read() as s:
        return [
            _token_dict(t)
            for t in s.scalars(select(ApiToken).where(ApiToken.username == username).order_by(ApiToken.id))
        ]


def revoke_token(runtime, token_id: int, actor: Actor) -> dict:
    """Revoke an API token; its next request is refused.  Revoking twice is harmless."""
    with runtime.transaction() as uow:
        row = uow.session.get(ApiToken, token_id)
        if row is None or not _may_manage(actor, row.username):
            raise NotFound("Token {id} not found.", id=token_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            security_log.info("API token %s of %s revoked by %s", row.id, row.username, actor.username)
        return _token_dict(row)


def actor_for_token(runtime, token: str) -> Actor:
    """The Actor a bearer token acts as; unknown, revoked or inactive-user tokens are refused."""
    return token_actor_and_locale(runtime, token)[0]


_TOKENS, _USERS, _SETTINGS = ApiToken.__table__, User.__table__, UserSetting.__table__
#: the token, its user and the user's language in one statement (every API request runs it)
_TOKEN_LOOKUP = (
    select(
        _TOKENS.c.id,
        _TOKENS.c.revoked_at,
        _TOKENS.c.last_used_at,
        _USERS.c.username,
        _USERS.c.office_code,
        _USERS.c.roles,
        _USERS.c.display_name,
        _USERS.c.active,
        _SETTINGS.c.locale,
    )
    .select_from(_TOKENS)
    .outerjoin(_USERS, _USERS.c.username == _TOKENS.c.username)
    .outerjoin(_SETTINGS, _SETTINGS.c.username == _TOKENS.c.username)
    .where(_TOKENS.c.token_hash == bindparam("digest"))
)


def token_actor_and_locale(runtime, token: str) -> tuple[Actor, str | None]:
    """``actor_for_token`` and the language its user chose (``get_locale``), read together."""
    if not token or not token.startswith(TOKEN_PREFIX):
        raise Unauthorized("A valid API token is required.")
    with runtime.read() as s:
        row = s.connection().execute(_TOKEN_LOOKUP, {"digest": _token_hash(token)}).first()
    if row is None or row.revoked_at is not None or row.username is None or not row.active:
        security_log.warning("API token refused (%s)", "unknown" if row is None else f"id {row.id}")
        raise Unauthorized("A valid API token is required.")
    actor = Actor(
        username=row.username,
        office_code=row.office_code,
        roles=frozenset(row.roles or ()),
        display_name=row.display_name,
    )
    if row.last_used_at is None or utcnow() - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        with runtime.transaction() as uow:
            fresh = uow.session.get(ApiToken, row.id)
            if fresh is not None:
                fresh.last_used_at = utcnow()
    return actor, row.locale


# -- users ---------------------------------------------------------------------------------


def user_dict(user: User, office: Office | None = None) -> dict:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "office": user.office_code,
        "office_name": office.name if office else None,
        "roles": list(user.roles or []),
        "active": bool(user.active),
        "has_password": bool(user.password_hash),
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }


def _require_admin(actor: Actor) -> None:
    if not actor.has_role("system_admin"):
        raise Forbidden("Only a system administrator manages users.")


def list_users(runtime, actor: Actor) -> list[dict]:
    """Every user with their office, by user name (system administrators)."""
    _require_admin(actor)
    with runtime.read() as s:
        offices = {o.code: o for o in s.scalars(select(Office))}
        return [user_dict(u, offices.get(u.office_code)) for u in s.scalars(select(User).order_by(User.username))]


def get_user(runtime, username: str, actor: Actor) -> dict:
    """A user's account (one's own, or anyone's for a system administrator)."""
    if actor.username != username:
        _require_admin(actor)
    with runtime.read() as s:
        user = s.get(User, username)
        if user is None:
            raise NotFound("Unknown user {user}.", user=username)
        return user_dict(user, s.get(Office, user.office_code))


def save_user(
    runtime,
    actor: Actor,
    username: str,
    *,
    display_name: str,
    office_code: str,
    roles,
    active: bool = True,
    password: str | None = None,
    create: bool = False,
) -> dict:
    """Create or update a user (a system administrator's job).  A password, when given,
    replaces the old one, which signs the user out everywhere."""
    _require_admin(actor)
    username = (username or "").strip()
    errors: dict[str, list] = {}
    if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum() or len(username) > 64:
        errors["username"] = [MSG_USERNAME_CHARS]
    if not (display_name or "").strip():
        errors["display_name"] = [MSG_REQUIRED]
    roles = [r for r in roles or []]
    if not roles:
        errors["roles"] = [MSG_ONE_ROLE]
    elif any(r not in ROLES for r in roles):
        errors["roles"] = [MSG_CHOICE]
    if password:
        try:
            check_password_rules(password)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    elif create:
        errors["password"] = [MSG_REQUIRED]
    with runtime.transaction() as uow:
        s = uow.session
        if s.get(Office, office_code) is None:
            errors["office"] = [MSG_UNKNOWN_OFFICE]
        existing = s.get(User, username) if username else None
        if create and existing is not None:
            errors["username"] = [MSG_USERNAME_TAKEN]
        if not create and existing is None:
            raise NotFound("Unknown user {user}.", user=username)
        if existing is not None and existing.username == actor.username and "system_admin" not in roles:
            errors["roles"] = [MSG_KEEP_ADMIN]
        if errors:
            raise ValidationFailed("Some fields need attention.", errors=errors, n=MIN_PASSWORD_LENGTH)
        user = create_user(
            s,
            username,
            display_name.strip(),
            office_code,
            roles,
            password_hash=hash_password(password) if password else None,
        )
        user.active = bool(active)
        s.flush()
        security_log.info("user %s %s by %s", username, "created" if create else "updated", actor.username)
        return user_dict(user, s.get(Office, office_code))


def set_password(runtime, username: str, password: str) -> None:
    """Set a user's password (the CLI's ``users create --password``, tests)."""
    check_password_rules(password)
    with runtime.transaction() as uow:
        user = uow.session.get(User, username)
        if user is None:
            raise NotFound("Unknown user {user}.", user=username)
        user.password_hash = hash_password(password)
    end_sessions(runtime, username, "password_changed")


def change_own_password(runtime, actor: Actor, current: str, new: str) -> None:
    """Change the actor's own password, after checking the current one and the password rules."""
    with runtime.read() as s:
        user = s.get(User, actor.username)
        ok = user is not None and verify_password(user.password_hash, current or "")
    if not ok:
        raise ValidationFailed("Some fields need attention.", errors={"current_password": [MSG_WRONG_PASSWORD]})
    try:
        check_password_rules(new)
    except ValidationFailed as exc:
        raise ValidationFailed(
            "Some fields need attention.", errors={"new_password": exc.errors["password"]}, n=MIN_PASSWORD_LENGTH
        ) from exc
    set_password(runtime, actor.username, new)
    security_log.info("user %s changed their password", actor.username)


# -- settings ------------------------------------------------------------------------------


def get_locale(runtime, username: str) -> str | None:
    """The language a user chose for the pages, or None when they never chose."""
    with runtime.read() as s:
        row = s.get(UserSetting, username)
        return row.locale if row else None


def set_locale(runtime, username: str, locale: str) -> None:
    """Remember the language a user chose for the pages (one of LOCALES)."""
    if locale not in LOCALES:
        raise ValidationFailed("Some fields need attention.", errors={"locale": [MSG_CHOICE]})
    with runtime.transaction() as uow:
        s = uow.session
        if s.get(User, username) is None:
            return
        row = s.get(UserSetting, username)
        if row is None:
            s.add(UserSetting(username=username, locale=locale))
        else:
            row.locale = locale
