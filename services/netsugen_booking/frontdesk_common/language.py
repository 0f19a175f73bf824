"""The language of an answer: Japanese by default, English when Accept-Language prefers it."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from shared.errors import prefers_japanese

Language = Literal["ja", "en"]


def request_language(request: Request) -> Language:
    return "ja" if prefers_japanese(request) else "en"
