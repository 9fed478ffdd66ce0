"""Offices and users: who belongs where, and the Actor an engine call runs as."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .actors import ROLES, Actor
from .errors import InvalidInput, NotFound
from .i18n import N_
from .models import Office, User

OFFICE_KINDS = ("kelurahan", "kecamatan", "regency")


@dataclass(frozen=True)
class OfficeInfo:
    """An office as pages and commands show it (a plain value: no database session behind it)."""

    code: str
    name: str
    kind: str
    parent_code: str | None
    timezone: str | None

    @classmethod
    def of(cls, office: Office) -> OfficeInfo:
        return cls(office.code, office.name, office.kind, office.parent_code, office.timezone)


def get_office(runtime, code: str | None) -> OfficeInfo | None:
    """The office with this code, or None (also for no code at all)."""
    if not code or not isinstance(code, str):
        return None
    with runtime.read() as s:
        office = s.get(Office, code)
        return OfficeInfo.of(office) if office is not None else None


def list_offices(runtime) -> list[OfficeInfo]:
    """Every office this node knows, by code."""
    with runtime.read() as s:
        return [OfficeInfo.of(o) for o in s.scalars(select(Office).order_by(Office.code))]


def office_names(runtime) -> dict[str, str]:
    """Office code -> name, for every office this node knows (a few hundred at most)."""
    with runtime.read() as s:
        return {code: name for code, name in s.execute(select(Office.code, Office.name))}


def display_names(runtime, usernames) -> dict[str, str]:
    """User name -> display name for the given user names (unknown ones are left out)."""
    names = {u for u in usernames if u and isinstance(u, str)}
    if not names:
        return {}
    with runtime.read() as s:
        rows = s.execute(select(User.username, User.display_name).where(User.username.in_(names)))
        return {username: name for username, name in rows}


def office_colleagues(runtime, office_code: str) -> list[dict]:
    """The active users of an office, by user name: ``{username, name, roles}``."""
    with runtime.read() as s:
        users = s.scalars(
            select(User).where(User.office_code == office_code, User.active.is_(True)).order_by(User.username)
        )
        return [{"username": u.username, "name": u.display_name, "roles": list(u.roles or [])} for u in users]


def user_exists(session, username: str) -> bool:
    """Whether a user of this name exists (active or not), inside the caller's transaction."""
    return session.get(User, username) is not None


def ensure_office(
    session, code: str, name: str, kind: str, parent_code: str | None = None, timezone: str = "Asia/Makassar"
) -> Office:
    """Create or update an office (kelurahan, kecamatan or regency), in the caller's transaction."""
    if kind not in OFFICE_KINDS:
        raise InvalidInput("Office kind must be one of {kinds}.", kinds=", ".join(OFFICE_KINDS))
    office = session.get(Office, code)
    if office is None:
        office = Office(code=code, name=name, kind=kind, parent_code=parent_code, timezone=timezone)
        session.add(office)
    else:
        office.name, office.kind, office.parent_code, office.timezone = name, kind, parent_code, timezone
    return office


def create_user(session, username: str, display_name: str, office_code: str, roles, password_hash=None) -> User:
    """Create or update a user of a known office with known roles, in the caller's transaction."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(
            "Unknown role(s): {roles}. Known roles: {known}.", roles=", ".join(unknown), known=", ".join(ROLES)
        )
    if session.get(Office, office_code) is None:
        raise InvalidInput("Unknown office {code}.", code=office_code)
    user = session.get(User, username)
    if user is None:
        user = User(
            username=username,
            display_name=display_name,
            office_code=office_code,
            roles=list(roles),
            password_hash=password_hash,
        )
        session.add(user)
    else:
        user.display_name, user.office_code, user.roles = display_name, office_code, list(roles)
        if password_hash:
            user.password_hash = password_hash
    return user


def actor_for(runtime, username: str) -> Actor:
    """The Actor for a user name (``--as USER`` on the CLI); unknown or inactive users are refused."""
    with runtime.read() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None or not user.active:
            raise NotFound("Unknown user {user}.", user=username)
        return Actor(
            username=user.username,
            office_code=user.office_code,
            roles=frozenset(user.roles),
            display_name=user.display_name,
        )


def office_exists(runtime, code: str) -> bool:
    """Whether this node's directory knows the office (a peer's code, for instance)."""
    with runtime.read() as s:
        return s.get(Office, code) is not None


def kelurahan_of(session, office_code: str) -> list[dict]:
    """The kelurahan/desa under a kecamatan office, from the directory: ``[{"code", "name"}]``
    in code order (a kelurahan office's own code when ``office_code`` is itself a kelurahan)."""
    office = session.get(Office, office_code)
    if office is not None and office.kind == "kelurahan":
        return [{"code": office.code, "name": office.name}]
    rows = session.execute(
        select(Office.code, Office.name)
        .where(Office.parent_code == office_code, Office.kind == "kelurahan")
        .order_by(Office.code)
    ).all()
    return [{"code": code, "name": name} for code, name in rows]


def kelurahan_list(runtime, office_code: str) -> list[dict]:
    """``kelurahan_of`` in a read transaction of ``runtime`` (the public engine function)."""
    with runtime.read() as s:
        return kelurahan_of(s, office_code)


MSG_NOT_A_KELURAHAN = N_("Choose a kelurahan of this office from the list; \u201c{value}\u201d is not one.")


def _plain(text) -> str:
    words = " ".join(str(text or "").lower().split())
    for prefix in ("kelurahan ", "desa ", "kel. "):
        if words.startswith(prefix):
            return words[len(prefix) :]
    return words


def choose_kelurahan(session, office_code: str, value) -> str | None:
    """A start form's kelurahan checked against the directory: the directory's name for a
    code or a name (``Sangasanga Dalam`` matches ``Kelurahan Sangasanga Dalam``), ``None``
    when the office has no kelurahan in the directory (free text is then kept), or
    ``InvalidInput`` for a value that is not one of the office's kelurahan."""
    choices = kelurahan_of(session, office_code)
    if not choices:
        return None
    text = str(value or "").strip()
    for k in choices:
        if text == k["code"] or _plain(text) == _plain(k["name"]):
            return k["name"]
    raise InvalidInput(MSG_NOT_A_KELURAHAN, value=text[:80])
