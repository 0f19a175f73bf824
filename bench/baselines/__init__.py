"""Minimal baselines: the same database work as the services with bare asyncpg, nothing else."""
