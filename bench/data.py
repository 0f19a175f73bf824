"""Bench data, written straight into the bench database with asyncpg (fast and without side effects:
no `member.registered` events flood the notifier while the load benchmarks run).

The rows look exactly like the service's own: member numbers from ``netsugen.member_number_seq``
formatted ``M000123``, card tokens stored as SHA-256, a ``dropin`` plan assignment per member.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg

from shared.auth import Role, create_token
from shared.db import create_engine, make_sessionmaker, session_scope


async def make_tokens(database_url: str, roles: tuple[Role, ...] = ("admin", "staff")) -> dict[str, str]:
    """Fresh API tokens (shared.auth.create_token) for the bench run."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0, application_name="bench")
    try:
        out: dict[str, str] = {}
        async with session_scope(make_sessionmaker(engine)) as session:
            for role in roles:
                _, secret = await create_token(session, name=f"bench {role}", role=role, subject="bench")
                out[role] = secret
        return out
    finally:
        await engine.dispose()


INSERT_MEMBERS = """
WITH s AS (
    SELECT gen_random_uuid() AS id, nextval('netsugen.member_number_seq') AS n
    FROM generate_series(1, $1)
)
INSERT INTO netsugen.member (id, member_number, kind, name, email, language, status, card_token_hash)
SELECT id,
       'M' || CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END,
       'individual', $2 || ' ' || n, 'bench' || n || '@example.jp', 'ja', 'active',
       encode(sha256(convert_to('bench-card-' || id::text, 'UTF8')), 'hex')
FROM s
RETURNING id, member_number
"""

INSERT_ASSIGNMENTS = """
INSERT INTO netsugen.plan_assignment (id, member_id, plan_code, start_date, created_by)
SELECT gen_random_uuid(), m, $2, $3, 'bench' FROM unnest($1::uuid[]) AS m
"""


async def create_members(
    dsn: str, count: int, *, plan: str = "dropin", since: date = date(2020, 4, 1), label: str = "ベンチ会員"
) -> list[tuple[str, str]]:
    """``count`` active individual members on ``plan`` since ``since``; returns (id, member_number)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            rows = await conn.fetch(INSERT_MEMBERS, count, label)
            await conn.execute(INSERT_ASSIGNMENTS, [r["id"] for r in rows], plan, since)
        return [(str(r["id"]), r["member_number"]) for r in rows]
    finally:
        await conn.close()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
