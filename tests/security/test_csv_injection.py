"""CSV formula injection (issue 14, finding 8), through the real exports.

A member whose name starts a spreadsheet formula appears in the accounting export
(``/v1/invoices/export.csv``) with a leading ``'`` (OWASP's advice), and so does a KPI breakdown
name or unit edited to a formula in the public Open SDG exports. Amounts and KPI values, negative
ones included, stay numbers. Every export writes through ``shared/csvsafe.py``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.kpi_api.conftest import post_observation
from tests.netsugen_booking.conftest import Clock
from tests.netsugen_booking.test_billing_factories import jst, make_member, visit

#: Names that a spreadsheet would run as formulas, each with the cell the export must write.
FORMULAS = [
    ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+9)*cmd|' /C calc'!A0", "'@SUM(1+9)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
]


@pytest.fixture
def clock(netsugen_app: FastAPI) -> Iterator[Clock]:
    from services.netsugen_booking.frontdesk_common.clock import get_now

    c = Clock(netsugen_app)
    yield c
    netsugen_app.dependency_overrides.pop(get_now, None)


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


class TestInvoiceExport:
    @pytest.mark.parametrize(
        ("name", "cell"), FORMULAS, ids=["eq-hyperlink", "plus", "minus", "at", "tab", "cr"]
    )
    async def test_member_name_is_neutralised_amounts_stay_numbers(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
        name: str,
        cell: str,
    ) -> None:
        member = await make_member(db, name=name)
        await visit(db, member, jst(2026, 10, 6, 10), 45)  # 250円
        await visit(db, member, jst(2026, 10, 7, 10), 90)  # 500円
        await db.commit()
        clock.set(jst(2026, 11, 1, 0, 30))
        run = await netsugen_client.post(
            "/v1/invoice-runs", json={"period": "2026-10"}, headers=admin_headers
        )
        assert run.status_code == 201 and run.json()["invoices_created"] == 1, run.text
        [invoice] = (await netsugen_client.get("/v1/invoices", headers=admin_headers)).json()["items"]
        assert invoice["status"] == "issued"
        r = await netsugen_client.get(
            "/v1/invoices/export.csv",
            params={"from": "2026-11-01", "to": "2026-11-30"},
            headers=staff_headers,
        )
        rows = _rows(r)
        assert [row["recipient_name"] for row in rows] == [cell, cell]
        # Nothing in the file starts a formula: no cell begins with a trigger character.
        for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")):
            for value in row:
                assert not value.startswith(("=", "+", "@", "\t", "\r")), value
                assert not value.startswith("-") or value.lstrip("-").isdigit(), value
        # Amounts are plain integers, not quoted text.
        assert sorted(row["line_amount_yen"] for row in rows) == ["250", "500"]
        assert {row["invoice_total_yen"] for row in rows} == {"750"}
        raw = r.content.decode("utf-8-sig")
        assert ",750," in raw and "'750" not in raw and "'250" not in raw


class TestOpenSdgExport:
    async def test_breakdown_name_and_unit_edited_to_formulas_are_neutralised(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], service_headers: dict[str, str]
    ) -> None:
        patch: dict[str, Any] = {
            "unit": "=1+2",
            "breakdowns": [
                {"key": "male", "name_ja": '=HYPERLINK("http://evil.example","x")', "name_en": "@SUM(A1)"},
                {"key": "female", "name_ja": "+女性", "name_en": "\tFemale"},
            ],
        }
        r = await kpi_client.patch("/v1/kpis/healthy-life-expectancy", json=patch, headers=admin_headers)
        assert r.status_code == 200, r.text
        for key, value in (("male", "72.5"), ("female", "75.9")):
            created = await post_observation(
                kpi_client, service_headers, "healthy-life-expectancy", 2022, value, breakdown=key
            )
            assert created.status_code == 201, created.text
        ja = await kpi_client.get("/v1/exports/open-sdg/healthy-life-expectancy.csv")
        assert ja.text == (
            "Year,Breakdown,Units,Value\n"
            '2022,"\'=HYPERLINK(""http://evil.example"",""x"")",\'=1+2,72.5\n'
            "2022,'+女性,'=1+2,75.9\n"
        )
        en = await kpi_client.get(
            "/v1/exports/open-sdg/healthy-life-expectancy.csv", headers={"accept-language": "en"}
        )
        assert en.text == "Year,Breakdown,Units,Value\n2022,'@SUM(A1),'=1+2,72.5\n2022,'\tFemale,'=1+2,75.9\n"
        everything = await kpi_client.get("/v1/exports/open-sdg.csv")
        rows = _rows(everything)
        assert [(r["Breakdown"], r["Units"], r["Value"]) for r in rows] == [
            ('\'=HYPERLINK("http://evil.example","x")', "'=1+2", "72.5"),
            ("'+女性", "'=1+2", "75.9"),
        ]

    async def test_negative_values_stay_numbers(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], service_headers: dict[str, str]
    ) -> None:
        r = await kpi_client.patch(
            "/v1/kpis/gross-prefectural-product", json={"unit": "-円"}, headers=admin_headers
        )
        assert r.status_code == 200, r.text
        for year, value in ((2020, "-3.5"), (2021, "-12")):
            created = await post_observation(
                kpi_client, service_headers, "gross-prefectural-product", year, value
            )
            assert created.status_code == 201, created.text
        one = await kpi_client.get("/v1/exports/open-sdg/gross-prefectural-product.csv")
        assert one.text == "Year,Units,Value\n2020,'-円,-3.5\n2021,'-円,-12\n"
        rows = _rows(await kpi_client.get("/v1/exports/open-sdg.csv"))
        assert [(r["Year"], r["Units"], r["Value"]) for r in rows] == [
            ("2020", "'-円", "-3.5"),
            ("2021", "'-円", "-12"),
        ]
