"""`gunma netsugen billing …`: the monthly invoice run, the overdue list and the accounting export.

gunma netsugen billing run --period 2026-11      bill a past month (idempotent), with a progress bar
gunma netsugen billing overdue                   invoices past their due date with a balance
gunma netsugen billing export --from 2026-12-01 --to 2026-12-31 --output invoices.csv
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.db import create_engine, make_sessionmaker, session_scope
from shared.errors import ProblemError
from shared.settings import command_database_url

app = typer.Typer(
    help="NETSUGEN billing: invoice runs, overdue invoices, accounting export", no_args_is_help=True
)
console = Console()


def _database_url() -> str:
    return command_database_url()


def _parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD") from exc


@app.command("run")
def run(
    period: Annotated[str, typer.Option(help="The month to bill, YYYY-MM (must be over)")],
    issue: Annotated[bool, typer.Option("--issue/--draft", help="Issue at once, or leave drafts")] = True,
) -> None:
    """Create (and issue) the month's invoices. Running it again creates nothing."""
    from services.netsugen_booking.billing.invoice_run import Period, run_invoices
    from services.netsugen_booking.settings import NetsugenSettings

    url = _database_url()
    settings = NetsugenSettings(database_url=url)

    async def go(bar: Progress) -> tuple[int, int, int]:
        task = bar.add_task(f"billing {period}", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        engine = create_engine(
            url,
            pool_size=2,
            max_overflow=0,
            application_name="netsugen-billing-cli",
            statement_timeout_ms=600_000,
        )
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                result = await run_invoices(
                    session,
                    settings,
                    period=Period.parse(period),
                    trigger="cli",
                    requested_by="cli",
                    issue=issue,
                    progress=report,
                )
                return result.invoices_created, result.lines_created, result.total_yen
        finally:
            await engine.dispose()

    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            created, lines, total = asyncio.run(go(bar))
    except ProblemError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    console.print(
        f"{created} invoice(s), {lines} line(s), total ¥{total:,} ({'issued' if issue else 'drafts'})"
    )


@app.command("overdue")
def overdue() -> None:
    """List invoices past their due date that still have a balance."""
    from services.netsugen_booking.billing.service import overdue_invoices

    url = _database_url()

    async def go() -> Table:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="netsugen-billing-cli")
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                result = await overdue_invoices(session, limit=100_000)
        finally:
            await engine.dispose()
        table = Table(
            "number", "recipient", "due", "days", "total", "balance", title=f"overdue as of {result.as_of}"
        )
        for item in result.items:
            table.add_row(
                item.number or "",
                item.recipient_name,
                str(item.due_date),
                str(item.days_overdue),
                f"¥{item.total_yen:,}",
                f"¥{item.balance_yen:,}",
            )
        return table

    console.print(asyncio.run(go()))


@app.command("export")
def export(
    date_from: Annotated[str, typer.Option("--from", help="First issue date, YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="Last issue date, YYYY-MM-DD")],
    output: Annotated[Path, typer.Option(help="CSV file to write")],
) -> None:
    """Write the accounting CSV (invoices and lines by issue date) to a file."""
    from services.netsugen_booking.billing.service import check_export_range, export_csv

    start, end = _parse_date(date_from, "--from"), _parse_date(date_to, "--to")
    try:
        check_export_range(start, end)
    except ProblemError as exc:
        raise typer.BadParameter(exc.detail or str(exc)) from exc
    url = _database_url()

    async def go() -> int:
        engine = create_engine(url, pool_size=1, max_overflow=0, application_name="netsugen-billing-cli")
        size = 0
        try:
            with output.open("wb") as fh:
                async for chunk in export_csv(make_sessionmaker(engine), start, end):
                    fh.write(chunk)
                    size += len(chunk)
        finally:
            await engine.dispose()
        return size

    console.print(f"wrote {asyncio.run(go()):,} bytes to {output}")
