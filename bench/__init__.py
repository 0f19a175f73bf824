"""Benchmarks of the platform's hot paths, each beside a minimal asyncpg baseline (`make bench`)."""
