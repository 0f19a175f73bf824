"""`gunma notifier …`: the notifier's administration commands.

gunma notifier rotate-webhook-key     re-encrypt every webhook secret with the first WEBHOOK_SECRET_KEYS key
"""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.db import create_engine
from shared.settings import command_database_url

app = typer.Typer(help="Notifier administration / 通知サービス管理", no_args_is_help=True)
console = Console()


@app.callback()
def main() -> None:
    """Notifier administration / 通知サービス管理."""


@app.command("rotate-webhook-key")
def rotate_webhook_key() -> None:
    """Re-encrypt every webhook secret with the first key of WEBHOOK_SECRET_KEYS.

    Key rotation: put the new key first in WEBHOOK_SECRET_KEYS (new,old), restart the notifier API
    and worker, run this command, then remove the old key and restart again.
    """
    from services.notifier.webhooks.keyrotation import RotationResult, rotate_all
    from services.notifier.webhooks.secretbox import MissingKey, UndecryptableSecret, box_from_environment

    database_url = command_database_url()
    try:
        box = box_from_environment()
    except (MissingKey, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    async def run(bar: Progress) -> RotationResult:
        task = bar.add_task("webhook secrets / Webhookシークレット", total=None)
        engine = create_engine(database_url, pool_size=1, max_overflow=0, application_name="notifier-cli")
        try:
            return await rotate_all(
                engine, box, lambda done, total: bar.update(task, completed=done, total=total)
            )
        finally:
            await engine.dispose()

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        try:
            result = asyncio.run(run(bar))
        except UndecryptableSecret as exc:
            console.print(
                f"[red]{exc}: keep the old key in WEBHOOK_SECRET_KEYS (after the new one) and run again[/red]"
            )
            raise typer.Exit(1) from exc
    console.print(
        f"endpoints: {result.endpoints}, re-encrypted: {result.rotated}, "
        f"already on the first key: {result.already_current}"
    )
