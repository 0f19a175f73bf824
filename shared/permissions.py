"""The one authorization policy of the platform: role → permissions, checked by ``require(...)``.

Every authenticated route declares the permission it needs::

    principal: Annotated[Principal, require(P.MEMBERS_WRITE)]

``ROLE_PERMISSIONS`` below is the table the README's role table documents and the authorization
matrix (``tests/security/test_authz_matrix.py``) walks. Roles never nest implicitly here: each row
lists what the role may do (``admin`` holds every permission, ``staff`` those of the front desk).

Two kinds of scope sit on top of a permission:

- **member scope** (``member`` tokens act for their own member only) stays where the data is read,
  through ``Principal.can_act_for_member`` (the routes' services check it);
- **narrow-role scope** is checked here: a ``coordinator`` reaches only its own coordinator record,
  windows, slots and consultations (``subject`` = the coordinator id); a ``kpi_editor`` writes
  observations only for indicators whose ``kpi.indicator.owner`` is its department (``subject``).

The dependency also opens the request's audit context (``shared/audit.py``): every write made
through a route that declares a permission is recorded in the same transaction.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit
from shared.auth import ROLES, OptionalPrincipal, Principal, Role, get_principal
from shared.db import DbSession
from shared.errors import Forbidden


class Permission(enum.StrEnum):
    # KPI registry
    KPI_WRITE = "kpi.write"  # indicators, targets, initiatives
    OBSERVATIONS_WRITE = "observations.write"  # record, CSV import (kpi_editor: own department)
    # NETSUGEN: calendar, plans, resources
    CALENDAR_READ = "calendar.read"  # closures and special hours (the public calendar needs nothing)
    CALENDAR_WRITE = "calendar.write"
    PLANS_WRITE = "plans.write"  # plan changes, prices
    RESOURCES_WRITE = "resources.write"
    # members
    MEMBERS_LIST = "members.list"  # the member list and search
    MEMBERS_READ = "members.read"  # plan history, users (member: own)
    MEMBER_NAMES_READ = "members.read_names"  # a member's profile by id (member: own; coordinator: any)
    MEMBERS_CONTACT = "members.contact"  # contact data for mail (service, staff)
    MEMBERS_WRITE = "members.write"  # create, update, status, plan changes, users, card tokens
    MEMBER_USERS_WRITE = "members.users"  # named users of a corporate member (member: its own administrator)
    MEMBERS_EXPORT = "members.export"  # APPI export of everything held (personal data)
    MEMBERS_ANONYMIZE = "members.anonymize"
    # front desk
    VISITS_READ = "visits.read"  # member: own
    VISITS_WRITE = "visits.write"  # check-in, manual entry, corrections
    VISITS_CHECK_OUT = "visits.check_out"  # member: own
    FRONTDESK_READ = "frontdesk.read"  # occupancy, a visit's correction history
    # bookings, events, consultations, feeds
    BOOKINGS_READ = "bookings.read"  # member: own
    BOOKINGS_WRITE = "bookings.write"  # create, cancel (member: own)
    PROGRAMS_WRITE = "programs.write"  # create, close, registration lists, event check-in
    REGISTRANTS_READ = "programs.registrants"  # an event's registration list
    REGISTRATIONS_READ = "registrations.read"  # member: own
    REGISTRATIONS_WRITE = "registrations.write"  # register / cancel with a token (guests need none)
    REGISTRATIONS_CONTACT = "registrations.contact"
    #: A guest's double opt-in link secret (minted anew on each read): only the notifier sends it.
    REGISTRATION_CONFIRMATION = "registrations.confirmation"
    COORDINATORS_WRITE = "coordinators.write"  # create coordinators
    COORDINATOR_SCHEDULE = "coordinators.schedule"  # profile, windows, slots (coordinator: own)
    CONSULTATIONS_READ = "consultations.read"  # member and coordinator: own
    CONSULTATIONS_BOOK = "consultations.book"  # member: own
    CONSULTATIONS_CANCEL = "consultations.cancel"  # member and coordinator: own
    CONSULTATIONS_RECORD = "consultations.record"  # coordinator: own
    FEEDS_MEMBER = "feeds.member"  # a member's calendar feed and its token (member: own)
    KPI_REPORTS_READ = "kpi_reports.read"  # NETSUGEN's reporting of attendance to the KPI registry
    KPI_PROGRESS_REPORT = "kpi.progress_report"  # the annual KPI progress report (XLSX/HTML)
    USAGE_STATS_READ = "usage_stats.read"  # NETSUGEN usage statistics (API, XLSX, staff page)
    # billing
    BILLING_READ = "billing.read"  # invoices, documents (receipts) (member: own)
    BILLING_REPORTS = "billing.reports"  # invoice runs, overdue list
    BILLING_EXPORT = "billing.export"  # the accounting CSV
    INVOICE_RUN = "billing.invoice_run"
    INVOICE_ISSUE = "billing.issue"
    PAYMENTS_WRITE = "billing.payments"
    CREDIT_NOTES_WRITE = "billing.credit_notes"  # refunds and corrections
    # notifier
    NOTIFICATIONS_SUBMIT = "notifications.submit"
    DELIVERIES_READ = "deliveries.read"
    DELIVERIES_RETRY = "deliveries.retry"
    WEBHOOKS_READ = "webhooks.read"
    WEBHOOKS_WRITE = "webhooks.write"
    PREFERENCES_READ = "preferences.read"  # member: own
    PREFERENCES_WRITE = "preferences.write"  # member: own
    EVENT_TYPES_READ = "event_types.read"
    EVENT_TYPES_WRITE = "event_types.write"  # pause, resume
    # staff accounts and their roles (the sign-in work: POST /v1/staff-accounts is admin only)
    SELF = "self"  # one's own sign-in: profile, language, email change, sessions (people, not services)
    AUTH_MESSAGES_READ = "auth.messages"  # the notifier reads a sign-in link once to send it
    ACCOUNTS_READ = "accounts.read"
    ACCOUNTS_WRITE = "accounts.write"
    # the audit trail
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"


P = Permission

_MEMBER: frozenset[Permission] = frozenset(
    {
        P.MEMBERS_READ,
        P.MEMBER_NAMES_READ,
        P.VISITS_READ,
        P.VISITS_CHECK_OUT,
        P.BOOKINGS_READ,
        P.BOOKINGS_WRITE,
        P.REGISTRATIONS_READ,
        P.REGISTRATIONS_WRITE,
        P.CONSULTATIONS_READ,
        P.CONSULTATIONS_BOOK,
        P.CONSULTATIONS_CANCEL,
        P.FEEDS_MEMBER,
        P.BILLING_READ,
        P.PREFERENCES_READ,
        P.PREFERENCES_WRITE,
        P.SELF,
        P.MEMBER_USERS_WRITE,
    }
)
_STAFF: frozenset[Permission] = _MEMBER | {
    P.CALENDAR_READ,
    P.MEMBERS_LIST,
    P.MEMBERS_CONTACT,
    P.MEMBERS_WRITE,
    P.VISITS_WRITE,
    P.FRONTDESK_READ,
    P.PROGRAMS_WRITE,
    P.REGISTRANTS_READ,
    P.REGISTRATIONS_CONTACT,
    P.COORDINATORS_WRITE,
    P.COORDINATOR_SCHEDULE,
    P.CONSULTATIONS_RECORD,
    P.KPI_REPORTS_READ,
    P.USAGE_STATS_READ,
    P.BILLING_REPORTS,
    P.BILLING_EXPORT,
    P.INVOICE_ISSUE,
    P.PAYMENTS_WRITE,
    P.CREDIT_NOTES_WRITE,
    P.DELIVERIES_READ,
    P.EVENT_TYPES_READ,
}
#: Every read, without personal-data exports (the APPI member export, the accounting CSV with names).
_AUDITOR: frozenset[Permission] = frozenset(
    {
        P.CALENDAR_READ,
        P.MEMBERS_LIST,
        P.MEMBERS_READ,
        P.MEMBER_NAMES_READ,
        P.VISITS_READ,
        P.FRONTDESK_READ,
        P.BOOKINGS_READ,
        P.REGISTRANTS_READ,
        P.REGISTRATIONS_READ,
        P.CONSULTATIONS_READ,
        P.KPI_REPORTS_READ,
        P.KPI_PROGRESS_REPORT,
        P.USAGE_STATS_READ,
        P.BILLING_READ,
        P.BILLING_REPORTS,
        P.DELIVERIES_READ,
        P.WEBHOOKS_READ,
        P.PREFERENCES_READ,
        P.EVENT_TYPES_READ,
        P.ACCOUNTS_READ,
        P.AUDIT_READ,
        P.AUDIT_EXPORT,
        P.SELF,
    }
)

#: The policy. The README's role table documents it; tests/security/test_authz_matrix.py checks it.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "staff": _STAFF,
    "member": _MEMBER,
    "service": frozenset(
        {
            P.OBSERVATIONS_WRITE,
            P.MEMBERS_CONTACT,
            P.REGISTRATIONS_CONTACT,
            P.BILLING_READ,
            P.NOTIFICATIONS_SUBMIT,
            P.AUTH_MESSAGES_READ,
            P.REGISTRATION_CONFIRMATION,
        }
    ),
    "coordinator": frozenset(
        {
            P.MEMBER_NAMES_READ,
            P.COORDINATOR_SCHEDULE,
            P.CONSULTATIONS_READ,
            P.CONSULTATIONS_CANCEL,
            P.CONSULTATIONS_RECORD,
            P.SELF,
        }
    ),
    "kpi_editor": frozenset({P.OBSERVATIONS_WRITE, P.SELF}),
    "accountant": frozenset(
        {
            P.BILLING_READ,
            P.BILLING_REPORTS,
            P.BILLING_EXPORT,
            P.INVOICE_RUN,
            P.INVOICE_ISSUE,
            P.PAYMENTS_WRITE,
            P.CREDIT_NOTES_WRITE,
            P.USAGE_STATS_READ,
            P.SELF,
        }
    ),
    "auditor": _AUDITOR,
}
assert set(ROLE_PERMISSIONS) == set(ROLES), "every role needs a row in ROLE_PERMISSIONS"


def allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())  # type: ignore[call-overload]


def roles_with(permission: Permission) -> list[Role]:
    return [role for role in ROLES if permission in ROLE_PERMISSIONS[role]]


def _forbidden(principal: Principal, permission: Permission) -> Forbidden:
    return Forbidden(
        f"The role '{principal.role}' may not do this (needs '{permission.value}': "
        f"{', '.join(roles_with(permission))}).",
        detail_ja=f"ロール「{principal.role}」にはこの操作の権限がありません(必要な権限: {permission.value})。",
    )


def _out_of_scope(what: str) -> Forbidden:
    return Forbidden(
        f"This {what} is outside the token's scope.",
        detail_ja="この対象はトークンの権限範囲外です。",
    )


# ---- narrow-role scope ---------------------------------------------------------------------------
def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def _check_coordinator_scope(
    session: AsyncSession, principal: Principal, params: dict[str, Any]
) -> None:
    """A coordinator reaches its own coordinator record and consultations only."""
    own = _uuid(principal.subject)
    if own is None:
        raise _out_of_scope("coordinator")
    if "coordinator_id" in params and _uuid(params["coordinator_id"]) != own:
        raise _out_of_scope("coordinator")
    if "consultation_id" in params:
        consultation = _uuid(params["consultation_id"])
        mine = consultation is not None and await session.scalar(
            text(
                "SELECT s.coordinator_id = :own FROM netsugen.consultation c "
                "JOIN netsugen.consultation_slot s ON s.id = c.slot_id WHERE c.id = :id"
            ),
            {"own": own, "id": consultation},
        )
        if not mine:
            raise _out_of_scope("consultation")


def coordinator_scope(principal: Principal, coordinator_id: uuid.UUID | None) -> uuid.UUID | None:
    """A list filter narrowed to the caller's own coordinator id when the caller is a coordinator
    (asking for another coordinator's is 403); others keep the filter they asked for."""
    if principal.role != "coordinator":
        return coordinator_id
    own = _uuid(principal.subject)
    if own is None or (coordinator_id is not None and coordinator_id != own):
        raise _out_of_scope("coordinator")
    return own


async def authorize_indicators(
    session: AsyncSession, principal: Principal, indicator_ids: Iterable[str]
) -> None:
    """A ``kpi_editor`` writes observations only for the indicators its department owns
    (``kpi.indicator.owner`` = the principal's ``subject``). Other roles pass (their permission was
    checked by ``require``). Called by the observation writes (single and CSV import)."""
    if principal.role != "kpi_editor":
        return
    wanted = sorted(set(indicator_ids))
    if not wanted:
        return
    rows = await session.execute(
        text(
            "SELECT id FROM kpi.indicator WHERE id = ANY(:ids) AND owner IS NOT NULL AND owner = :department"
        ),
        {"ids": wanted, "department": principal.subject or ""},
    )
    owned = {row.id for row in rows}
    foreign = [i for i in wanted if i not in owned]
    if foreign:
        raise Forbidden(
            f"The department '{principal.subject}' does not own the indicator(s) {', '.join(foreign[:10])}.",
            detail_ja=f"所管外の指標です: {', '.join(foreign[:10])}",
        )


async def _check_scope(
    session: AsyncSession, principal: Principal, permission: Permission, params: dict[str, Any]
) -> None:
    if principal.role == "coordinator":
        await _check_coordinator_scope(session, principal, params)
    elif principal.role == "kpi_editor" and "indicator_id" in params:
        await authorize_indicators(session, principal, [str(params["indicator_id"])])


# ---- the dependencies ----------------------------------------------------------------------------
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def require(permission: Permission) -> Any:
    """``Depends`` for a route: the caller's role must hold ``permission`` (401 without a token, 403
    otherwise), narrow roles must stay in their scope, and the request's writes are audited."""

    async def dependency(
        request: Request, session: DbSession, principal: Annotated[Principal, Depends(get_principal)]
    ) -> AsyncIterator[Principal]:
        if not allows(principal.role, permission):
            raise _forbidden(principal, permission)
        await _check_scope(session, principal, permission, dict(request.path_params))
        audited = _open_audit(request, session, principal)
        yield principal
        if audited:  # the endpoint returned normally: its entries join the transaction before commit
            await audit.finish(session, request)

    dependency.__name__ = f"require_{permission.name.lower()}"
    dependency.__permission__ = permission.value  # type: ignore[attr-defined]  # read by shared/app.py
    dependency.__roles__ = roles_with(permission)  # type: ignore[attr-defined]
    return Depends(dependency, scope="function")


def require_optional(permission: Permission) -> Any:
    """``Depends`` for a public route that a token may also use (guest registration): anonymous
    callers pass with ``None``; a token must hold ``permission``."""

    async def dependency(
        request: Request, session: DbSession, principal: OptionalPrincipal
    ) -> AsyncIterator[Principal | None]:
        if principal is None:
            yield None
            return
        if not allows(principal.role, permission):
            raise _forbidden(principal, permission)
        audited = _open_audit(request, session, principal)
        yield principal
        if audited:
            await audit.finish(session, request)

    dependency.__name__ = f"optional_{permission.name.lower()}"
    dependency.__permission__ = permission.value  # type: ignore[attr-defined]
    dependency.__roles__ = roles_with(permission)  # type: ignore[attr-defined]
    return Depends(dependency, scope="function")


def _open_audit(request: Request, session: AsyncSession, principal: Principal) -> bool:
    """Open the request's audit context for a write (its ORM changes are collected from here on)."""
    if request.method not in _WRITES:
        return False
    audit.begin(session, audit.context_of(request, principal))
    return True
