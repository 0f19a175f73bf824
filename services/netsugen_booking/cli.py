"""`gunma netsugen …`: NETSUGEN's administration commands.

gunma netsugen auto-checkout     close the visits of days that have closed (what the cron job does)
gunma netsugen <domain> …        each domain folder's `cli.py` exposing `app` (e.g. `billing`)
"""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console

from services.netsugen_booking.accounts import cli as accounts_cli
from services.netsugen_booking.billing import cli as billing_cli
from shared.db import create_engine, make_sessionmaker, session_scope
from shared.jst import utcnow
from shared.settings import command_database_url

app = typer.Typer(help="NETSUGEN (官民共創スペース) administration", no_args_is_help=True)
console = Console()


@app.callback()
def main() -> None:
    """NETSUGEN (官民共創スペース) administration."""


def _database_url() -> str:
    return command_database_url()


@app.command("auto-checkout")
def auto_checkout() -> None:
    """Close every open visit whose day has closed, at that day's closing time. Safe to repeat."""
    from services.netsugen_booking.visits.service import auto_check_out

    url = _database_url()

    async def run() -> list[uuid.UUID]:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="netsugen-cli")
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await auto_check_out(session, now=utcnow())
        finally:
            await engine.dispose()

    closed = asyncio.run(run())
    console.print(f"closed {len(closed)} visit(s) automatically")


# Each domain's commands, wired by hand (tests/test_structure.py checks none is missing).
app.add_typer(accounts_cli.app, name="accounts")
app.add_typer(billing_cli.app, name="billing")
