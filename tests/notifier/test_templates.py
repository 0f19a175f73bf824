"""Every event type has a Japanese and an English template (subject, text, HTML) with a version."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from services.notifier.dispatch.render import (
    TEMPLATES_DIR,
    Language,
    TemplateCatalog,
    default_catalog,
    short_ref,
)
from shared.events import EVENT_TYPES

SAMPLES: dict[str, Any] = {
    "member_id": uuid.UUID("0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b"),
    "visit_id": uuid.uuid4(),
    "day": date(2026, 11, 29),
    "invoice_id": uuid.uuid4(),
    "payment_id": uuid.uuid4(),
    "stage_days": 7,
    "balance_yen": 1750,
    "booking_id": uuid.uuid4(),
    "registration_id": uuid.uuid4(),
    "event_id": uuid.uuid4(),
    "consultation_id": uuid.uuid4(),
    "subject_kind": "consultation",
    "subject_id": uuid.uuid4(),
    "indicator_id": "econ-wage-per-capita",
    "observation_id": uuid.uuid4(),
    "fiscal_year": 2025,
    "breakdown": "男性",
    "previous_status": "limited_progress",
    "status": "target_achieved",
    "message_id": uuid.uuid4(),  # sign-in messages (netsugen_booking/accounts)
}
OCCURRED = datetime(2026, 11, 29, 1, 30, tzinfo=UTC)  # 10:30 JST


def sample_data(event_type: str) -> dict[str, Any]:
    cls = EVENT_TYPES[event_type]
    fields = {k: SAMPLES[k] for k in cls.model_fields if k in SAMPLES}
    dumped: dict[str, Any] = cls(**fields).model_dump(mode="json")
    return dumped


def test_no_template_is_missing() -> None:
    assert default_catalog().missing() == []


def test_a_missing_template_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, root)
    (root / "invoice.issued" / "en.html.j2").unlink()
    (root / "catalog.yaml").write_text(
        (root / "catalog.yaml")
        .read_text(encoding="utf-8")
        .replace('"kpi.status_changed":\n  version: 1\n', ""),
        encoding="utf-8",
    )
    assert TemplateCatalog(root).missing() == [
        "invoice.issued/en.html.j2",
        "kpi.status_changed: no version in catalog.yaml",
        "kpi.status_changed/ja.subject.j2",
        "kpi.status_changed/ja.txt.j2",
        "kpi.status_changed/ja.html.j2",
        "kpi.status_changed/en.subject.j2",
        "kpi.status_changed/en.txt.j2",
        "kpi.status_changed/en.html.j2",
    ]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_template_renders(event_type: str, language: Language) -> None:
    mail = default_catalog().render(
        event_type,
        language,
        name="上州 太郎" if language == "ja" else "Taro Joshu",
        data=sample_data(event_type),
        event_id=str(uuid.uuid4()),
        occurred_at=OCCURRED,
        portal_url="https://netsugen.example.jp/",
    )
    assert mail.version >= 1 and mail.template == event_type
    assert mail.subject and "\n" not in mail.subject and len(mail.subject) < 120
    assert mail.html.startswith("<!DOCTYPE html>") and f'<html lang="{language}">' in mail.html
    assert "https://netsugen.example.jp" in mail.text and "//netsugen" in mail.html
    assert "{{" not in mail.text and "{%" not in mail.html
    if language == "ja":
        assert mail.text.startswith("上州 太郎 様\n\n")
        assert "送信専用アドレス" in mail.text
    else:
        assert mail.text.startswith("Dear Taro Joshu,\n\n")
        assert "send-only address" in mail.text


def test_japanese_content_reads_naturally() -> None:
    catalog = default_catalog()

    def render(event_type: str, language: Language = "ja", name: str | None = "上州 太郎") -> Any:
        return catalog.render(
            event_type,
            language,
            name=name,
            data=sample_data(event_type),
            event_id="e",
            occurred_at=OCCURRED,
            portal_url="https://netsugen.example.jp",
        )

    assert render("member.registered").subject == "NETSUGENへようこそ"
    assert render("invoice.issued").subject == "【NETSUGEN】請求書発行のお知らせ"
    assert render("booking.reminder").subject == "【NETSUGEN】明日のご相談のお知らせ"
    assert "明日はコーディネーターへのご相談の日です。" in render("booking.reminder").text
    assert "10:30" in render("visit.checked_in").text and "2026年11月29日" in render("visit.checked_in").text
    assert "2026年11月29日のドロップイン利用料金" in render("visit.daily_cap_reached").text
    assert "29 November 2026" in render("visit.daily_cap_reached", "en").text
    assert "変更後: 目標達成" in render("kpi.status_changed").text
    booking_id = sample_data("booking.confirmed")["booking_id"]
    assert f"参照番号: {short_ref(booking_id)}" in render("booking.confirmed").text
    assert short_ref(SAMPLES["member_id"]) == "0B7E4C1A"
    # Without a name (a guest without one): a general greeting.
    assert render("event.waitlisted", name=None).text.startswith("NETSUGENをご利用の皆さま\n")


def test_html_is_escaped_text_is_not() -> None:
    mail = default_catalog().render(
        "member.registered",
        "en",
        name='<script>alert("x")</script> & Co',
        data=sample_data("member.registered"),
        event_id="e",
        occurred_at=OCCURRED,
        portal_url="https://netsugen.example.jp",
    )
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert mail.text.startswith('Dear <script>alert("x")</script> & Co,')


def test_japanese_and_english_share_the_type_version() -> None:
    catalog = default_catalog()
    assert set(catalog.versions) == set(EVENT_TYPES)
    assert all(isinstance(v, int) and v >= 1 for v in catalog.versions.values())
