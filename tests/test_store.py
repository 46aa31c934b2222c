"""The operational store on SQLite and on PostgreSQL 15 (a throw-away cluster per test run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.exc import StatementError

from samhandling.store import ENV_DB_URL, Store, StoreError, default_url, head_revision, upgrade
from samhandling.store._store import check_organisation
from samhandling.store.models import Base, load_area_models

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_migrations_build_exactly_the_models(store_url: str) -> None:
    load_area_models()
    assert upgrade(store_url) == head_revision() == "0004"
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrade_twice_changes_nothing(store: Store) -> None:
    store.add_user("kari", "hemmelig", "national")
    assert upgrade(store.url) == head_revision()
    assert [u.username for u in store.users()] == ["kari"]
    assert store.revision() == head_revision()


def test_passwords_are_argon2id_and_verified(store_url: str) -> None:
    store = Store(store_url)
    user = store.add_user("ola", "riktig passord", "municipality", "4601", display_name="Ola")
    assert (user.role, user.organisation, user.display_name) == ("municipality", "4601", "Ola")
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    finally:
        engine.dispose()
    # RFC 9106 low-memory profile: 64 MiB, 3 passes, 4 lanes.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "riktig passord" not in stored
    assert store.verify_password("ola", "riktig passord") == user
    assert store.verify_password("ola", "Riktig passord") is None
    assert store.verify_password("ingen", "riktig passord") is None
    store.close()


def test_duplicate_username_is_refused(store: Store) -> None:
    store.add_user("per", "a", "health_trust", "983974724")
    with pytest.raises(StoreError, match="finnes allerede"):
        store.add_user("per", "b", "national")


@pytest.mark.parametrize(
    ("role", "organisation"),
    [
        ("municipality", None),
        ("municipality", "301"),
        ("municipality", "983974724"),
        ("health_trust", "0301"),
        ("national", "0301"),
        ("admin", None),
    ],
)
def test_role_needs_the_right_organisation(role: str, organisation: str | None) -> None:
    with pytest.raises(StoreError):
        check_organisation(role, organisation)


@given(st.text(alphabet="0123456789", min_size=0, max_size=10))
def test_municipality_codes_are_exactly_four_digits(code: str) -> None:
    if len(code) == 4:
        check_organisation("municipality", code)
    else:
        with pytest.raises(StoreError):
            check_organisation("municipality", code)


def test_session_lifecycle(store: Store) -> None:
    user = store.add_user("lise", "pw", "national")
    token, started = store.start_session(user, lifetime=timedelta(hours=8), now=T0)
    idle = timedelta(minutes=30)
    assert started.expires_at == T0 + timedelta(hours=8)
    found = store.session(token, idle=idle, now=T0 + timedelta(minutes=29))
    assert found is not None and found.user == user and found.csrf_token == started.csrf_token
    # Used at 0:29, so still alive at 0:58; idle from 0:58 for 30 minutes ends it at 1:28.
    assert store.session(token, idle=idle, now=T0 + timedelta(minutes=58)) is not None
    assert store.session(token, idle=idle, now=T0 + timedelta(minutes=88)) is None
    assert store.session(token, idle=idle, now=T0 + timedelta(minutes=60)) is None
    assert store.session("not-a-token", idle=idle, now=T0) is None


def test_session_ends_at_absolute_lifetime_and_on_logout(store: Store) -> None:
    user = store.add_user("nils", "pw", "national")
    idle = timedelta(hours=10)
    token, _ = store.start_session(user, lifetime=timedelta(hours=1), now=T0)
    assert store.session(token, idle=idle, now=T0 + timedelta(minutes=59)) is not None
    assert store.session(token, idle=idle, now=T0 + timedelta(minutes=60)) is None
    token2, _ = store.start_session(user, lifetime=timedelta(hours=1), now=T0)
    store.end_session(token2)
    assert store.session(token2, idle=idle, now=T0) is None


def test_only_a_hash_of_the_token_is_stored(store: Store) -> None:
    user = store.add_user("eva", "pw", "national")
    token, _ = store.start_session(user, lifetime=timedelta(hours=1))
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(text("SELECT id FROM sessions")).scalars().all()
    finally:
        engine.dispose()
    assert len(ids) == 1 and token not in ids[0] and len(ids[0]) == 64


def test_new_password_ends_sessions(store: Store) -> None:
    user = store.add_user("tor", "gammelt", "national")
    token, _ = store.start_session(user, lifetime=timedelta(hours=1))
    store.set_password("tor", "nytt")
    assert store.session(token, idle=timedelta(hours=1)) is None
    assert store.verify_password("tor", "gammelt") is None
    assert store.verify_password("tor", "nytt") == user


def test_purge_removes_only_dead_sessions(store: Store) -> None:
    user = store.add_user("siv", "pw", "national")
    store.start_session(user, lifetime=timedelta(hours=1), now=T0)
    alive, _ = store.start_session(user, lifetime=timedelta(hours=3), now=T0 + timedelta(hours=1))
    assert store.purge_expired(idle=timedelta(hours=5), now=T0 + timedelta(hours=2)) == 1
    assert store.session(alive, idle=timedelta(hours=5), now=T0 + timedelta(hours=2)) is not None


def test_failed_logins_count_within_window_and_reset_on_success(store: Store) -> None:
    for minutes, name, client, ok in [
        (0, "anne", "10.0.0.1", False),
        (5, "anne", "10.0.0.1", False),
        (6, "anne", "10.0.0.2", False),
        (7, "bjorn", "10.0.0.1", False),
        (20, "anne", "10.0.0.1", False),
    ]:
        store.record_login_attempt(name, client, succeeded=ok, at=T0 + timedelta(minutes=minutes))
    since = T0 + timedelta(minutes=1)
    # anne: 5, 6 and 20 are inside the window; 0 is before it.
    assert store.failed_logins(since, username="anne") == 3
    assert store.failed_logins(since, client="10.0.0.1") == 3
    assert store.failed_logins(since, username="anne", client="10.0.0.1") == 2
    store.record_login_attempt("anne", "10.0.0.1", succeeded=True, at=T0 + timedelta(minutes=21))
    assert store.failed_logins(since, username="anne") == 0
    assert store.failed_logins(since, client="10.0.0.1") == 3


def test_audit_log_keeps_who_what_and_which_items(store: Store) -> None:
    user = store.add_user("kommune", "pw", "municipality", "0301")
    store.audit(
        user,
        "view_line_items",
        "utskrivningsklare/0301/2013-01",
        ["E1", "E2"],
        client="127.0.0.1",
        at=T0,
    )
    store.audit(None, "view_public", "land", at=T0 + timedelta(seconds=1))
    log = store.audit_log()
    assert [(e.username, e.role, e.action) for e in log] == [
        ("", "public", "view_public"),
        ("kommune", "municipality", "view_line_items"),
    ]
    assert log[1].item_ids == ("E1", "E2")
    assert log[1].resource == "utskrivningsklare/0301/2013-01"
    assert log[1].at == T0 and log[1].client == "127.0.0.1"
    assert [e.action for e in store.audit_log(username="kommune")] == ["view_line_items"]


def test_setting_is_created_once(store: Store) -> None:
    made: list[str] = []

    def make() -> str:
        made.append("x")
        return f"value-{len(made)}"

    assert store.setting("form_key", make) == "value-1"
    assert store.setting("form_key", make) == "value-1"
    assert made == ["x"]


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        store.record_login_attempt("x", "y", succeeded=False, at=datetime(2026, 1, 1))


def test_default_url_is_sqlite_in_the_warehouse_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_DB_URL, raising=False)
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/portal.sqlite3"
    monkeypatch.setenv(ENV_DB_URL, "postgresql+psycopg://u@db/samhandling")
    assert default_url(tmp_path) == "postgresql+psycopg://u@db/samhandling"


def test_unreachable_database_is_a_user_error() -> None:
    with pytest.raises(StoreError, match="kunne ikke oppgradere") as err:
        upgrade("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(err.value)


def test_bad_url_is_a_user_error() -> None:
    with pytest.raises(StoreError, match="ugyldig database-URL"):
        Store("not a url")
