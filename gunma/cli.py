"""`gunma`: the administrators' CLI.

    gunma run                       start the whole platform (what `make run` does)
    gunma db current                the database's revision, and whether it is at the head
    gunma db history                every migration, newest first, the current one marked
    gunma db upgrade [REVISION]     upgrade the database (default: head); also `gunma migrate`
    gunma db downgrade REVISION     downgrade (-1, a revision id or base); says what it undoes and
                                    asks first; refuses below the billing tables in production
                                    unless --force; also `gunma downgrade`
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
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from gunma import migrate as migrations
from gunma.seeding import seed_all
from gunma.stack import export_urls, resolve_urls
from shared.auth import ROLES, ApiToken, Role, create_token, ensure_token, revoke_token
from shared.db import create_engine, make_sessionmaker, session_scope

app = typer.Typer(
    help="Gunma SDGs platform administration / 群馬県SDGsプラットフォーム管理", no_args_is_help=True
)
token_app = typer.Typer(help="API tokens (stored hashed; the secret is shown once)", no_args_is_help=True)
app.add_typer(token_app, name="token")
db_app = typer.Typer(
    help="Database schema (Alembic migrations) / データベースのスキーマ", no_args_is_help=True
)
app.add_typer(db_app, name="db")
console = Console()
SERVICE_GROUPS = ("kpi", "netsugen", "notifier", "accounts")


@app.callback()
def main(ctx: typer.Context) -> None:
    """Gunma SDGs platform administration / 群馬県SDGsプラットフォーム管理"""
    if ctx.invoked_subcommand in SERVICE_GROUPS:
        database_url()  # the service commands read DATABASE_URL (embedded server started if unset)


def database_url() -> str:
    urls = resolve_urls()
    export_urls(urls)
    return urls.database_url


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Upgrade the database schema (alembic upgrade). The same as `gunma db upgrade`."""
    db_upgrade(revision)


# "-1" must reach the command as the revision, not be parsed as an option.
_NEGATIVE_OK = {"ignore_unknown_options": True}


@app.command(context_settings=_NEGATIVE_OK)
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target: -1 (one step), a revision id, or base")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    force: Annotated[bool, typer.Option(help="In production, allow dropping the billing tables")] = False,
) -> None:
    """Downgrade the database schema. The same as `gunma db downgrade`."""
    db_downgrade(revision, yes=yes, force=force)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Upgrade the database schema (alembic upgrade)."""
    url = database_url()
    before = migrations.current_revisions(url)
    migrations.upgrade(url, revision)
    after = migrations.current_revisions(url)
    console.print(f"[green]migrated: {', '.join(before) or '(empty)'} → {', '.join(after)}[/green]")


@db_app.command("current")
def db_current() -> None:
    """Show the database's current revision and whether it is at the head."""
    url = database_url()
    current = migrations.current_revisions(url)
    head = migrations.head()
    if not current:
        console.print(f"not migrated yet (head: {head}); run `gunma db upgrade`")
        raise typer.Exit(1)
    state = "at the head" if current == [head] else f"behind the head ({head}); run `gunma db upgrade`"
    console.print(f"current: {', '.join(current)} ({state})")


@db_app.command("history")
def db_history() -> None:
    """List every migration, newest first; the current one is marked."""
    url = database_url()
    current = set(migrations.current_revisions(url))
    table = Table("", "revision", "revises", "what it does")
    for step in migrations.history():
        table.add_row("→" if step.revision in current else "", step.revision, ", ".join(step.to), step.title)
    console.print(table)


@db_app.command("downgrade", context_settings=_NEGATIVE_OK)
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target: -1 (one step), a revision id, or base")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    force: Annotated[bool, typer.Option(help="In production, allow dropping the billing tables")] = False,
) -> None:
    """Downgrade the database schema: says which revisions it undoes and where it ends, then asks."""
    import os

    url = database_url()
    current = migrations.current_revisions(url)
    try:
        plan = migrations.downgrade_plan(revision, current)
    except Exception as exc:  # alembic's errors for unknown or impossible targets
        console.print(f"[red]cannot downgrade to {revision!r}: {exc}[/red]")
        raise typer.Exit(2) from exc
    if not plan:
        console.print(f"nothing to undo: the database is at {', '.join(current) or '(empty)'}")
        return
    ends_at = ", ".join(plan[-1].to) or "base (an empty database)"
    console.print(f"current: {', '.join(current)}")
    console.print(f"this undoes {len(plan)} migration(s) and ends at: [bold]{ends_at}[/bold]")
    for step in plan:
        console.print(f"  - {step.revision}: {step.title}")
    drops_billing = any(step.revision == migrations.BILLING_REVISION for step in plan)
    if drops_billing:
        console.print(
            "[red]this drops the billing tables: every invoice, credit note and payment is lost[/red]"
        )
        if os.environ.get("ENVIRONMENT") == "production" and not force:
            console.print(
                "[red]refused in production; pass --force if you really mean it (back up first)[/red]"
            )
            raise typer.Exit(1)
    if not yes and not typer.confirm("Proceed?", default=False):
        console.print("nothing was changed")
        raise typer.Exit(1)
    migrations.downgrade(url, revision)
    console.print(f"[yellow]downgraded to {', '.join(migrations.current_revisions(url)) or 'base'}[/yellow]")


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
    migrations.upgrade(url, "head")
    results = asyncio.run(seed_all(url))
    for service, counts in results.items():
        console.print(f"seed {service}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    secret = os.environ.get("SERVICE_TOKEN")
    if secret:

        async def register() -> bool:
            engine = create_engine(url, pool_size=1, max_overflow=0)
            try:
                async with session_scope(make_sessionmaker(engine)) as session:
                    return await ensure_token(
                        session, name="SERVICE_TOKEN (setup)", role="service", secret=secret
                    )
            finally:
                await engine.dispose()

        console.print(
            "service token registered" if asyncio.run(register()) else "service token already registered"
        )


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
            str(t.id),
            t.name,
            t.role,
            t.subject or "",
            t.display_prefix + "…",
            t.created_at.isoformat(timespec="seconds"),
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "",
        )
    console.print(table)


@app.command()
def run() -> None:
    """Start the whole platform in the foreground (migrate, seed, three APIs, worker, scheduler)."""
    from gunma.platform import run_platform

    raise typer.Exit(run_platform())


def _register_service_commands() -> None:
    """Each service's commands as ``gunma <name> …``, wired by hand (``services/<svc>/cli.py``)."""
    from services.kpi_api.cli import app as kpi_app
    from services.netsugen_booking.cli import app as netsugen_app
    from services.notifier.cli import app as notifier_app

    app.add_typer(kpi_app, name=SERVICE_GROUPS[0])
    app.add_typer(netsugen_app, name=SERVICE_GROUPS[1])
    app.add_typer(notifier_app, name=SERVICE_GROUPS[2])


_register_service_commands()

# Staff accounts concern every service: mounted at the top, as `gunma accounts …` (and under netsugen).
from services.netsugen_booking.accounts.cli import app as accounts_app  # noqa: E402

app.add_typer(accounts_app, name="accounts")

if __name__ == "__main__":
    app()
