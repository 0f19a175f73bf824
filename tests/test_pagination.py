"""The one keyset pagination of every list: cursor codec, page-size policy, page loop, the one problem."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from shared.audit import AuditEntry
from shared.pagination import (
    MAX_LIMIT,
    WIDE_MAX_LIMIT,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    paginate,
)
from tests.test_foundation import assert_problem

WHEN = datetime(2026, 10, 5, 5, 0, tzinfo=UTC)
IDENT = uuid.UUID("7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09")
PROBLEM = InvalidCursor()


class TestCodec:
    def test_round_trip_keeps_types(self) -> None:
        cursor = encode_cursor(WHEN, IDENT, 3, "abc", date(2026, 4, 1))
        assert decode_cursor(cursor, datetime, uuid.UUID, int, str, date) == [
            WHEN,
            IDENT,
            3,
            "abc",
            date(2026, 4, 1),
        ]

    def test_cursor_is_url_safe_and_opaque(self) -> None:
        cursor = encode_cursor(WHEN, IDENT)
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor
        assert str(IDENT) not in cursor

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "!!!",
            "bm90IGpzb24",  # "not json"
            "eyJhIjoxfQ",  # {"a":1}
            "\u00e9t\u00e9",  # not ASCII
            encode_cursor(WHEN, IDENT, 1),  # another list's cursor (three values)
            encode_cursor(WHEN),  # too short
            encode_cursor("2026-10-05T05:00:00", IDENT),  # a time without offset
            encode_cursor("yesterday", IDENT),  # not a time
            encode_cursor(WHEN, "not-a-uuid"),
            encode_cursor(WHEN, 7),
            encode_cursor([1], IDENT),
        ],
    )
    def test_tampered_or_garbage_cursor_is_the_one_problem(self, bad: str) -> None:
        with pytest.raises(InvalidCursor) as caught:
            decode_cursor(bad, datetime, uuid.UUID)
        assert caught.value.status == 422 and caught.value.slug == "invalid-cursor"
        assert caught.value.detail == PROBLEM.detail and caught.value.detail_ja == PROBLEM.detail_ja

    @pytest.mark.parametrize("bad", [encode_cursor(True), encode_cursor("1"), encode_cursor(1.5)])
    def test_integers_are_integers(self, bad: str) -> None:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, int)

    def test_cap_policy(self) -> None:
        assert (MAX_LIMIT, WIDE_MAX_LIMIT) == (200, 500)


class TestPageLoop:
    async def test_walks_every_row_once_in_key_order_with_ties(self, db) -> None:
        """Descending keyset over (at, id) with equal times: every row once, newest first, no overlap."""
        base = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
        for n in range(7):
            db.add(
                AuditEntry(
                    at=base + timedelta(minutes=n // 2),  # pairs share a time
                    actor_kind="system",
                    actor_name="tester",
                    operation="test.page",
                    object_type="thing",
                    object_id=str(n),
                )
            )
        await db.flush()
        query = select(AuditEntry).where(AuditEntry.operation == "test.page")
        expected = (await db.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))).all()
        seen: list[AuditEntry] = []
        cursor: str | None = None
        pages = 0
        while True:
            page, cursor = await paginate(
                db,
                query,
                (AuditEntry.at, AuditEntry.id),
                limit=3,
                cursor=cursor,
                descending=True,
                scalars=True,
            )
            seen.extend(page)
            pages += 1
            if cursor is None:
                break
        assert [e.id for e in seen] == [e.id for e in expected] and len(seen) == 7
        assert pages == 3

    async def test_exact_multiple_has_no_empty_last_page(self, db) -> None:
        for n in range(4):
            db.add(
                AuditEntry(
                    actor_kind="system",
                    actor_name="t",
                    operation="test.exact",
                    object_type="x",
                    object_id=str(n),
                )
            )
        await db.flush()
        query = select(AuditEntry).where(AuditEntry.operation == "test.exact")
        first, cursor = await paginate(db, query, (AuditEntry.id,), limit=2, cursor=None, scalars=True)
        second, last = await paginate(db, query, (AuditEntry.id,), limit=2, cursor=cursor, scalars=True)
        assert len(first) == len(second) == 2 and last is None
        assert [e.id for e in first + second] == sorted(e.id for e in first + second)


class TestEveryServiceAnswersTheSameProblem:
    """One problem type and one bilingual message, whichever service issued the list."""

    @pytest.mark.parametrize("language", ["ja", "en"])
    async def test_kpi_netsugen_notifier(
        self, language, kpi_client, netsugen_client, notifier_client, staff_headers
    ) -> None:
        forged = encode_cursor("x", "y", "z")
        headers = {**staff_headers, "accept-language": language}
        expected = PROBLEM.detail_ja if language == "ja" else PROBLEM.detail
        for client, path in (
            (kpi_client, "/v1/kpis"),
            (kpi_client, "/v1/initiatives"),
            (netsugen_client, "/v1/visits"),
            (netsugen_client, "/v1/bookings"),
            (notifier_client, "/v1/deliveries"),
        ):
            body = assert_problem(
                await client.get(path, params={"cursor": forged}, headers=headers), 422, "invalid-cursor"
            )
            assert body["detail"] == expected, path

    async def test_page_cap_is_200_except_the_kpi_registry(
        self, kpi_client, netsugen_client, notifier_client, staff_headers
    ) -> None:
        for client, path in (
            (kpi_client, "/v1/initiatives"),
            (netsugen_client, "/v1/visits"),
            (notifier_client, "/v1/deliveries"),
        ):
            assert (
                await client.get(path, params={"limit": 200}, headers=staff_headers)
            ).status_code == 200, path
            assert_problem(
                await client.get(path, params={"limit": 201}, headers=staff_headers), 422, "validation-error"
            )
        assert (await kpi_client.get("/v1/kpis", params={"limit": 500})).status_code == 200
        assert_problem(await kpi_client.get("/v1/kpis", params={"limit": 501}), 422, "validation-error")
