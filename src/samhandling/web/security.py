"""Who may see what (tilgangsstyring), and the session, CSRF and login-throttling policies.

Every page and every JSON endpoint asks the functions here; nothing is hidden only in the UI.

Roles:

- ``municipality``: the own municipality's bills and their line items;
- ``health_trust``: the own health trust's invoices and their line items;
- ``national``: everything, line items of all;
- ``public`` (and anyone not logged in): published, suppressed aggregates only.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from samhandling.rules import RuleSet
from samhandling.store import Role, User

__all__ = [
    "LoginPolicy",
    "Principal",
    "can_view_health_trust",
    "can_view_line_items",
    "can_view_municipality",
]

SESSION_COOKIE = "samhandling_session"
LOGIN_COOKIE = "samhandling_login"
CSRF_FIELD = "csrf_token"
# How long a login form stays valid before it must be reloaded.
LOGIN_FORM_MAX_AGE_S = 3600


@dataclass(frozen=True)
class Principal:
    """The user behind a request, or the anonymous public (``user`` is ``None``)."""

    user: User | None = None
    csrf_token: str | None = None
    session_token: str | None = None

    @property
    def role(self) -> Role:
        return "public" if self.user is None else self.user.role

    @property
    def organisation(self) -> str | None:
        return None if self.user is None else self.user.organisation

    @property
    def logged_in(self) -> bool:
        return self.user is not None

    def csrf_ok(self, submitted: str | None) -> bool:
        """Whether a form's CSRF token is this session's (constant-time compare)."""
        if self.csrf_token is None or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token, submitted)


def can_view_municipality(principal: Principal, municipality: str) -> bool:
    """A municipality's bills (co-financing, discharge-ready invoices): own users, national."""
    return principal.role == "national" or (
        principal.role == "municipality" and principal.organisation == municipality
    )


def can_view_health_trust(principal: Principal, health_trust: str) -> bool:
    """A health trust's invoices to all municipalities: its own users and national users."""
    return principal.role == "national" or (
        principal.role == "health_trust" and principal.organisation == health_trust
    )


def can_view_line_items(principal: Principal, *, municipality: str, health_trust: str) -> bool:
    """Line items of a bill between ``health_trust`` and the paying ``municipality``."""
    return can_view_municipality(principal, municipality) or can_view_health_trust(
        principal, health_trust
    )


@dataclass(frozen=True)
class LoginPolicy:
    """Session lifetime and login throttling, from the ``web.*`` rule tables."""

    max_failures_per_user: int
    max_failures_per_client: int
    window: timedelta
    session_lifetime: timedelta
    session_idle: timedelta

    @classmethod
    def from_rules(cls, rules: RuleSet, day: date | None = None) -> LoginPolicy:
        day = day or date.today()
        limit = rules["web.login_rate_limit"]
        life = rules["web.session_lifetime"]
        return cls(
            max_failures_per_user=int(limit.value_on(day, "max_failures_per_user").decimal),
            max_failures_per_client=int(limit.value_on(day, "max_failures_per_client").decimal),
            window=timedelta(minutes=int(limit.value_on(day, "window_minutes").decimal)),
            session_lifetime=timedelta(minutes=int(life.value_on(day, "absolute_minutes").decimal)),
            session_idle=timedelta(minutes=int(life.value_on(day, "idle_minutes").decimal)),
        )


class LoginForms:
    """CSRF protection for the login form, before any session exists (double submit).

    The browser gets a random nonce in a cookie and the same nonce, signed with the
    installation's key, in the form; a POST must bring both and they must match.
    """

    def __init__(self, secret_key: str) -> None:
        self._signer = URLSafeTimedSerializer(secret_key, salt="samhandling-login-form")

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def token_for(self, nonce: str) -> str:
        return self._signer.dumps(nonce)

    def valid(self, token: str | None, cookie_nonce: str | None) -> bool:
        if not token or not cookie_nonce:
            return False
        try:
            nonce = self._signer.loads(token, max_age=LOGIN_FORM_MAX_AGE_S)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, cookie_nonce)
