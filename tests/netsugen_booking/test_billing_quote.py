"""POST /v1/billing/quote: public, the worked examples of the pricing rules, and bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.netsugen_booking.factories import assert_problem


def v(check_in: str, check_out: str) -> dict[str, str]:
    return {"check_in": check_in, "check_out": check_out}


async def quote(
    client: httpx.AsyncClient, visits: list[dict[str, str]], plan: str = "dropin"
) -> httpx.Response:
    return await client.post("/v1/billing/quote", json={"plan": plan, "visits": visits})


class TestWorkedExamples:
    @pytest.mark.parametrize(
        ("visits", "total"),
        [
            ([v("2026-12-01T10:00:00+09:00", "2026-12-01T10:00:00+09:00")], 0),  # 0 minutes: free
            ([v("2026-12-01T10:00:00+09:00", "2026-12-01T10:01:00+09:00")], 250),  # 1 minute
            ([v("2026-12-01T10:00:00+09:00", "2026-12-01T11:00:00+09:00")], 250),  # 60 minutes
            ([v("2026-12-01T10:00:00+09:00", "2026-12-01T11:01:00+09:00")], 500),  # 61 minutes
            (
                [
                    v("2026-12-01T10:00:00+09:00", "2026-12-01T10:20:00+09:00"),
                    v("2026-12-01T15:00:00+09:00", "2026-12-01T15:20:00+09:00"),
                ],
                250,
            ),  # two visits of 20 minutes on one day
            ([v("2026-12-01T10:00:00+09:00", "2026-12-01T13:01:00+09:00")], 1000),  # more than 3 hours
            ([v("2026-12-01T01:00:00Z", "2026-12-01T11:00:00Z")], 1000),  # UTC input, 10:00-20:00 JST
        ],
    )
    async def test_total(
        self, netsugen_client: httpx.AsyncClient, visits: list[dict[str, str]], total: int
    ) -> None:
        r = await quote(netsugen_client, visits)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == total

    async def test_days_breakdown(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await quote(
            netsugen_client,
            [
                v("2026-12-01T10:00:00+09:00", "2026-12-01T11:01:00+09:00"),
                v("2026-12-05T09:00:00+09:00", "2026-12-05T19:30:00+09:00"),  # Saturday: open 10-18
            ],
        )
        body: dict[str, Any] = r.json()
        assert body["days"] == [
            {
                "date": "2026-12-01",
                "billable_minutes": 61,
                "blocks": 2,
                "uncapped": 500,
                "cap_applied": False,
                "charge": 500,
                "covered_by_plan": False,
            },
            {
                "date": "2026-12-05",
                "billable_minutes": 480,
                "blocks": 8,
                "uncapped": 2000,
                "cap_applied": True,
                "charge": 1000,
                "covered_by_plan": False,
            },
        ]
        assert (body["total"], body["consumption_tax"], body["currency"]) == (1500, 136, "JPY")

    async def test_monthly_plan_visits_are_free(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await quote(
            netsugen_client,
            [v("2026-12-01T10:00:00+09:00", "2026-12-01T20:00:00+09:00")],
            "individual_monthly",
        )
        body = r.json()
        assert (body["total"], body["monthly_fee_yen"]) == (0, 10_000)
        assert body["days"][0]["covered_by_plan"] is True
        assert body["days"][0]["charge"] == 0

    async def test_empty_quote(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await quote(netsugen_client, [])
        assert (r.status_code, r.json()["total"], r.json()["days"]) == (200, 0, [])


class TestBadInput:
    async def test_check_out_before_check_in(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await quote(netsugen_client, [v("2026-12-01T11:00:00+09:00", "2026-12-01T10:00:00+09:00")])
        body = assert_problem(r, 422, "validation-error")
        assert "check_out is before check_in" in body["detail"]

    async def test_visit_longer_than_a_day(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await quote(netsugen_client, [v("2026-12-01T10:00:00+09:00", "2026-12-02T10:00:01+09:00")])
        assert "longer than a day" in assert_problem(r, 422, "validation-error")["detail"]

    async def test_unknown_plan(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await quote(netsugen_client, [], plan="platinum")
        assert "platinum" in assert_problem(r, 422, "unknown-plan")["detail"]

    async def test_more_than_1000_visits(self, netsugen_client: httpx.AsyncClient) -> None:
        visits = [v("2026-12-01T10:00:00+09:00", "2026-12-01T10:01:00+09:00")] * 1001
        assert_problem(await quote(netsugen_client, visits), 422, "validation-error")
        ok = await quote(netsugen_client, visits[:1000])
        assert (ok.status_code, ok.json()["total"]) == (200, 250)

    @pytest.mark.parametrize(
        "body",
        [
            {"plan": "dropin", "visits": [v("2026-12-01T10:00:00", "2026-12-01T11:00:00")]},  # no offset
            {"plan": "dropin", "visits": [{"check_in": "2026-12-01T10:00:00+09:00"}]},
            {"plan": "dropin", "visits": [], "member": "x"},  # unknown field
            {"visits": []},
            {"plan": "dropin", "visits": [v("yesterday", "today")]},
        ],
    )
    async def test_malformed(self, netsugen_client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        r = await netsugen_client.post("/v1/billing/quote", json=body)
        assert_problem(r, 422, "validation-error")

    async def test_date_without_a_tariff(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await quote(netsugen_client, [v("2019-12-02T10:00:00+09:00", "2019-12-02T11:00:00+09:00")])
        assert_problem(r, 422, "no-tariff")
