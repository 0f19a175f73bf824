"""Member problems. The slugs are shown to the front desk: keep them stable."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound, ProblemError, Unprocessable


class MemberNotFound(NotFound):
    slug, title = "member-not-found", "Unknown member"


class UnknownCard(NotFound):
    slug, title = "unknown-card", "Card not recognised"


class MemberUserNotFound(NotFound):
    slug, title = "member-user-not-found", "Unknown user of this member"


class MemberSuspended(Forbidden):
    slug, title = "member-suspended", "The membership is suspended"


class MemberLeft(Forbidden):
    slug, title = "member-left", "The member has left"


class MemberUserInactive(Forbidden):
    slug, title = "member-user-inactive", "This user of the corporate member is deactivated"


class MemberGone(ProblemError):
    status, slug, title = 410, "member-gone", "The member has left"


class MemberUserRequired(Unprocessable):
    slug, title = "member-user-required", "Say which user of the corporate member"


class NotCorporate(Unprocessable):
    slug, title = "not-corporate", "Only corporate members have named users"


class PlanNotAllowed(Unprocessable):
    slug, title = "plan-not-allowed", "This plan is not available to this kind of member"


class PlanChangeInPast(Unprocessable):
    slug, title = "plan-change-in-past", "A plan change cannot take effect in the past"


class PlanUnchanged(Conflict):
    slug, title = "plan-unchanged", "The member already has this plan on that date"


class UserLimitReached(Conflict):
    slug, title = "user-limit-reached", "The plan covers no more users"


class MemberHasOpenVisit(Conflict):
    slug, title = "member-has-open-visit", "The member is checked in"


class MemberNotSuspended(Conflict):
    slug, title = "member-not-suspended", "The member is not suspended"
