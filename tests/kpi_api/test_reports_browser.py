"""The printable KPI progress report in headless Chromium (Debian's /usr/bin/chromium via playwright).

The page comes from the app with its real headers (served to the browser by request interception),
so Chromium enforces its Content-Security-Policy. Screenshots and an A4 landscape PDF go to
test-artifacts/kpi-report/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kpi_api.test_reports import observed  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)

from playwright.async_api import async_playwright  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "kpi-report"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ORIGIN = "https://kpi.test"


class TestReportInChromium:
    @pytest.mark.parametrize("lang", ["ja", "en"])
    async def test_screen_and_print(
        self,
        kpi_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        observed: None,  # noqa: F811
        lang: str,
    ) -> None:
        r = await kpi_client.get(
            "/v1/reports/kpi-progress", params={"fiscal_year": 2025, "lang": lang}, headers=admin_headers
        )
        assert r.status_code == 200
        headers = {k: v for k, v in r.headers.items() if k in ("content-type", "content-security-policy")}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = await browser.new_page(
                    viewport={"width": 1400, "height": 900}, java_script_enabled=False
                )
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                await page.route(
                    f"{ORIGIN}/**", lambda route: route.fulfill(status=200, headers=headers, body=r.content)
                )
                await page.goto(f"{ORIGIN}/v1/reports/kpi-progress")
                await page.screenshot(path=str(ARTIFACTS / f"report-FY2025-{lang}.png"), full_page=True)
                facts: dict[str, Any] = {
                    "status_cells": await page.locator("td.status").count(),
                    "on_track_background": await page.locator("td.status-on_track").first.evaluate(
                        "e => getComputedStyle(e).backgroundColor"
                    ),
                }
                await page.emulate_media(media="print")
                await page.screenshot(path=str(ARTIFACTS / f"report-FY2025-{lang}-print.png"), full_page=True)
                pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
                (ARTIFACTS / f"report-FY2025-{lang}.pdf").write_bytes(pdf)
            finally:
                await browser.close()
        assert errors == []  # a style refused by the CSP would be reported here
        assert facts["on_track_background"] == "rgb(221, 235, 247)"  # the inline stylesheet applied
        assert facts["status_cells"] > 90  # two status cells per row
        # A4 landscape from @page: the first page's MediaBox is 842 × 595 points.
        assert b"/MediaBox [0 0 841.91998 594.95996]" in pdf or b"/MediaBox [0 0 842 595]" in pdf
