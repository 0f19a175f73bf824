"""`gunma accounts …` (also `gunma netsugen accounts …`): staff accounts from the command line.

    gunma accounts create --email desk@netsugen.example.jp --name "受付 一郎" --role staff
    gunma accounts list
    gunma accounts deactivate <account id>

The password is asked for twice without echo, or read from standard input with
``--password-stdin`` (scripts). The same rules apply as through the API.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.netsugen_booking.accounts import service
from services.netsugen_booking.accounts.config import AuthSettings
from shared.db import create_engine, make_sessionmaker, session_scope
from shared.errors import ProblemError
from shared.sessions import STAFF_ROLES
from shared.settings import command_database_url

app = typer.Typer(
    help="Staff accounts (sign-in with email and password) / スタッフアカウント", no_args_is_help=True
)
console = Console()


def _database_url() -> str:
    return command_database_url()


@app.command()
def create(
    email: Annotated[str, typer.Option(help="Sign-in email address")],
    name: Annotated[str, typer.Option(help="The person's name")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(STAFF_ROLES)}")],
    subject: Annotated[str | None, typer.Option(help="Scope of a narrow role (e.g. a department)")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create a staff account (an administrator's job; the password follows NIST SP 800-63B rules)."""
    if role not in STAFF_ROLES:
        console.print(f"[red]unknown role {role!r}; expected one of {', '.join(STAFF_ROLES)}[/red]")
        raise typer.Exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    url = _database_url()

    async def run() -> uuid.UUID:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="gunma-accounts")
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                account = await service.create_staff_account(
                    session,
                    AuthSettings(),
                    email=email,
                    name=name,
                    role=role,
                    password=password,
                    subject=subject,
                    created_by="gunma accounts create",
                )
                return account.id
        finally:
            await engine.dispose()

    try:
        account_id = asyncio.run(run())
    except ProblemError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]created staff account {account_id} ({email}, {role})[/green]")


@app.command("list")
def list_accounts() -> None:
    """List staff accounts."""
    url = _database_url()

    async def run() -> list[tuple[str, str, str, str, bool, bool]]:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="gunma-accounts")
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                rows, _ = await service.list_staff_accounts(session, limit=10_000, cursor=None)
                return [(str(a.id), a.email, a.name, a.role, a.active, a.totp_enabled) for a in rows]
        finally:
            await engine.dispose()

    table = Table("id", "email", "name", "role", "active", "totp")
    for ident, mail, person, role, active, totp in asyncio.run(run()):
        table.add_row(ident, mail, person, role, "yes" if active else "no", "on" if totp else "off")
    console.print(table)


@app.command()
def deactivate(account_id: Annotated[uuid.UUID, typer.Argument(help="The account's id")]) -> None:
    """Deactivate a staff account; its sessions stop working on every service at once."""
    url = _database_url()

    async def run() -> None:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="gunma-accounts")
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                await service.deactivate_staff_account(session, account_id)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except ProblemError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]deactivated {account_id}[/green]")
