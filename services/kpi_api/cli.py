"""`gunma kpi …`: the KPI registry's administration commands.

gunma kpi import FILE.csv         import observations (same rules as POST /v1/imports/observations)
gunma kpi refresh-progress        recompute the stored progress of every indicator
gunma kpi report --fiscal-year Y  the KPI progress report (XLSX or HTML; reports/command.py)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.kpi_api.reports.command import report
from shared.db import create_engine, make_sessionmaker, session_scope
from shared.settings import command_database_url

app = typer.Typer(help="KPI registry administration / KPIレジストリ管理", no_args_is_help=True)
console = Console()
app.command("report")(report)


@app.callback()
def main() -> None:
    """KPI registry administration / KPIレジストリ管理."""


def _database_url() -> str:
    return command_database_url()


@app.command("import")
def import_csv(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file")],
    recorded_by: Annotated[str, typer.Option(help="Recorded as the revisions' author")] = "gunma kpi import",
) -> None:
    """Import observations from a CSV file. Nothing is written if any line is invalid."""
    from services.kpi_api.observations.csv_import import CsvInvalid, import_observations
    from shared.auth import Principal

    url = _database_url()
    data = path.read_bytes()
    principal = Principal(role="admin", subject=None, token_id=None, name=recorded_by)

    async def run() -> object:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="kpi-cli")
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await import_observations(session, data, principal, "en")
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(run())
    except CsvInvalid as exc:
        console.print(f"[red]{exc.detail}[/red]")
        for error in exc.extra["errors"]:
            console.print(f"  line {error['line']}: {error['column'] or ''} {error['message']}")
        raise typer.Exit(1) from None
    console.print(result)


@app.command("refresh-progress")
def refresh_all_progress() -> None:
    """Recompute every indicator's stored progress (emits kpi.status_changed where a status changes)."""
    from sqlalchemy import select

    from services.kpi_api.core.http import bump_version
    from services.kpi_api.indicators.models import Indicator
    from services.kpi_api.progress.service import refresh_progress

    url = _database_url()

    async def run() -> int:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="kpi-cli")
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                ids = (
                    await session.scalars(select(Indicator.id).order_by(Indicator.id).with_for_update())
                ).all()
                changes = await refresh_progress(session, ids)
                await bump_version(session)
                return sum(1 for c in changes.values() if c.changed)
        finally:
            await engine.dispose()

    console.print(f"progress recomputed; {asyncio.run(run())} status change(s)")
