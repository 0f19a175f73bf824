"""One module per benchmark; each exposes ``run(ctx) -> None`` adding rows to ``ctx.report``."""
