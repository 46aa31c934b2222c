"""The operational store: users, sessions, the audit log and login attempts behind SQLAlchemy."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from samhandling.errors import SamhandlingError
from samhandling.store.models import AuditRow, LoginAttemptRow, SessionRow, SettingRow, UserRow

Role = Literal["municipality", "health_trust", "national", "public"]
ROLES: tuple[Role, ...] = get_args(Role)

ENV_DB_URL = "SAMHANDLING_DB_URL"
SQLITE_FILENAME = "portal.sqlite3"

# Length of an organisation identifier per role: municipality code, HF organisation number.
_ORGANISATION_DIGITS: dict[str, int] = {"municipality": 4, "health_trust": 9}


class StoreError(SamhandlingError):
    """The operational store is unreachable, or a change to it is not allowed."""


@dataclass(frozen=True)
class User:
    """A portal user (bruker) as the rest of the platform sees it: never the password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    organisation: str | None


@dataclass(frozen=True)
class LoginSession:
    """A valid session (innloggingsøkt): who it is, the token forms must echo, when it ends."""

    user: User
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log (revisjonslogg)."""

    at: datetime
    username: str
    role: str
    action: str
    resource: str
    item_ids: tuple[str, ...]
    client: str


def default_url(warehouse: Path) -> str:
    """``$SAMHANDLING_DB_URL`` if set, else an SQLite file inside the warehouse folder."""
    configured = os.environ.get(ENV_DB_URL)
    if configured:
        return configured
    return f"sqlite:///{Path(warehouse).resolve() / SQLITE_FILENAME}"


def _alembic_config() -> Config:
    config = Config()
    folder = resources.files("samhandling.store").joinpath("migrations")
    config.set_main_option("script_location", str(folder))
    return config


def head_revision() -> str:
    """The newest schema revision(s) shipped with this version of the platform.

    Areas (agreements, emergency beds, ...) may branch their migrations off a common revision;
    the heads are then reported sorted and joined by ``+`` until a merge revision joins them.
    """
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    if not heads:
        raise StoreError("the package ships no store migrations")
    return "+".join(sorted(heads))


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"ugyldig database-URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            # WAL lets readers (page views) run while a writer (a login) commits.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

        return engine
    return create_engine(parsed, pool_pre_ping=True)


def upgrade(url: str) -> str:
    """Bring the store at ``url`` to the newest schema (creating it if empty); return it."""
    engine = _make_engine(url)
    try:
        config = _alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
        return current_revision(engine)
    except SamhandlingError:
        raise
    except Exception as exc:
        raise StoreError(f"kunne ikke oppgradere driftsdatabasen {_safe(url)}: {exc}") from exc
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str:
    """The schema revision the database is at ("" for an empty database)."""
    with engine.connect() as connection:
        return "+".join(sorted(MigrationContext.configure(connection).get_current_heads()))


def _safe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<ugyldig URL>"


def _now() -> datetime:
    return datetime.now(UTC)


def _token_id(token: str) -> str:
    # The database holds only a hash of the cookie token: a leaked table opens no session.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: UserRow) -> User:
    role: Role = row.role  # type: ignore[assignment]  # checked on the way in
    return User(row.id, row.username, row.display_name, role, row.organisation)


def check_organisation(role: str, organisation: str | None) -> None:
    """A municipality user needs a 4-digit code, a health-trust user a 9-digit org number."""
    if role not in ROLES:
        raise StoreError(f"ukjent rolle {role!r}: velg en av {', '.join(ROLES)}")
    digits = _ORGANISATION_DIGITS.get(role)
    if digits is None:
        if organisation:
            raise StoreError(f"rollen {role} har ingen organisasjon (fikk {organisation!r})")
        return
    if organisation is None or len(organisation) != digits or not organisation.isdigit():
        raise StoreError(
            f"rollen {role} trenger et organisasjonsnummer med {digits} sifre, "
            f"fikk {organisation!r}"
        )


class Store:
    """The operational store (driftsdatabase) at one database URL, migrated to the newest schema.

    Thread-safe: each call opens its own short transaction, so the web server's worker threads
    can share one instance.
    """

    def __init__(
        self, url: str, *, migrate: bool = True, password_hasher: PasswordHasher | None = None
    ) -> None:
        """``password_hasher`` defaults to argon2id with RFC 9106's low-memory parameters;
        tests may pass cheaper ones (hashes record their parameters, so any verify)."""
        self.url = url
        if migrate:
            upgrade(url)
        self._engine = _make_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._hasher = password_hasher or PasswordHasher()
        # Verifying against this when the user does not exist keeps the answer time the same,
        # so response times do not reveal which usernames exist.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def open(cls, url: str | None = None, *, warehouse: Path | None = None) -> Store:
        """The store at ``url``, else ``$SAMHANDLING_DB_URL``, else SQLite in ``warehouse``."""
        if url is None:
            if warehouse is None:
                raise StoreError("trenger enten en database-URL eller en datavarehusmappe")
            url = default_url(warehouse)
        return cls(url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def revision(self) -> str:
        """The schema revision the database is at."""
        return current_revision(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # ------------------------------------------------------------------------ users

    def add_user(
        self,
        username: str,
        password: str,
        role: Role,
        organisation: str | None = None,
        *,
        display_name: str = "",
    ) -> User:
        """Create a user; the password is kept only as an argon2id hash."""
        check_organisation(role, organisation)
        if not username or len(username) > 64 or username != username.strip():
            raise StoreError(f"ugyldig brukernavn {username!r}")
        if not password:
            raise StoreError("passordet kan ikke være tomt")
        row = UserRow(
            username=username,
            display_name=display_name,
            password_hash=self._hasher.hash(password),
            role=role,
            organisation=organisation,
            active=True,
            created_at=_now(),
        )
        try:
            with self._tx() as session:
                session.add(row)
                session.flush()
                return _user(row)
        except IntegrityError as exc:
            raise StoreError(f"brukernavnet {username!r} finnes allerede") from exc

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password and end all of the user's sessions."""
        if not password:
            raise StoreError("passordet kan ikke være tomt")
        with self._tx() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                raise StoreError(f"ukjent bruker {username!r}")
            row.password_hash = self._hasher.hash(password)
            session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))

    def user(self, username: str) -> User | None:
        with self._tx() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            return None if row is None else _user(row)

    def users(self) -> list[User]:
        with self._tx() as session:
            rows = session.scalars(select(UserRow).order_by(UserRow.username)).all()
            return [_user(r) for r in rows]

    def verify_password(self, username: str, password: str) -> User | None:
        """The user if the password is right and the user is active, else ``None``."""
        with self._tx() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            if row is None or not row.active:
                self._check(self._dummy_hash, password)
                return None
            if not self._check(row.password_hash, password):
                return None
            if self._hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self._hasher.hash(password)
            return _user(row)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # ------------------------------------------------------------------------ login attempts

    def record_login_attempt(
        self, username: str, client: str, *, succeeded: bool, at: datetime | None = None
    ) -> None:
        with self._tx() as session:
            session.add(
                LoginAttemptRow(
                    at=at or _now(),
                    username=username[:64],
                    client=client[:64],
                    succeeded=succeeded,
                )
            )

    def failed_logins(
        self, since: datetime, *, username: str | None = None, client: str | None = None
    ) -> int:
        """Failed attempts since ``since`` for a username and/or a client address.

        Counts only failures after the last success of that username (a correct password
        resets the count), so a user who mistypes once a day is never locked out.
        """
        with self._tx() as session:
            query = select(func.count()).select_from(LoginAttemptRow)
            query = query.where(LoginAttemptRow.at >= since, LoginAttemptRow.succeeded.is_(False))
            if username is not None:
                query = query.where(LoginAttemptRow.username == username[:64])
                last_ok = session.scalar(
                    select(func.max(LoginAttemptRow.at)).where(
                        LoginAttemptRow.username == username[:64],
                        LoginAttemptRow.succeeded.is_(True),
                    )
                )
                if last_ok is not None:
                    query = query.where(LoginAttemptRow.at > last_ok)
            if client is not None:
                query = query.where(LoginAttemptRow.client == client[:64])
            return int(session.scalar(query) or 0)

    # ------------------------------------------------------------------------ sessions

    def start_session(
        self, user: User, *, lifetime: timedelta, now: datetime | None = None
    ) -> tuple[str, LoginSession]:
        """A new session for ``user``: the secret token for the cookie and the session."""
        now = now or _now()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + lifetime
        with self._tx() as session:
            session.add(
                SessionRow(
                    id=_token_id(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                )
            )
        return token, LoginSession(user, csrf, expires)

    def session(
        self, token: str, *, idle: timedelta, now: datetime | None = None
    ) -> LoginSession | None:
        """The session of a cookie token, if it exists, has not expired and was used recently."""
        now = now or _now()
        with self._tx() as session:
            row = session.get(SessionRow, _token_id(token))
            if row is None:
                return None
            if row.expires_at <= now or row.last_seen_at + idle <= now:
                session.delete(row)
                return None
            user = session.get(UserRow, row.user_id)
            if user is None or not user.active:
                session.delete(row)
                return None
            row.last_seen_at = now
            return LoginSession(_user(user), row.csrf_token, row.expires_at)

    def end_session(self, token: str) -> None:
        with self._tx() as session:
            session.execute(delete(SessionRow).where(SessionRow.id == _token_id(token)))

    def purge_expired(self, *, idle: timedelta, now: datetime | None = None) -> int:
        """Delete sessions that have expired or been idle too long; return how many."""
        now = now or _now()
        with self._tx() as session:
            result = session.execute(
                delete(SessionRow).where(
                    (SessionRow.expires_at <= now) | (SessionRow.last_seen_at <= now - idle)
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # ------------------------------------------------------------------------ audit log

    def audit(
        self,
        user: User | None,
        action: str,
        resource: str,
        item_ids: list[str] | tuple[str, ...] = (),
        *,
        client: str = "",
        at: datetime | None = None,
    ) -> None:
        """Record that ``user`` (``None``: anonymous) did ``action`` on ``resource``."""
        with self._tx() as session:
            session.add(
                AuditRow(
                    at=at or _now(),
                    user_id=None if user is None else user.id,
                    username="" if user is None else user.username,
                    role="public" if user is None else user.role,
                    action=action,
                    resource=resource[:300],
                    item_ids=json.dumps(list(item_ids), ensure_ascii=False),
                    client=client[:64],
                )
            )

    def audit_log(self, *, limit: int = 100, username: str | None = None) -> list[AuditEntry]:
        """The newest audit entries first."""
        with self._tx() as session:
            query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            if username is not None:
                query = query.where(AuditRow.username == username)
            return [
                AuditEntry(
                    at=r.at,
                    username=r.username,
                    role=r.role,
                    action=r.action,
                    resource=r.resource,
                    item_ids=tuple(json.loads(r.item_ids)),
                    client=r.client,
                )
                for r in session.scalars(query).all()
            ]

    # ------------------------------------------------------------------------ settings

    def setting(self, name: str, create: Callable[[], str]) -> str:
        """An installation-wide value, created by ``create`` the first time it is asked for."""
        with self._tx() as session:
            row = session.get(SettingRow, name)
            if row is not None:
                return row.value
        try:
            with self._tx() as session:
                value = create()
                session.add(SettingRow(name=name, value=value))
                return value
        except IntegrityError:
            # Another process created it between our read and our insert: use theirs.
            with self._tx() as session:
                row = session.get(SettingRow, name)
                if row is None:
                    raise
                return row.value
