"""`gunma netsugen …`: NETSUGEN's administration commands.

    gunma netsugen auto-checkout     close the visits of days that have closed (what the cron job does)
    gunma netsugen <domain> …        each domain folder's `cli.py` exposing `app` (e.g. `billing`)
"""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console

from shared.db import create_engine, make_sessionmaker, session_scope
from shared.discovery import discover
from shared.jst import utcnow
from shared.stack import export_urls, resolve_urls

app = typer.Typer(help="NETSUGEN (官民共創スペース) administration", no_args_is_help=True)
console = Console()


@app.callback()
def main() -> None:
    """NETSUGEN (官民共創スペース) administration."""


def _database_url() -> str:
    urls = resolve_urls()
    export_urls(urls)
    return urls.database_url


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


def _mount_domain_commands() -> None:
    for module in discover("services.netsugen_booking", "cli"):
        sub = getattr(module, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=module.__name__.split(".")[-2])


_mount_domain_commands()
