"""`gunma kpi report --fiscal-year 2025 [--output FILE] [--format xlsx|html] [--lang ja|en]`.

Registered in `services/kpi_api/cli.py` (not named cli.py: a domain `cli.py` would be mounted as its own group)."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from shared.db import create_engine, make_sessionmaker, session_scope
from shared.settings import command_database_url

console = Console()


class ReportFormat(StrEnum):
    xlsx = "xlsx"
    html = "html"


class ReportLanguage(StrEnum):
    ja = "ja"
    en = "en"


def report(
    fiscal_year: Annotated[int, typer.Option("--fiscal-year", help="Fiscal year reported (年度), e.g. 2025")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", dir_okay=False, help="File to write (default: kpi-progress-FY<year>.<format>)"
        ),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="xlsx (default) or html")] = ReportFormat.xlsx,
    lang: Annotated[ReportLanguage, typer.Option("--lang", help="ja (default) or en")] = ReportLanguage.ja,
) -> None:
    """Write the KPI progress report of a fiscal year (XLSX or printable HTML) / KPI進捗報告を出力."""
    from services.kpi_api.reports.html import render_report
    from services.kpi_api.reports.service import InvalidReportYear, build_report, check_fiscal_year
    from services.kpi_api.reports.xlsx import build_workbook

    try:
        check_fiscal_year(fiscal_year)
    except InvalidReportYear as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from None
    target = output or Path(f"kpi-progress-FY{fiscal_year}.{fmt.value}")
    database_url = command_database_url()

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("KPI report", total=3)

        async def run() -> bytes:
            engine = create_engine(database_url, pool_size=1, max_overflow=0, application_name="kpi-report")
            try:
                progress.update(task, description="grading indicators / 指標を評価中")
                async with session_scope(make_sessionmaker(engine)) as session:
                    built = await build_report(session, fiscal_year, lang.value)
                progress.advance(task)
                progress.update(task, description=f"rendering {fmt.value}")
                content = build_workbook(built) if fmt is ReportFormat.xlsx else render_report(built).encode()
                progress.advance(task)
                return content
            finally:
                await engine.dispose()

        content = asyncio.run(run())
        progress.update(task, description=f"writing {target}")
        target.write_bytes(content)
        progress.advance(task)
    console.print(f"{target} ({len(content):,} bytes)")
