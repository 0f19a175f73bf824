"""`gunma`: the administrators' CLI.

    gunma run                       start the whole platform (what `make run` does)
    gunma migrate [REVISION]        upgrade the database (default: heads)
    gunma downgrade REVISION        downgrade (e.g. base)
    gunma seed                      load the seed data, idempotently
    gunma token create --role staff --name "Front desk"
    gunma token list / revoke ID
    gunma accounts create --email … --name … --role staff     staff sign-in accounts

Services add their own command groups in ``services/<svc>/cli.py`` (``app = typer.Typer()``),
for example ``gunma netsugen invoice-run`` or ``gunma kpi import``.
Without DATABASE_URL/REDIS_URL the commands use the embedded servers under `.data/`.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from shared import migrate as migrations
from shared.auth import ROLES, ApiToken, Role, create_token, ensure_token, revoke_token
from shared.db import create_engine, make_sessionmaker, session_scope
from shared.seeding import seed_all
from shared.stack import export_urls, resolve_urls

app = typer.Typer(help="Gunma SDGs platform administration / 群馬県SDGsプラットフォーム管理", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (stored hashed; the secret is shown once)", no_args_is_help=True)
app.add_typer(token_app, name="token")
console = Console()


def database_url() -> str:
    urls = resolve_urls()
    export_urls(urls)
    return urls.database_url


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    )


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Upgrade the database schema (alembic upgrade)."""
    url = database_url()
    migrations.upgrade(url, revision)
    console.print(f"[green]migrated to {revision}[/green]")


@app.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1")]) -> None:
    """Downgrade the database schema (alembic downgrade)."""
    migrations.downgrade(database_url(), revision)
    console.print(f"[yellow]downgraded to {revision}[/yellow]")


@app.command()
def seed() -> None:
    """Load every service's seed data. Idempotent: running it twice changes nothing."""
    url = database_url()
    with progress_bar() as bar:
        tasks: dict[str, object] = {}

        def report(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)  # type: ignore[arg-type]

        results = asyncio.run(seed_all(url, report))
    for service, counts in results.items():
        console.print(f"{service}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@app.command()
def setup() -> None:
    """Migrate, seed, and register ``SERVICE_TOKEN`` (if set) as a service token. Idempotent.

    This is the one-shot job of docker-compose and Kubernetes.
    """
    import os

    url = database_url()
    migrations.upgrade(url, "heads")
    results = asyncio.run(seed_all(url))
    for service, counts in results.items():
        console.print(f"seed {service}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    secret = os.environ.get("SERVICE_TOKEN")
    if secret:

        async def register() -> bool:
            engine = create_engine(url, pool_size=1, max_overflow=0)
            try:
                async with session_scope(make_sessionmaker(engine)) as session:
                    return await ensure_token(session, name="SERVICE_TOKEN (setup)", role="service", secret=secret)
            finally:
                await engine.dispose()

        console.print("service token registered" if asyncio.run(register()) else "service token already registered")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin | staff | member | service")],
    name: Annotated[str, typer.Option(help="Who or what holds the token")],
    subject: Annotated[str | None, typer.Option(help="Member id (required for member tokens)")] = None,
) -> None:
    """Create a token and print its secret once."""
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}")
    url = database_url()

    async def run() -> tuple[str, str]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                r: Role = role
                token, secret = await create_token(session, name=name, role=r, subject=subject)
                return str(token.id), secret
        finally:
            await engine.dispose()

    try:
        token_id, secret = asyncio.run(run())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(f"token id: {token_id}")
    console.print(f"secret (shown once, store it now): [bold]{secret}[/bold]")


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="Token id from `gunma token list`")]) -> None:
    """Revoke a token. It stops working at once."""
    try:
        tid = uuid.UUID(token_id)
    except ValueError as exc:
        raise typer.BadParameter("not a token id (UUID)") from exc
    url = database_url()

    async def run() -> bool:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await revoke_token(session, tid)
        finally:
            await engine.dispose()

    if not asyncio.run(run()):
        console.print("[red]no active token with that id[/red]")
        raise typer.Exit(1)
    console.print("revoked")


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    url = database_url()

    async def run() -> list[ApiToken]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return list((await session.scalars(select(ApiToken).order_by(ApiToken.created_at))).all())
        finally:
            await engine.dispose()

    table = Table("id", "name", "role", "subject", "prefix", "created", "revoked")
    for t in asyncio.run(run()):
        table.add_row(
            str(t.id), t.name, t.role, t.subject or "", t.display_prefix + "…",
            t.created_at.isoformat(timespec="seconds"),
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "",
        )
    console.print(table)


@app.command()
def run() -> None:
    """Start the whole platform in the foreground (migrate, seed, three APIs, worker, scheduler)."""
    from shared.platform import run_platform

    raise typer.Exit(run_platform())


def _optional_module(name: str) -> object | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _register_service_commands() -> None:
    """Mounts ``services/<svc>/cli.py`` as ``gunma <name>`` and each ``services/<svc>/<domain>/cli.py``
    as ``gunma <name> <domain>``."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "services"
    for service, name in (("kpi_api", "kpi"), ("netsugen_booking", "netsugen"), ("notifier", "notifier")):
        module = _optional_module(f"services.{service}.cli")
        group: typer.Typer = getattr(module, "app", None) or typer.Typer(
            help=f"{service} operations", no_args_is_help=True
        )
        domains = sorted(p.parent.name for p in (root / service).glob("*/cli.py"))
        for domain in domains:
            sub = _optional_module(f"services.{service}.{domain}.cli")
            if sub is not None:
                group.add_typer(sub.app, name=domain.replace("_", "-"))  # type: ignore[attr-defined]
        if module is not None or domains:
            app.add_typer(group, name=name)


_register_service_commands()

# Staff accounts concern every service: also mounted at the top, as `gunma accounts …`.
_accounts_cli = _optional_module("services.netsugen_booking.accounts.cli")
if _accounts_cli is not None:
    app.add_typer(_accounts_cli.app, name="accounts")  # type: ignore[attr-defined]

if __name__ == "__main__":
    app()
