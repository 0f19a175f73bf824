"""Notification preferences: PATCH changes only what it names; every category has an event type."""

from __future__ import annotations

import asyncio
import uuid
from typing import get_args

from services.notifier.preferences.models import OPTIONAL_CATEGORIES
from shared.events import EVENT_TYPES, Category
from tests.conftest import bearer


async def test_patch_changes_one_category_and_leaves_the_others(notifier_client, make_token) -> None:
    member_id = uuid.uuid4()
    member = bearer(await make_token("member", subject=str(member_id)))
    url = f"/v1/preferences/{member_id}"
    r = await notifier_client.patch(url, headers=member, json={"activity": False})
    assert r.status_code == 200, r.text
    assert r.json()["categories"] == {"transactional": True, "activity": False, "reminders": True}
    # Changing reminders leaves activity off (a PUT of one field used to switch it back on).
    r = await notifier_client.patch(url, headers=member, json={"reminders": False})
    assert r.json()["opted_out"] == ["activity", "reminders"]
    r = await notifier_client.patch(url, headers=member, json={"activity": True})
    assert r.json()["opted_out"] == ["reminders"] and r.json()["updated_at"] is not None
    # An empty PATCH changes nothing; transactional cannot be turned off; unknown categories are refused.
    assert (await notifier_client.patch(url, headers=member, json={})).json()["opted_out"] == ["reminders"]
    r = await notifier_client.patch(url, headers=member, json={"transactional": False})
    assert r.status_code == 422 and r.json()["type"].endswith("transactional-required")
    r = await notifier_client.patch(url, headers=member, json={"news": False})
    assert r.status_code == 422
    assert (await notifier_client.get(url, headers=member)).json()["opted_out"] == ["reminders"]
    # Another member's preferences: 403.
    other = f"/v1/preferences/{uuid.uuid4()}"
    assert (await notifier_client.patch(other, headers=member, json={"activity": False})).status_code == 403


async def test_concurrent_patches_both_count(notifier_client, make_token) -> None:
    member_id = uuid.uuid4()
    member = bearer(await make_token("member", subject=str(member_id)))
    url = f"/v1/preferences/{member_id}"
    a, b = await asyncio.gather(
        notifier_client.patch(url, headers=member, json={"activity": False}),
        notifier_client.patch(url, headers=member, json={"reminders": False}),
    )
    assert a.status_code == b.status_code == 200
    assert (await notifier_client.get(url, headers=member)).json()["opted_out"] == ["activity", "reminders"]


def test_every_category_a_member_can_choose_has_an_event_type() -> None:
    used = {cls.category for cls in EVENT_TYPES.values()}
    assert set(OPTIONAL_CATEGORIES) <= used
    assert set(get_args(Category)) == used
