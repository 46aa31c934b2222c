"""``samhandling portal`` (start the web portal) and ``samhandling users`` (portal users)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from samhandling.cli.options import DbOpt, WarehouseOpt
from samhandling.console import console
from samhandling.errors import ConfigError

ROLE_HELP = "municipality, health_trust, national eller public."


def register(app: typer.Typer) -> None:
    @app.command("portal")
    def portal(
        *,
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
        host: Annotated[str, typer.Option("--vert", help="Adresse å lytte på.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port å lytte på.")] = 8000,
        demo_users: Annotated[
            bool, typer.Option("--demobrukere", help="Opprett demobrukerne først og vis dem.")
        ] = False,
        https: Annotated[
            bool,
            typer.Option(
                "--https",
                help="Sett Secure på informasjonskapsler (bak en TLS-terminerende proxy).",
            ),
        ] = False,
    ) -> None:
        """Start webportalen (åpne http://127.0.0.1:8000 i nettleseren)."""
        serve_portal(
            warehouse, database=database, host=host, port=port, demo_users=demo_users, https=https
        )

    users = typer.Typer(no_args_is_help=True, help="Brukere av webportalen.")
    app.add_typer(users, name="users")

    @users.command("add")
    def add_user(
        username: Annotated[str, typer.Argument(help="Brukernavn.")],
        *,
        role: Annotated[str, typer.Option("--rolle", help=ROLE_HELP)],
        organisation: Annotated[
            str | None,
            typer.Option("--org", help="Kommunenummer (4 sifre) eller HF-organisasjonsnummer."),
        ] = None,
        name: Annotated[str, typer.Option("--navn", help="Visningsnavn.")] = "",
        warehouse: WarehouseOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Opprett en bruker (passordet spørres om og lagres bare som argon2id-hash)."""
        from samhandling.store import ROLES, Store
        from samhandling.warehouse import Warehouse

        if role not in ROLES:
            raise ConfigError(f"ukjent rolle {role!r}: velg {ROLE_HELP}")
        password = typer.prompt("Passord", hide_input=True, confirmation_prompt=True)
        with Store.open(database, warehouse=Warehouse.open(warehouse).path) as store:
            user = store.add_user(username, password, role, organisation, display_name=name)
        console.print(f"Opprettet {user.username} ({user.role} {user.organisation or ''}).")

    @users.command("list")
    def list_users(warehouse: WarehouseOpt = None, database: DbOpt = None) -> None:
        """Vis brukerne."""
        from rich.table import Table

        from samhandling.store import Store
        from samhandling.warehouse import Warehouse

        with Store.open(database, warehouse=Warehouse.open(warehouse).path) as store:
            table = Table("Brukernavn", "Rolle", "Organisasjon", "Navn")
            for user in store.users():
                table.add_row(user.username, user.role, user.organisation or "", user.display_name)
        console.print(table)

    @users.command("demo")
    def demo(warehouse: WarehouseOpt = None, database: DbOpt = None) -> None:
        """Opprett demobrukerne (én per rolle) og vis passordene."""
        from samhandling.store import Store
        from samhandling.warehouse import Warehouse
        from samhandling.web import create_demo_users

        with Store.open(database, warehouse=Warehouse.open(warehouse).path) as store:
            _print_users(create_demo_users(store))


def serve_portal(
    warehouse: Path | None,
    *,
    database: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    demo_users: bool = False,
    https: bool = False,
) -> None:
    """Open the store (migrating it), optionally create the demo users, and serve the portal."""
    import uvicorn

    from samhandling.store import Store
    from samhandling.warehouse import Warehouse
    from samhandling.web import create_app, create_demo_users

    wh = Warehouse.open(warehouse)
    store = Store.open(database, warehouse=wh.path)
    if demo_users:
        _print_users(create_demo_users(store))
    app_ = create_app(wh.path, store=store, https=True if https else None)
    console.print(f"Portalen kjører på [bold]http://{host}:{port}[/] (Ctrl+C avslutter).")
    uvicorn.run(app_, host=host, port=port, log_level="warning", proxy_headers=https)


def _print_users(users: Sequence[tuple[str, str, str, str | None, str]]) -> None:
    from rich.table import Table

    table = Table("Brukernavn", "Passord", "Rolle", "Organisasjon", title="Demobrukere")
    for username, password, role, organisation, _name in users:
        table.add_row(username, password, role, organisation or "")
    console.print(table)
