"""The public progress site (/dashboard) in a real headless Chromium against the real kpi_api process.

- Debian's ``chromium`` driven by playwright-python through ``executable_path`` (no browser download).
- kpi_api runs as its own uvicorn process on a free port against the test stack's PostgreSQL and
  Redis (seeded registry); observations are recorded through its API with the bootstrap admin token.
- The home page and three indicator pages (one with breakdowns, one decreasing, one cumulative) are
  opened in Japanese and English, on a desktop and a phone viewport; screenshots go to
  test-artifacts/dashboard/ (git-ignored).
- axe-core (tests/node/node_modules/axe-core) checks every page for WCAG 2 A/AA violations: none
  serious or critical may remain. axe is injected into a context that bypasses CSP, because the
  site's own policy forbids every script (which the normal context proves: no CSP violation and
  the stylesheet applied).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import StackInfo

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium missing)", allow_module_level=True)

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright  # noqa: E402

from tests.e2e.test_frontdesk_browser import CHROMIUM_ARGS, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
ADMIN_TOKEN = "e2e-bootstrap-admin-token-for-the-dashboard-test"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}

FIVE_G = "5g-technology-support-cases"  # cumulative (累計)
HEALTH = "healthy-life-expectancy"  # breakdowns 男性/女性
GHG = "ghg-emissions"  # decreasing
CREATOR_LAB = "creator-laboratory-participants"  # cumulative, reported per year by NETSUGEN
PAGES = {
    "home": "/dashboard",
    "breakdowns": f"/dashboard/kpis/{HEALTH}",
    "decreasing": f"/dashboard/kpis/{GHG}",
    "cumulative": f"/dashboard/kpis/{FIVE_G}",
    "per-year": f"/dashboard/kpis/{CREATOR_LAB}",
}
OBSERVATIONS: list[tuple[str, int, Any, str | None]] = [
    (FIVE_G, 2021, 5, None),
    (FIVE_G, 2022, 12, None),
    (FIVE_G, 2023, 20, None),
    (HEALTH, 2019, "72.4", "male"),
    (HEALTH, 2022, "73.3", "male"),
    (HEALTH, 2019, "75.3", "female"),
    (HEALTH, 2022, "75.0", "female"),
    (GHG, 2018, 15100, None),
    (GHG, 2019, 14900, None),
    (GHG, 2020, 14500, None),
    (GHG, 2021, 14343, None),
    (CREATOR_LAB, 2021, 300, None),
    (CREATOR_LAB, 2022, 250, None),
    ("gross-prefectural-product", 2020, 9000000000000, None),
    ("gross-prefectural-product", 2021, 9123456789012, None),
]


@dataclass
class Server:
    base_url: str
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(stack: StackInfo, clean_db: None, tmp_path: Path) -> Iterator[Server]:
    """The real kpi_api as a process; the test database is truncated afterwards (clean_db)."""
    port = free_port()
    log_path = tmp_path / "kpi_api.log"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
        "OUTBOX_RELAY_ENABLED": "false",
        "LOG_JSON": "true",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "--factory", "services.kpi_api.main:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"kpi_api did not start:\n{server.log_tail()}")
            time.sleep(0.3)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def record_observations(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for indicator_id, year, value, breakdown in OBSERVATIONS:
            body: dict[str, Any] = {"fiscal_year": year, "value": value}
            if breakdown:
                body["breakdown"] = breakdown
            r = client.post(
                f"/v1/kpis/{indicator_id}/observations",
                json=body,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert r.status_code == 201, r.text


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def axe_violations(browser: Browser, url: str, viewport: ViewportSize) -> list[dict[str, Any]]:
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(url)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
        )
        violations: list[dict[str, Any]] = result["violations"]
        return violations
    finally:
        context.close()


def test_progress_site_in_a_real_browser(server: Server) -> None:
    record_observations(server.base_url)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    report: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for lang, locale in (("ja", "ja-JP"), ("en", "en-GB")):
                for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                    # The language comes from Accept-Language here (the browser's locale): ?lang= is
                    # covered by the API tests, and the links on every page carry it.
                    context = browser.new_context(viewport=viewport, locale=locale)
                    page = context.new_page()
                    problems: list[str] = []
                    page.on("console", lambda m, p=problems: p.append(m.text) if m.type == "error" else None)
                    page.on("pageerror", lambda exc, p=problems: p.append(str(exc)))
                    for name, path in PAGES.items():
                        response = page.goto(server.base_url + path)
                        assert response is not None and response.status == 200, path
                        assert page.get_attribute("html", "lang") == lang
                        assert page.locator("h1").count() == 1
                        # The stylesheet applied under the strict CSP (no inline style needed).
                        background = page.evaluate(
                            "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
                        )
                        assert background == "rgb(25, 72, 106)", background
                        if name != "home":
                            assert page.locator("svg.chart").count() >= 1
                            assert page.locator("table").count() >= 2
                        # Nothing wider than the viewport on a phone: tables scroll in their own region.
                        width = page.evaluate("document.documentElement.scrollWidth")
                        assert width <= viewport["width"], (path, viewport_name, width)
                        shot(page, f"{name}-{lang}-{viewport_name}")
                    assert problems == [], problems
                    context.close()

            # Keyboard: the first Tab reaches the skip link, which moves focus to the main content.
            context = browser.new_context(viewport=DESKTOP, locale="ja-JP")
            page = context.new_page()
            page.goto(server.base_url + "/dashboard")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip-link"
            assert page.locator(".skip-link").bounding_box() is not None
            shot(page, "home-ja-skip-link-focused")
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "main"
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.tagName")
            assert focused in ("A", "DIV"), focused
            # Every indicator page is reachable from the home page by a link.
            for indicator_id in (HEALTH, GHG, FIVE_G):
                assert page.locator(f'a[href="/dashboard/kpis/{indicator_id}?lang=ja"]').count() >= 1
            context.close()

            # Breakdowns: each breakdown's status is shown in words, not colour alone.
            context = browser.new_context(viewport=DESKTOP, locale="en-GB")
            page = context.new_page()
            page.goto(server.base_url + PAGES["breakdowns"])
            text = page.inner_text("main")
            assert "Male:" in text and "Female:" in text and "Regressing" in text
            context.close()

            for lang in ("ja", "en"):
                for name, path in PAGES.items():
                    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                        url = f"{server.base_url}{path}?lang={lang}"
                        violations = axe_violations(browser, url, viewport)
                        report[f"{name}-{lang}-{viewport_name}"] = [
                            {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
                            for v in violations
                        ]
                        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
                        assert serious == [], (
                            url,
                            viewport_name,
                            json.dumps(serious, ensure_ascii=False)[:3000],
                        )
        finally:
            browser.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe-report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
    )
