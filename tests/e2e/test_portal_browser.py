"""The member portal in a real headless Chromium against the real netsugen_booking process.

- A member asks for a sign-in link on /portal/signin; the outbox relay and the notifier's worker send
  the real email to the test's SMTP sink; the test reads the link from the mail and opens it in the
  browser, whose page posts the token from the fragment (no token in any server log).
- Then the member books a room, registers for an event, opens an invoice document and changes a
  preference (the language of their emails). Screenshots of each step are saved under
  test-artifacts/portal/ (git-ignored); the same pages are checked at phone width.
- Every page runs under its strict Content-Security-Policy (a violation fails the test) and passes an
  axe-core check (WCAG 2 A/AA rules) with no serious or critical violation. axe is injected as an
  init script, which the page's CSP does not govern.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import ensure_token
from shared.db import session_scope
from shared.jst import JST
from tests.conftest import StackInfo
from tests.e2e.frontdesk_server import CLOCK_FILE_ENV, write_offset
from tests.e2e.test_frontdesk_browser import CHROMIUM, CHROMIUM_ARGS, CSP_PROBE, PHONE, free_port
from tests.netsugen_booking.test_billing_factories import make_member, visit
from tests.notifier.conftest import (  # noqa: F401  (fixtures)
    SERVICE_TOKEN,
    arq_pool,
    make_settings,
    relay,
    run_worker,
    smtp,
    smtp_session,
    world,
    world_session,
)

pytestmark = pytest.mark.browser

from playwright.async_api import Page, async_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "portal"
AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
ADMIN_TOKEN = "e2e-bootstrap-admin-token-for-the-portal-test"
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=JST)  # a Monday morning; October is invoiced
EMAIL = "hanako.portal@example.jp"
DESKTOP = {"width": 1100, "height": 800}


@pytest.fixture
async def portal_server(stack: StackInfo, clean_db: None, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock_file = tmp_path / "clock-offset"
    write_offset(clock_file, NOW)
    log_path = tmp_path / "netsugen.log"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
        "OUTBOX_RELAY_ENABLED": "false",
        "AUTH_PUBLIC_BASE_URL": base,
        "NETSUGEN_URL": base,
        "LOG_JSON": "true",
        CLOCK_FILE_ENV: str(clock_file),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "tests.e2e.frontdesk_server:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"{base}/readyz", timeout=2)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text(errors="replace")[-4000:])
                time.sleep(0.3)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def check_page(page: Page, console: list[str]) -> None:
    """No CSP violation, and no serious or critical axe-core violation (WCAG 2 A and AA rules)."""
    violations = await page.evaluate("window.__csp || []")
    assert violations == [] and not [m for m in console if "Content Security Policy" in m], violations
    result = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length})))"
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{page.url}: {serious}"


async def seed(sessionmaker: async_sessionmaker[AsyncSession], base: str) -> dict[str, Any]:
    """A drop-in member with three October visits (invoiced 1,750円) and a public event."""
    async with session_scope(sessionmaker) as session:
        await ensure_token(session, name="notifier", role="service", secret=SERVICE_TOKEN)
        member = await make_member(session, name="上毛 花子")
        await visit(session, member, datetime(2026, 10, 6, 10, tzinfo=JST), 45)
        await visit(session, member, datetime(2026, 10, 7, 10, tzinfo=JST), 90)
        await visit(session, member, datetime(2026, 10, 8, 10, tzinfo=JST), 300)
        await session.execute(
            text("UPDATE netsugen.member SET email = :e WHERE id = :id"), {"e": EMAIL, "id": member.id}
        )
        member_id = str(member.id)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=admin, timeout=20) as api:
        r = await api.post("/v1/invoice-runs", json={"period": "2026-10"})
        assert r.status_code == 201, r.text
        r = await api.post(
            "/v1/programs",
            json={"title_ja": "スタートアップピッチ", "title_en": "Startup pitch",
                  "description_ja": "県内スタートアップのピッチ", "description_en": "Pitches by Gunma startups",
                  "category": "startup_program", "start": "2026-11-12T18:00:00+09:00",
                  "end": "2026-11-12T20:00:00+09:00", "capacity": 20,
                  "registration_closes_at": "2026-11-12T12:00:00+09:00"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    return {"member_id": member_id, "event_id": r.json()["id"]}


async def test_member_portal_in_a_real_browser(
    portal_server,
    sessionmaker,
    relay,  # noqa: F811
    run_worker,  # noqa: F811
    make_settings,  # noqa: F811
    smtp,  # noqa: F811
) -> None:
    base = portal_server
    facts = await seed(sessionmaker, base)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = await browser.new_context(viewport=DESKTOP, locale="ja-JP", timezone_id="Asia/Tokyo")
        await context.add_init_script(CSP_PROBE)
        await context.add_init_script(path=str(AXE))
        page = await context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))
        try:
            # 1. Ask for a link; the real email arrives in the SMTP sink.
            await page.goto(f"{base}/portal")
            assert page.url.endswith("/portal/signin?expired=1")
            await page.fill("#request-email", EMAIL)
            await page.click("form[action='/portal/signin/request'] button")
            await page.wait_for_url("**/portal/signin?done=signin.sent*")
            await shot(page, "01-link-requested")
            await check_page(page, console)
            assert await relay.relay_once() >= 1
            await run_worker(make_settings(netsugen_url=base))
            mails = [m for m in smtp.messages if EMAIL in m.rcpt_tos]
            [mail] = [m for m in mails if "サインイン" in m.subject]
            [link] = {line.strip() for line in mail.part("plain").splitlines() if "#token=" in line}
            assert link.startswith(f"{base}/signin#token=")

            # 2. The link opens the portal and signs the member in.
            await page.goto(link)
            await page.wait_for_url(f"{base}/portal")
            assert "#token" not in page.url
            await page.wait_for_selector("text=ようこそ、上毛 花子 さん")
            await shot(page, "02-home")
            await check_page(page, console)
            cookies = {c["name"]: c for c in await context.cookies()}
            assert cookies["netsugen_portal_access"]["httpOnly"] is True
            assert await page.evaluate("document.cookie.includes('netsugen_portal')") is False

            # 3. Book a room (Wednesday 2026-11-04, 10:00–11:00, 会議室A 1,000円/h).
            await page.click("nav >> text=会議室")
            await page.fill("input[name=date]", "2026-11-04")
            await page.click("form[action='/portal/rooms'] button")
            room = page.locator("section", has=page.locator("h2", has_text="会議室A"))
            await room.locator("input[name=start]").fill("10:00")
            await room.locator("input[name=end]").fill("11:00")
            await room.locator("button[type=submit]").click()
            await page.wait_for_selector("text=予約しました。")
            await shot(page, "03-room-booked")
            await check_page(page, console)
            async with httpx.AsyncClient(base_url=base, headers=admin) as api:
                [booking] = (await api.get("/v1/bookings", params={"member_id": facts["member_id"]})).json()[
                    "items"
                ]
            assert booking["start"] == "2026-11-04T10:00:00+09:00" and booking["price_yen"] == 1000

            # 4. Register for the event.
            await page.click("nav >> text=イベント")
            await page.click(f"#program-{facts['event_id']} button")
            await page.wait_for_selector("text=申し込みました。")
            await page.wait_for_selector(f"#program-{facts['event_id']} >> text=申込済み")
            await shot(page, "04-event-registered")
            await check_page(page, console)

            # 5. Open the invoice document (October: 1,750円).
            await page.click("nav >> text=請求書")
            await page.wait_for_selector("text=1,750円")
            await shot(page, "05-invoices")
            await check_page(page, console)
            await page.click("a:has-text('書類を開く')")
            await page.wait_for_url("**/document")
            assert "1,750" in await page.content()
            await shot(page, "06-invoice-document")
            await page.go_back()

            # 6. Change a preference: the language of the member's emails.
            await page.click("nav >> text=設定")
            await page.select_option("#language", "en")
            await page.click("form[action='/portal/settings/language'] button")
            await page.wait_for_selector("text=Saved.")
            await shot(page, "07-settings-saved")
            await check_page(page, console)
            async with httpx.AsyncClient(base_url=base, headers=admin) as api:
                member = (await api.get(f"/v1/members/{facts['member_id']}")).json()
            assert member["language"] == "en"

            # 7. The same pages at phone width.
            await page.set_viewport_size(PHONE)
            for name in (
                "",
                "/visits?month=2026-10",
                "/invoices",
                "/rooms",
                "/events",
                "/consultations",
                "/settings",
            ):
                await page.goto(f"{base}/portal{name}")
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{name}: horizontal scroll ({width}px)"
                await shot(page, f"08-phone{name.split('?')[0].replace('/', '-') or '-home'}")
                await check_page(page, console)

            # 8. Keyboard: the skip link is the first stop and moves focus to the content.
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.className") == "skip-link"
        except Exception:
            await shot(page, "failure")
            print("FAILURE AT", page.url, console)
            raise
        finally:
            await context.close()
            await browser.close()
