"""Privacy problems."""

from __future__ import annotations

from shared.errors import Conflict


class MemberNotLeft(Conflict):
    slug, title = "member-not-left", "Only a member who has left can be anonymized"
