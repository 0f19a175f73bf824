"""Mail templates: Jinja2, one folder per event type, Japanese and English.

``templates/<event_type>/<lang>.subject.j2`` (one line), ``<lang>.txt.j2`` (plain text) and
``<lang>.html.j2`` (HTML, autoescaped); both bodies extend ``templates/_layout/<lang>.*.j2``.
``templates/catalog.yaml`` holds each type's version, recorded on every delivery.

Templates get ids and the recipient's name only: events carry no personal data, and the name
comes from the contact lookup at send time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from shared.events import EVENT_TYPES
from shared.jst import JST

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")
PARTS = ("subject", "txt", "html")

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    template: str
    version: int
    language: Language


def short_ref(value: object) -> str:
    """A short reference (参照番号) for a mail: the first 8 hex digits of an id.

    Events carry ids only, not the owning service's own numbers (member M000123 …)."""
    return str(value).replace("-", "")[:8].upper()


def _format_date(language: Language, value: date | str) -> str:
    d = date.fromisoformat(value) if isinstance(value, str) else value
    if language == "ja":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {d:%B} {d.year}"


def _format_datetime(language: Language, value: datetime) -> str:
    local = value.astimezone(JST)
    if language == "ja":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b} {local.year}, {local:%H:%M} JST"


class TemplateCatalog:
    """Loads and compiles every template once (worker start-up); rendering is then CPU only."""

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        self.root = root
        self.env = Environment(
            loader=FileSystemLoader(str(root)),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        raw = yaml.safe_load((root / "catalog.yaml").read_text(encoding="utf-8")) or {}
        self.versions: dict[str, int] = {str(k): int(v["version"]) for k, v in raw.items()}
        self._compiled: dict[tuple[str, str, str], Template] = {}
        for event_type in self.versions:
            for language in LANGUAGES:
                for part in PARTS:
                    name = f"{event_type}/{language}.{part}.j2"
                    if (root / name).is_file():
                        self._compiled[(event_type, language, part)] = self.env.get_template(name)

    def missing(self) -> list[str]:
        """Every (type, language, part) an event type of ``shared.events`` lacks; empty when complete."""
        gaps = []
        for event_type in EVENT_TYPES:
            if event_type not in self.versions:
                gaps.append(f"{event_type}: no version in catalog.yaml")
            for language in LANGUAGES:
                for part in PARTS:
                    if (event_type, language, part) not in self._compiled:
                        gaps.append(f"{event_type}/{language}.{part}.j2")
        return gaps

    def version(self, event_type: str) -> int:
        return self.versions[event_type]

    def render(
        self,
        event_type: str,
        language: Language,
        *,
        name: str | None,
        data: dict[str, Any],
        event_id: str,
        occurred_at: datetime,
        portal_url: str,
        unsubscribe_url: str | None = None,
        confirmation_token: str | None = None,
        secret: dict[str, str] | None = None,
        facts: dict[str, Any] | None = None,
    ) -> RenderedMail:
        context: dict[str, Any] = {
            "name": name,
            "data": data,
            "event_id": event_id,
            "language": language,
            "occurred_at": _format_datetime(language, occurred_at),
            "portal_url": portal_url.rstrip("/"),
            "unsubscribe_url": unsubscribe_url,
            "confirmation_token": confirmation_token,
            # One-time link/code of sign-in messages, read once from the owner (never stored here).
            "secret": secret or {},
            # Facts of the event's object read from its owner (room, times, price; invoice amounts …).
            "facts": facts or {},
            "yen": lambda n: f"{int(n):,}円" if language == "ja" else f"¥{int(n):,}",
            "ref": short_ref,
            "fmt_date": lambda value: _format_date(language, value),
        }
        # One line, whatever the template: a newline in a Subject header would start a new header.
        subject = _WS.sub(" ", self._compiled[(event_type, language, "subject")].render(context)).strip()
        context["subject"] = subject
        text = self._compiled[(event_type, language, "txt")].render(context).strip() + "\n"
        html = self._compiled[(event_type, language, "html")].render(context).strip() + "\n"
        return RenderedMail(subject, text, html, event_type, self.versions[event_type], language)


@lru_cache(maxsize=1)
def default_catalog() -> TemplateCatalog:
    """The process's catalog of the shipped templates (compiled once)."""
    return TemplateCatalog()
