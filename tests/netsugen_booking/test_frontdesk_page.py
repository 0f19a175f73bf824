"""The front-desk console page (/frontdesk): HTML, assets, words and accessibility basics.

Fast tests on the ASGI app; tests/e2e/test_frontdesk_browser.py drives the page in a real Chromium.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import get_args

import httpx
import pytest

from services.netsugen_booking.frontdesk import i18n
from services.netsugen_booking.frontdesk.router import STATIC_DIR
from services.netsugen_booking.members.schemas import MemberKind, MemberStatus
from services.netsugen_booking.plans.schemas import PlanCode
from shared.errors import ProblemError

JS = (STATIC_DIR / "frontdesk.js").read_text(encoding="utf-8")
CSS = (STATIC_DIR / "frontdesk.css").read_text(encoding="utf-8")


class PageParser(HTMLParser):
    """Collects the elements the checks below need."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: dict[str, str] = {}
        self._script_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "script" and attributes.get("type") == "application/json":
            self._script_id = attributes.get("id")
            self.scripts[self._script_id or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script_id = None

    def handle_data(self, data: str) -> None:
        if self._script_id is not None:
            self.scripts[self._script_id] += data

    def by_id(self, element_id: str) -> tuple[str, dict[str, str]]:
        for tag, attrs in self.elements:
            if attrs.get("id") == element_id:
                return tag, attrs
        raise AssertionError(f"no element with id {element_id!r}")


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


class TestPage:
    async def test_japanese_by_default_with_csp_and_no_cache(
        self, netsugen_client: httpx.AsyncClient
    ) -> None:
        r = await netsugen_client.get("/frontdesk")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-language"] == "ja"
        assert r.headers["cache-control"] == "no-store"
        # Finding 11 of issue 14: one strict policy, no 'unsafe-inline' anywhere.
        assert r.headers.get_list("content-security-policy") == [
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ]
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        assert '<html lang="ja">' in r.text
        assert '<title data-i18n="page.title">NETSUGEN 受付コンソール</title>' in r.text
        assert "メールアドレス" in r.text and "パスワード" in r.text and "トークン" not in r.text
        # No inline script or handler: every <script> is external or a JSON data block.
        page = parse(r.text)
        for tag, attrs in page.elements:
            assert not any(k.startswith("on") for k in attrs), (tag, attrs)
            if tag == "script":
                assert "src" in attrs or attrs.get("type") == "application/json", attrs
        for name in ("frontdesk.js", "frontdesk.css"):
            asset = await netsugen_client.get(f"/frontdesk/static/{name}")
            assert asset.headers.get_list("content-security-policy") == r.headers.get_list(
                "content-security-policy"
            )

    async def test_english_from_accept_language_or_query(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get("/frontdesk", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert r.status_code == 200
        assert '<html lang="en">' in r.text and "Email" in r.text and "Password" in r.text
        assert r.headers["content-language"] == "en"
        r = await netsugen_client.get("/frontdesk?lang=en", headers={"Accept-Language": "ja"})
        assert '<html lang="en">' in r.text
        r = await netsugen_client.get("/frontdesk?lang=ja", headers={"Accept-Language": "en"})
        assert '<html lang="ja">' in r.text

    async def test_unknown_language_is_a_422_problem(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get("/frontdesk?lang=fr")
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:gunma-sdgs:problem:validation-error"

    async def test_every_form_field_has_a_label_and_messages_are_live(
        self, netsugen_client: httpx.AsyncClient
    ) -> None:
        page = parse((await netsugen_client.get("/frontdesk")).text)
        label_for = {a["for"] for tag, a in page.elements if tag == "label" and "for" in a}
        fields = [a["id"] for tag, a in page.elements if tag == "input" and a.get("type") != "hidden"]
        assert fields == ["email-input", "password-input", "totp-input", "scan-input", "search-input"]
        assert set(fields) <= label_for
        assert page.by_id("status-msg")[1]["role"] == "status"
        assert page.by_id("status-msg")[1]["aria-live"] == "polite"
        assert page.by_id("error-msg")[1]["role"] == "alert"
        assert page.by_id("search-results")[1]["aria-live"] == "polite"
        bar = page.by_id("occupancy-bar")[1]
        assert bar["role"] == "progressbar" and bar["aria-labelledby"] == "occupancy-text"
        dialog = page.by_id("checkout-dialog")
        assert dialog[0] == "dialog" and dialog[1]["aria-labelledby"] == "checkout-title"
        # Every button has a visible text or an accessible name from the catalog.
        for tag, attrs in page.elements:
            if tag == "button":
                assert attrs.get("data-i18n") or attrs.get("aria-label"), attrs
        # Password managers fill the sign-in; the code field is a one-time code.
        assert page.by_id("email-input")[1]["autocomplete"] == "username"
        assert page.by_id("password-input")[1]["type"] == "password"
        assert page.by_id("password-input")[1]["autocomplete"] == "current-password"
        assert page.by_id("totp-input")[1]["autocomplete"] == "one-time-code"

    async def test_only_same_origin_assets(self, netsugen_client: httpx.AsyncClient) -> None:
        page = parse((await netsugen_client.get("/frontdesk")).text)
        urls = [a[k] for _, a in page.elements for k in ("src", "href") if k in a]
        assert sorted(u.split("?")[0] for u in urls) == [
            "#main",
            "/frontdesk/static/frontdesk.css",
            "/frontdesk/static/frontdesk.js",
        ]
        for url in urls:
            if url.startswith("/"):
                r = await netsugen_client.get(url)
                assert r.status_code == 200, url
                assert r.content == (STATIC_DIR / url.split("?")[0].rsplit("/", 1)[1]).read_bytes()
        assert not re.search(r"https?://", JS + CSS)

    async def test_static_assets_and_their_types(self, netsugen_client: httpx.AsyncClient) -> None:
        js = await netsugen_client.get("/frontdesk/static/frontdesk.js")
        assert js.status_code == 200 and js.headers["content-type"] == "text/javascript; charset=utf-8"
        css = await netsugen_client.get("/frontdesk/static/frontdesk.css")
        assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
        assert "etag" in js.headers
        again = await netsugen_client.get(
            "/frontdesk/static/frontdesk.js", headers={"If-None-Match": js.headers["etag"]}
        )
        assert again.status_code == 304

    @pytest.mark.parametrize(
        "path",
        [
            "/frontdesk/static/nope.js",
            "/frontdesk/static/..%2Frouter.py",
            "/frontdesk/static/%2E%2E%2Fi18n.py",
            "/frontdesk/static/frontdesk.html.j2",
        ],
    )
    async def test_other_paths_are_404_problems(self, netsugen_client: httpx.AsyncClient, path: str) -> None:
        r = await netsugen_client.get(path)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"

    async def test_page_embeds_the_catalog_and_config(self, netsugen_client: httpx.AsyncClient) -> None:
        page = parse((await netsugen_client.get("/frontdesk?lang=en")).text)
        assert json.loads(page.scripts["frontdesk-i18n"]) == i18n.catalog()
        config = json.loads(page.scripts["frontdesk-config"])
        assert config == {
            "near_capacity_ratio": 0.9,
            "refresh_seconds": 30,
            "language": "en",
            "card_prefix": "nsc_",
            "idle_minutes": 15,
        }

    async def test_page_needs_no_token_and_is_in_the_openapi(
        self, netsugen_client: httpx.AsyncClient
    ) -> None:
        spec = (await netsugen_client.get("/openapi.json")).json()
        assert "/frontdesk" in spec["paths"]
        assert spec["paths"]["/frontdesk"]["get"]["summary"] == "Front-desk console (HTML)"
        assert not any(p.startswith("/frontdesk/static") for p in spec["paths"])


class TestWords:
    def test_every_message_has_both_languages(self) -> None:
        for table in (i18n.MESSAGES, i18n.ERRORS):
            for key, entry in table.items():
                assert set(entry) == {"ja", "en"}, key
                assert entry["ja"].strip() and entry["en"].strip(), key

    def test_every_key_the_script_uses_exists(self) -> None:
        used = set(re.findall(r'\bt\(\s*"([a-z_.]+)"', JS))
        used |= set(re.findall(r'localKey:\s*"([a-z_.]+)"', JS))
        assert {"checkin.done", "checkout.done", "capacity.near", "error.session_expired"} <= used
        # `t("kind." + m.kind)` and `t("status." + m.status)`: every value of the API's enums.
        assert {k for k in used if k.endswith(".")} == {"kind.", "status."}
        used |= {f"kind.{k}" for k in get_args(MemberKind)} | {f"status.{s}" for s in get_args(MemberStatus)}
        used |= {f"plan.{p}" for p in get_args(PlanCode)}
        assert {k for k in used if not k.endswith(".")} - set(i18n.MESSAGES) == set()

    def test_template_placeholders_match_between_languages(self) -> None:
        for key, entry in i18n.MESSAGES.items():
            assert set(re.findall(r"\{(\w+)\}", entry["ja"])) == set(re.findall(r"\{(\w+)\}", entry["en"])), (
                key
            )

    def test_every_front_desk_problem_has_a_message(self) -> None:
        """Every problem the desk can meet (visits, members, idempotency, billing quote) is mapped."""
        slugs: set[str] = set()
        for module_name in (
            "services.netsugen_booking.visits.exceptions",
            "services.netsugen_booking.members.exceptions",
            "services.netsugen_booking.frontdesk_common.idempotency",
        ):
            module = importlib.import_module(module_name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, ProblemError) and cls.__module__ == module_name:
                    slugs.add(cls.slug)
        assert {
            "space-closed",
            "space-full",
            "visit-already-open",
            "member-suspended",
            "member-left",
        } <= slugs
        slugs |= {"invalid-visit-times", "unknown-plan", "no-tariff"}  # the quote's problems
        slugs |= {"unauthorized", "forbidden", "rate-limited", "validation-error", "service-unavailable"}
        missing = slugs - set(i18n.ERRORS)
        assert missing == set()

    def test_the_key_messages_read_as_the_issue_asks(self) -> None:
        assert i18n.ERRORS["space-closed"]["ja"] == "現在は閉館時間のため、チェックインできません。"
        assert i18n.ERRORS["visit-already-open"]["ja"] == "この会員はすでにチェックイン済みです(在館中)。"
        assert i18n.ERRORS["member-suspended"]["ja"] == "この会員は利用停止中のため、チェックインできません。"


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


class TestContrast:
    VARS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6});", CSS))
    # (text, background) pairs the stylesheet uses for text.
    TEXT_PAIRS = [
        ("text", "bg"),
        ("text", "surface"),
        ("muted", "surface"),
        ("muted", "bg"),
        ("primary", "surface"),
        ("primary-text", "primary"),
        ("primary-text", "primary-hover"),
        ("topbar-text", "topbar"),
        ("ok-text", "ok-bg"),
        ("error-text", "error-bg"),
        ("warn-text", "warn-bg"),
        ("cap-text", "cap-bg"),
        ("error-text", "surface"),
        ("topbar", "topbar-text"),
    ]

    def test_the_palette_is_parsed(self) -> None:
        assert len(self.VARS) >= 20
        assert contrast("#000000", "#ffffff") == pytest.approx(21.0)

    @pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
    def test_text_meets_wcag_aa(self, fg: str, bg: str) -> None:
        ratio = contrast(self.VARS[fg], self.VARS[bg])
        assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}"

    @pytest.mark.parametrize(
        ("fg", "bg"),
        [
            ("bar-fill", "bar-track"),
            ("bar-near", "bar-track"),
            ("bar-full", "bar-track"),
            ("focus", "surface"),
            ("border", "surface"),
        ],
    )
    def test_graphics_meet_3_to_1(self, fg: str, bg: str) -> None:
        assert contrast(self.VARS[fg], self.VARS[bg]) >= 3.0, f"{fg} on {bg}"


def test_assets_live_in_the_console_folder() -> None:
    assert sorted(p.name for p in Path(STATIC_DIR).iterdir()) == ["frontdesk.css", "frontdesk.js"]
