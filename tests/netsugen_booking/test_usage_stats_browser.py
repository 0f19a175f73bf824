"""The usage statistics page in headless Chromium (Debian's /usr/bin/chromium via playwright).

The page is fetched from the app (real database, the November of ``test_usage_stats``) and served to
the browser through request interception with its real headers, so Chromium enforces the page's own
Content-Security-Policy: any blocked style would show as a console error. Screenshots go to
test-artifacts/usage-stats/ (git-ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.netsugen_booking.conftest import Clock
from tests.netsugen_booking.test_usage_stats import november  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)

from playwright.async_api import async_playwright  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "usage-stats"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ORIGIN = "https://netsugen.test"


async def show(response: httpx.Response, name: str, *, width: int = 1280) -> dict[str, Any]:
    """Load the response in Chromium, screenshot it, and report console errors and a few facts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    headers = {
        k: v for k, v in response.headers.items() if k.lower() in ("content-type", "content-security-policy")
    }
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": width, "height": 900}, java_script_enabled=False)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.route(
                f"{ORIGIN}/**",
                lambda route: route.fulfill(
                    status=response.status_code, headers=headers, body=response.content
                ),
            )
            await page.goto(f"{ORIGIN}/usage-stats")
            await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            facts = {
                "errors": errors,
                "header_background": await page.locator("header").evaluate(
                    "e => getComputedStyle(e).backgroundColor"
                ),
                "heatmap_cells": await page.locator("svg.heatmap rect").count(),
                "scroll_width": await page.evaluate("document.documentElement.scrollWidth"),
            }
        finally:
            await browser.close()
    return facts


class TestUsagePageInChromium:
    @pytest.mark.parametrize(("lang", "width"), [("ja", 1280), ("en", 1280), ("ja", 390)])
    async def test_renders_with_its_styles_and_no_csp_error(
        self,
        netsugen_client: httpx.AsyncClient,
        staff_headers: dict[str, str],
        november: dict[str, Any],  # noqa: F811
        clock: Clock,
        lang: str,
        width: int,
    ) -> None:
        r = await netsugen_client.get(
            "/usage-stats", params={"month": "2026-11", "lang": lang}, headers=staff_headers
        )
        assert r.status_code == 200
        facts = await show(r, f"usage-2026-11-{lang}-{width}", width=width)
        assert facts["errors"] == []  # a style refused by the CSP is reported here
        assert facts["header_background"] == "rgb(31, 78, 121)"  # the inline stylesheet applied
        assert facts["heatmap_cells"] == 7 * 11  # seven weekdays × 10:00–20:00
        assert facts["scroll_width"] <= width  # wide charts and tables scroll inside their box

    async def test_fiscal_year_page(
        self,
        netsugen_client: httpx.AsyncClient,
        staff_headers: dict[str, str],
        november: dict[str, Any],  # noqa: F811
        clock: Clock,
    ) -> None:
        r = await netsugen_client.get("/usage-stats", params={"fiscal_year": 2026}, headers=staff_headers)
        facts = await show(r, "usage-FY2026-ja")
        assert facts["errors"] == []
