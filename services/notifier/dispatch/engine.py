"""The delivery engine: record an event, plan its deliveries, attempt them, record every attempt.

Round trips on the hot path (an event with one email and no webhook): one statement records the
event in the inbox, plans its deliveries and claims those that may go now; after the attempt, one
statement records it and the delivery's new status. Both run in autocommit: each is atomic alone.

Crash safety (arq runs a job again when its worker died, and says "jobs may be called more than
once"):
- the inbox row and the deliveries are inserted by the same statement, so an event is either
  unknown or fully planned; a repeated event inserts nothing (unique ``(source, event_id)``);
- a delivery is *claimed* (``status = 'sending'``, ``attempts + 1``) by one atomic UPDATE before
  anything is sent, so two workers never attempt it at once;
- recording the result is fenced on ``(status = 'sending', attempts = n)``: a worker that lost its
  claim cannot overwrite a newer attempt;
- a claim older than ``sending_lease_s`` means its worker died: the reconciler records the attempt
  as ``interrupted`` and queues the next one. Delivery is therefore at least once; a message sent
  twice carries the same ``Message-ID`` / ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import orjson
import structlog
from arq.connections import ArqRedis
from prometheus_client import Counter, Histogram
from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.deliveries.models import FINAL_STATUSES
from services.notifier.dispatch import schedule
from services.notifier.dispatch.contacts import ContactError, ContactResolver, read_facts
from services.notifier.dispatch.mailer import InvalidAddress, SendError, SmtpPool, build_outgoing
from services.notifier.dispatch.render import TemplateCatalog
from services.notifier.preferences.models import OPTIONAL_CATEGORIES
from services.notifier.settings import NotifierSettings
from services.notifier.webhooks.destinations import DestinationRefused, ResolutionFailed
from services.notifier.webhooks.secretbox import UndecryptableSecret
from services.notifier.webhooks.signing import webhook_headers
from shared.events import EVENT_TYPES, Event, EventData
from shared.jst import utcnow
from shared.outbox import NOTIFIER_QUEUE

log = structlog.get_logger("notifier.dispatch")

DELIVER_JOB = "deliver"
RESUME_JOB = "resume_event_type"
#: Tolerance between the clocks of Redis-side scheduling and PostgreSQL's ``now()``.
CLOCK_SKEW_S = 1.0
UNFINISHED = ("queued", "sending", "failed_temporary")

EVENTS = Counter("notifier_events_total", "Events received by the notifier", ["result"])
DELIVERY_ATTEMPTS = Counter(
    "notifier_delivery_attempts_total", "Delivery attempts by channel and result", ["channel", "result"]
)
DELIVERY_FINAL = Counter(
    "notifier_deliveries_final_total", "Deliveries reaching a final status", ["channel", "status"]
)
ATTEMPT_SECONDS = Histogram(
    "notifier_delivery_attempt_seconds",
    "Duration of one delivery attempt",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
RECONCILE_REQUEUED = Counter("notifier_reconcile_requeued_total", "Deliveries re-queued by the reconciler")
RECONCILE_INTERRUPTED = Counter(
    "notifier_reconcile_interrupted_total", "Deliveries found sending past their lease (worker lost)"
)

_CLAIMED_COLUMNS = """
    c.id, c.channel, c.recipient, c.endpoint_id, c.event_id, c.event_type, c.category, c.attempts,
    c.retry_from, c.claimed_at, i.source, i.occurred_at, i.schema_version, i.data, i.request_id,
    e.url AS endpoint_url, e.secret, e.previous_secret, e.previous_secret_expires_at,
    e.enabled AS endpoint_enabled
"""

#: Record the event, plan its deliveries and claim those that may go at once: one statement.
PLAN_SQL = text(
    """
WITH new_event AS (
    INSERT INTO notifier.inbox (source, event_id, event_type, schema_version, occurred_at, data, request_id)
    VALUES (CAST(:source AS varchar), CAST(:event_id AS uuid), CAST(:event_type AS varchar),
            CAST(:schema_version AS integer), CAST(:occurred_at AS timestamptz), CAST(:data AS jsonb),
            CAST(:request_id AS varchar))
    ON CONFLICT (source, event_id) DO NOTHING
    RETURNING id
),
flags AS (
    SELECT
        EXISTS (SELECT 1 FROM notifier.event_type_pause WHERE event_type = CAST(:event_type AS varchar)) AS paused,
        CAST(:opt_outable AS boolean) AND EXISTS (
            SELECT 1 FROM notifier.preference p
            WHERE p.member_id = CAST(:member_id AS uuid) AND CAST(:category AS varchar) = ANY (p.opted_out)
        ) AS opted_out
),
targets AS (
    SELECT 'email' AS channel, CAST(:email_recipient AS varchar) AS recipient, CAST(NULL AS uuid) AS endpoint_id,
           COALESCE(CAST(:email_not_before AS timestamptz), now()) AS not_before,
           CAST(:event_type AS varchar) AS template, CAST(:template_version AS integer) AS template_version
    WHERE CAST(:email_recipient AS varchar) IS NOT NULL
    UNION ALL
    SELECT 'webhook', 'endpoint:' || e.id::text, e.id, now(), NULL, NULL
    FROM notifier.webhook_endpoint e
    WHERE e.enabled AND (cardinality(e.event_types) = 0 OR CAST(:event_type AS varchar) = ANY (e.event_types))
),
planned AS (
    INSERT INTO notifier.delivery (
        inbox_id, event_id, event_type, category, channel, recipient, endpoint_id, template,
        template_version, status, attempts, next_attempt_at, claimed_at, reason
    )
    SELECT ne.id, CAST(:event_id AS uuid), CAST(:event_type AS varchar), CAST(:category AS varchar), t.channel, t.recipient, t.endpoint_id, t.template,
           t.template_version, s.status, CASE WHEN s.status = 'sending' THEN 1 ELSE 0 END, t.not_before,
           CASE WHEN s.status = 'sending' THEN now() END,
           CASE WHEN s.status = 'suppressed' THEN 'the member opted out of ' || CAST(:category AS varchar) END
    FROM new_event ne CROSS JOIN flags f CROSS JOIN targets t
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN t.channel = 'email' AND f.opted_out THEN 'suppressed'
            WHEN f.paused OR t.not_before > now() THEN 'queued'
            ELSE 'sending'
        END AS status
    ) s
    ON CONFLICT (inbox_id, channel, recipient) DO NOTHING
    RETURNING id, channel, recipient, endpoint_id, status, attempts, retry_from, claimed_at, next_attempt_at
)
SELECT (SELECT id FROM new_event) AS inbox_id, p.id, p.channel, p.recipient, p.endpoint_id, p.status,
       p.attempts, p.retry_from, p.claimed_at, p.next_attempt_at,
       e.url AS endpoint_url, e.secret, e.previous_secret, e.previous_secret_expires_at,
       e.enabled AS endpoint_enabled
FROM (SELECT 1) AS one
LEFT JOIN planned p ON true
LEFT JOIN notifier.webhook_endpoint e ON e.id = p.endpoint_id
"""
)

_CLAIMABLE = """
    d.status IN ('queued', 'failed_temporary')
    AND d.next_attempt_at <= now() + make_interval(secs => :skew)
    AND NOT EXISTS (SELECT 1 FROM notifier.event_type_pause p WHERE p.event_type = d.event_type)
"""

#: Claim the deliveries of one event that may go now (a repeated event, or a re-run job).
CLAIM_EVENT_SQL = text(
    f"""
WITH c AS (
    UPDATE notifier.delivery d
    SET status = 'sending', attempts = d.attempts + 1, claimed_at = now(), updated_at = now()
    FROM notifier.inbox i0
    WHERE i0.source = :source AND i0.event_id = :event_id AND d.inbox_id = i0.id AND {_CLAIMABLE}
    RETURNING d.*
)
SELECT {_CLAIMED_COLUMNS}
FROM c JOIN notifier.inbox i ON i.id = c.inbox_id
LEFT JOIN notifier.webhook_endpoint e ON e.id = c.endpoint_id
"""
)

#: Claim one delivery (retry, reconciliation, resume, manual retry).
CLAIM_ONE_SQL = text(
    f"""
WITH c AS (
    UPDATE notifier.delivery d
    SET status = 'sending', attempts = d.attempts + 1, claimed_at = now(), updated_at = now()
    WHERE d.id = :id AND {_CLAIMABLE}
    RETURNING d.*
)
SELECT {_CLAIMED_COLUMNS}
FROM c JOIN notifier.inbox i ON i.id = c.inbox_id
LEFT JOIN notifier.webhook_endpoint e ON e.id = c.endpoint_id
"""
)

#: Record an attempt and the delivery's new status, fenced on the claim.
FINISH_SQL = text(
    """
WITH d AS (
    UPDATE notifier.delivery SET
        status = CAST(:status AS varchar),
        language = COALESCE(:language, language),
        delivered_at = CASE WHEN CAST(:status AS varchar) = 'delivered' THEN now() ELSE delivered_at END,
        next_attempt_at = COALESCE(CAST(:next_attempt_at AS timestamptz), next_attempt_at),
        claimed_at = NULL,
        reason = CAST(:reason AS text),
        last_error = CAST(:error AS text),
        updated_at = now()
    WHERE id = CAST(:id AS uuid) AND status = 'sending' AND attempts = CAST(:number AS integer)
    RETURNING id
),
disabled AS (
    UPDATE notifier.webhook_endpoint
    SET enabled = false, disabled_at = now(), disabled_reason = CAST(:disable_reason AS text), updated_at = now()
    WHERE id = CAST(:disable_endpoint AS uuid) AND enabled
    RETURNING id
)
INSERT INTO notifier.delivery_attempt (delivery_id, number, started_at, result, status_code, error, duration_ms)
SELECT id, CAST(:number AS integer), CAST(:started_at AS timestamptz), CAST(:result AS varchar),
       CAST(:status_code AS integer), CAST(:error AS text), CAST(:duration_ms AS integer) FROM d
ON CONFLICT (delivery_id, number) DO NOTHING
RETURNING delivery_id
"""
)

#: Deliveries sending past their lease: their worker died. Record the attempt as interrupted.
INTERRUPTED_SQL = text(
    """
WITH stale AS (
    SELECT id, claimed_at FROM notifier.delivery
    WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => :lease)
    ORDER BY claimed_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
),
upd AS (
    UPDATE notifier.delivery d SET
        status = CASE WHEN d.attempts - d.retry_from >= :max_attempts THEN 'dead' ELSE 'failed_temporary' END,
        reason = CASE WHEN d.attempts - d.retry_from >= :max_attempts
                      THEN 'gave up after ' || (d.attempts - d.retry_from) || ' attempts: ' || CAST(:error AS text)
                      ELSE d.reason END,
        last_error = CAST(:error AS text), next_attempt_at = now(), claimed_at = NULL, updated_at = now()
    FROM stale s
    WHERE d.id = s.id
    RETURNING d.id, d.attempts, d.status, d.event_type, s.claimed_at
),
att AS (
    INSERT INTO notifier.delivery_attempt (delivery_id, number, started_at, result, error)
    SELECT id, attempts, claimed_at, 'interrupted', CAST(:error AS text) FROM upd
    ON CONFLICT (delivery_id, number) DO NOTHING
)
SELECT id, attempts, status, event_type FROM upd
"""
)

OVERDUE_SQL = text(
    """
SELECT d.id, d.attempts FROM notifier.delivery d
WHERE d.status IN ('queued', 'failed_temporary')
  AND d.next_attempt_at < now() - make_interval(secs => :grace)
  AND NOT EXISTS (SELECT 1 FROM notifier.event_type_pause p WHERE p.event_type = d.event_type)
ORDER BY d.next_attempt_at
LIMIT :batch
"""
)

DUE_OF_TYPE_SQL = text(
    """
SELECT d.id, d.attempts FROM notifier.delivery d
WHERE d.event_type = :event_type AND d.status IN ('queued', 'failed_temporary')
  AND d.next_attempt_at <= now() + make_interval(secs => :skew)
ORDER BY d.next_attempt_at
"""
)

FIGURES_SQL = text(
    """
SELECT count(*) AS deliveries, count(DISTINCT inbox_id) AS events,
       COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS oldest_s
FROM notifier.delivery WHERE status IN ('queued', 'sending', 'failed_temporary')
"""
)

RECORD_RUN_SQL = text(
    """
WITH pruned AS (DELETE FROM notifier.reconcile_run WHERE started_at < now() - interval '7 days')
INSERT INTO notifier.reconcile_run (started_at, interrupted, requeued, already_queued, dead,
                                    unfinished_deliveries, unfinished_events, oldest_unfinished_s)
VALUES (:started_at, :interrupted, :requeued, :already_queued, :dead, :deliveries, :events, :oldest_s)
"""
)

Result = Literal["delivered", "failed_temporary", "failed_permanent"]


@dataclass(frozen=True)
class Claimed:
    """One delivery claimed for attempt number ``number``."""

    id: uuid.UUID
    channel: str
    recipient: str
    endpoint_id: uuid.UUID | None
    event_id: uuid.UUID
    event_type: str
    category: str
    source: str
    occurred_at: datetime
    schema_version: int
    data: dict[str, Any]
    request_id: str | None
    number: int
    retry_from: int
    claimed_at: datetime
    urgent: bool
    endpoint_url: str | None = None
    secret: str | None = None
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    endpoint_enabled: bool | None = None


@dataclass(frozen=True)
class Outcome:
    result: Result
    error: str | None = None
    status_code: int | None = None
    language: str | None = None
    retry_after_s: float | None = None
    disable_endpoint: bool = False


@dataclass(frozen=True)
class Accepted:
    duplicate: bool
    planned: int
    claimed: list[Claimed]


@dataclass(frozen=True)
class ReconcileFigures:
    interrupted: int
    requeued: int
    already_queued: int
    dead: int
    unfinished_deliveries: int
    unfinished_events: int
    oldest_unfinished_s: float


def recipient_ref(data: EventData) -> tuple[str, uuid.UUID] | None:
    """Whom to email for an event: ``("member", id)``, ``("event_registration", id)`` or nobody."""
    if data.recipient_kind == "none":
        return None
    if data.recipient_kind == "event_registration_confirmation":
        registration = getattr(data, "registration_id", None)
        return (data.recipient_kind, registration) if registration is not None else None
    if data.recipient_kind == "auth_message":  # sign-in links and codes (netsugen_booking/accounts)
        message_id = getattr(data, "message_id", None)
        return ("auth_message", message_id) if message_id is not None else None
    member_id = getattr(data, "member_id", None)
    registration_id = getattr(data, "registration_id", None)
    if data.recipient_kind == "event_registration" or (member_id is None and registration_id is not None):
        return ("event_registration", registration_id) if registration_id is not None else None
    return ("member", member_id) if member_id is not None else None


def _urgent_of(event_type: str) -> bool:
    cls = EVENT_TYPES.get(event_type)
    return True if cls is None else cls.urgent


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def error_class(exc: BaseException) -> str:
    """The generic class of a failed webhook request (what staff see in the ledger)."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, ResolutionFailed):
        return "dns_error"
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "tls_error"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection_refused"
    if any(isinstance(e, socket.gaierror | ResolutionFailed) for e in chain):
        return "dns_error"
    if isinstance(exc, httpx.ConnectError):
        # anyio gathers the errno in the message only: the text decides, the text is not stored.
        text_ = str(exc).lower()
        if "certificate" in text_ or "ssl" in text_ or "tls" in text_:
            return "tls_error"
        if "refused" in text_:
            return "connection_refused"
        return "connection_error"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return "protocol_error"
    return "connection_error"


def webhook_body(c: Claimed) -> bytes:
    """The POSTed JSON (Standard Webhooks shape: ``type``, ``timestamp``, ``data``), keys sorted so
    every attempt sends the same bytes."""
    payload = {
        "id": str(c.event_id),
        "type": c.event_type,
        "source": c.source,
        "schema_version": c.schema_version,
        "timestamp": c.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": c.data,
    }
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)


class Dispatcher:
    """Everything a delivery needs, created once per worker process (arq ``on_startup``)."""

    def __init__(
        self,
        *,
        settings: NotifierSettings,
        engine: AsyncEngine,
        redis: ArqRedis,
        catalog: TemplateCatalog,
        contacts: ContactResolver,
        smtp: SmtpPool,
        webhooks: httpx.AsyncClient,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        # Every statement here is atomic alone: autocommit saves the BEGIN/COMMIT round trips.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.redis = redis
        self.catalog = catalog
        self.contacts = contacts
        self.smtp = smtp
        self.webhooks = webhooks
        self.rng = rng or random.Random()

    # ---- receiving ---------------------------------------------------------------------------
    async def accept(self, event: Event, data: EventData) -> Accepted:
        """Record the event (once), plan its deliveries and claim those due now."""
        s = self.settings
        now = utcnow()
        target = recipient_ref(data)
        cls = type(data)
        email_not_before = schedule.not_before(
            now,
            urgent=cls.urgent,
            channel="email",
            quiet=s.quiet_hours_enabled,
            start=s.quiet_hours_start,
            end=s.quiet_hours_end,
        )
        request_id = _request_id()
        params: dict[str, Any] = {
            "source": event.source,
            "event_id": event.id,
            "event_type": event.type,
            "schema_version": event.schema_version,
            "occurred_at": event.occurred_at,
            "data": orjson.dumps(event.data).decode(),
            "request_id": request_id,
            "category": cls.category,
            "opt_outable": cls.category in OPTIONAL_CATEGORIES,
            "member_id": target[1] if target and target[0] == "member" else None,
            "email_recipient": f"{target[0]}:{target[1]}" if target else None,
            # NULL: now, by the database's clock (no skew between hosts can make it "later").
            "email_not_before": email_not_before if email_not_before > now else None,
            "template_version": self.catalog.versions.get(event.type),
        }
        async with self.engine.connect() as conn:
            rows = (await conn.execute(PLAN_SQL, params)).all()
        if rows[0].inbox_id is None:
            EVENTS.labels("duplicate").inc()
            again = await self._claim(CLAIM_EVENT_SQL, {"source": event.source, "event_id": event.id})
            return Accepted(duplicate=True, planned=0, claimed=again)
        EVENTS.labels("accepted").inc()
        planned = [r for r in rows if r.id is not None]
        claimed: list[Claimed] = []
        for r in planned:
            if r.status == "sending":
                claimed.append(
                    Claimed(
                        id=r.id,
                        channel=r.channel,
                        recipient=r.recipient,
                        endpoint_id=r.endpoint_id,
                        event_id=event.id,
                        event_type=event.type,
                        category=cls.category,
                        source=event.source,
                        occurred_at=event.occurred_at,
                        schema_version=event.schema_version,
                        data=event.data,
                        request_id=request_id,
                        number=r.attempts,
                        retry_from=r.retry_from,
                        claimed_at=r.claimed_at,
                        urgent=cls.urgent,
                        endpoint_url=r.endpoint_url,
                        secret=r.secret,
                        previous_secret=r.previous_secret,
                        previous_secret_expires_at=r.previous_secret_expires_at,
                        endpoint_enabled=r.endpoint_enabled,
                    )
                )
            elif r.status == "queued":
                if email_not_before > now and r.channel == "email":
                    # Deferred by quiet hours: its attempt waits in the queue until then.
                    await self._enqueue(r.id, r.attempts + 1, r.next_attempt_at)
                # Otherwise its type is paused: resuming queues it.
            else:
                DELIVERY_FINAL.labels(r.channel, r.status).inc()
        return Accepted(duplicate=False, planned=len(planned), claimed=claimed)

    async def _claim(self, statement: Any, params: dict[str, Any]) -> list[Claimed]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement, {**params, "skew": CLOCK_SKEW_S})).all()
        return [self._claimed_from_row(r) for r in rows]

    @staticmethod
    def _claimed_from_row(r: Row[Any]) -> Claimed:
        return Claimed(
            id=r.id,
            channel=r.channel,
            recipient=r.recipient,
            endpoint_id=r.endpoint_id,
            event_id=r.event_id,
            event_type=r.event_type,
            category=r.category,
            source=r.source,
            occurred_at=r.occurred_at,
            schema_version=r.schema_version,
            data=_json(r.data),
            request_id=r.request_id,
            number=r.attempts,
            retry_from=r.retry_from,
            claimed_at=r.claimed_at,
            urgent=_urgent_of(r.event_type),
            endpoint_url=r.endpoint_url,
            secret=r.secret,
            previous_secret=r.previous_secret,
            previous_secret_expires_at=r.previous_secret_expires_at,
            endpoint_enabled=r.endpoint_enabled,
        )

    async def claim_one(self, delivery_id: uuid.UUID) -> Claimed | None:
        claimed = await self._claim(CLAIM_ONE_SQL, {"id": delivery_id})
        return claimed[0] if claimed else None

    # ---- attempting --------------------------------------------------------------------------
    async def run(self, claimed: list[Claimed]) -> list[str]:
        """Attempt every claimed delivery (concurrently) and record each; returns their new statuses."""
        if not claimed:
            return []
        if len(claimed) == 1:
            return [await self.attempt_and_record(claimed[0])]
        return list(await asyncio.gather(*(self.attempt_and_record(c) for c in claimed)))

    async def attempt_and_record(self, c: Claimed) -> str:
        started = time.perf_counter()
        try:
            outcome = await self._attempt(c)
        except asyncio.CancelledError:
            # Worker shutting down (or job timeout): give the claim back at once instead of
            # waiting for the lease to expire.
            await asyncio.shield(self._record(c, Outcome("failed_temporary", error="interrupted"), 0, True))
            raise
        except Exception as exc:  # a bug must not leave the delivery claimed: retry it later
            log.error(
                "delivery_attempt_crashed", delivery_id=str(c.id), error=type(exc).__name__, exc_info=exc
            )
            outcome = Outcome("failed_temporary", error=f"internal error: {type(exc).__name__}")
        elapsed = time.perf_counter() - started
        ATTEMPT_SECONDS.labels(c.channel).observe(elapsed)
        DELIVERY_ATTEMPTS.labels(c.channel, outcome.result).inc()
        return await self._record(c, outcome, int(elapsed * 1000), False)

    async def _attempt(self, c: Claimed) -> Outcome:
        if c.channel == "email":
            return await self._attempt_email(c)
        return await self._attempt_webhook(c)

    def _unsubscribe_url(self, category: str) -> str | None:
        if category not in OPTIONAL_CATEGORIES:
            return None
        return f"{self.settings.portal_url.rstrip('/')}/settings/notifications"

    async def _attempt_email(self, c: Claimed) -> Outcome:
        try:
            contact = await self.contacts.resolve(c.recipient)
            facts = await read_facts(self.contacts.client, c.event_type, c.data)
        except ContactError as exc:
            result: Result = "failed_permanent" if exc.permanent else "failed_temporary"
            return Outcome(result, error=str(exc), status_code=exc.status_code)
        unsubscribe = self._unsubscribe_url(c.category)
        mail = self.catalog.render(
            c.event_type,
            contact.language,
            name=contact.name,
            data=c.data,
            event_id=str(c.event_id),
            occurred_at=c.occurred_at,
            portal_url=self.settings.portal_url,
            unsubscribe_url=unsubscribe,
            confirmation_token=contact.confirmation_token,
            secret=contact.secret,
            facts=facts,
        )
        try:
            message = build_outgoing(
                mail,
                delivery_id=c.id,
                mail_from=self.settings.mail_from,
                domain=self.settings.mail_domain,
                to_email=contact.email,
                to_name=contact.name,
                unsubscribe_url=unsubscribe,
            )
        except InvalidAddress as exc:
            return Outcome("failed_permanent", error=f"invalid address: {exc}", language=contact.language)
        try:
            await self.smtp.send(message)
        except SendError as exc:
            result = "failed_permanent" if exc.permanent else "failed_temporary"
            return Outcome(result, error=str(exc), status_code=exc.code, language=contact.language)
        return Outcome("delivered", status_code=250, language=contact.language)

    async def _attempt_webhook(self, c: Claimed) -> Outcome:
        """POST the event to the endpoint. What the ledger records (readable by staff) is a generic
        error class (``timeout``, ``connection_refused``, ``tls_error``, ``http_5xx``,
        ``destination_refused`` …) and the HTTP status, never the remote's details (no response
        body, no ``Location``, no exception text with addresses): the ledger must not turn the
        notifier into a scanner of other networks."""
        if c.endpoint_url is None or c.secret is None:
            return Outcome("failed_permanent", error="endpoint_deleted: the webhook endpoint was deleted")
        if not c.endpoint_enabled:
            return Outcome("failed_permanent", error="endpoint_disabled: the webhook endpoint is disabled")
        box = self.settings.secret_box()
        try:
            secrets = [box.decrypt(c.secret)]
            if c.previous_secret and c.previous_secret_expires_at and c.previous_secret_expires_at > utcnow():
                secrets.append(box.decrypt(c.previous_secret))
        except UndecryptableSecret:
            # A key was removed from WEBHOOK_SECRET_KEYS too early: an operator can put it back.
            log.error("webhook_secret_undecryptable", endpoint_id=str(c.endpoint_id))
            return Outcome("failed_temporary", error="secret_undecryptable: check WEBHOOK_SECRET_KEYS")
        body = webhook_body(c)
        headers = webhook_headers(secrets, str(c.event_id), int(time.time()), body)
        try:
            response = await self.webhooks.post(c.endpoint_url, content=body, headers=headers)
        except DestinationRefused:
            return Outcome(
                "failed_permanent",
                error="destination_refused: the endpoint's address is not public (loopback, private, "
                "link-local or reserved)",
            )
        except (httpx.HTTPError, ResolutionFailed, OSError) as exc:
            error = error_class(exc)
            # The details go to the operators' log only, never to the ledger staff read.
            log.info(
                "webhook_attempt_failed",
                delivery_id=str(c.id),
                endpoint_id=str(c.endpoint_id),
                error=error,
                detail=f"{type(exc).__name__}: {exc}"[:300],
            )
            return Outcome("failed_temporary", error=error)
        status = response.status_code
        if 200 <= status < 300:
            return Outcome("delivered", status_code=status)
        if status == 410:
            return Outcome(
                "failed_permanent",
                status_code=status,
                disable_endpoint=True,
                error="http_410: the endpoint answered 410 Gone and is now disabled",
            )
        if 300 <= status < 400:
            return Outcome(
                "failed_temporary",
                status_code=status,
                error="http_3xx: redirect not followed; register the final URL",
            )
        if status in (408, 429) or status >= 500:
            return Outcome(
                "failed_temporary",
                status_code=status,
                error=f"http_{status // 100}xx",
                retry_after_s=_retry_after(response),
            )
        return Outcome("failed_permanent", status_code=status, error="http_4xx")

    # ---- recording ---------------------------------------------------------------------------
    def _next_attempt_at(self, c: Claimed, outcome: Outcome) -> datetime:
        s = self.settings
        delay = schedule.retry_delay_s(
            c.number - c.retry_from, s.retry_schedule_s, jitter=s.retry_jitter, rng=self.rng
        )
        if outcome.retry_after_s is not None:
            delay = max(delay, min(outcome.retry_after_s, 86400.0))
        at = utcnow() + timedelta(seconds=delay)
        return schedule.not_before(
            at,
            urgent=c.urgent,
            channel=c.channel,
            quiet=s.quiet_hours_enabled,
            start=s.quiet_hours_start,
            end=s.quiet_hours_end,
        )

    async def _record(self, c: Claimed, outcome: Outcome, duration_ms: int, interrupted: bool) -> str:
        next_at: datetime | None = None
        reason: str | None = None
        if outcome.result == "delivered":
            status = "delivered"
        elif outcome.result == "failed_permanent":
            status, reason = "failed_permanent", outcome.error
        elif c.number - c.retry_from >= self.settings.max_attempts:
            status = "dead"
            reason = f"gave up after {c.number - c.retry_from} attempts: {outcome.error}"
        else:
            status = "failed_temporary"
            next_at = utcnow() if interrupted else self._next_attempt_at(c, outcome)
        params = {
            "id": c.id,
            "number": c.number,
            "status": status,
            "language": outcome.language,
            "next_attempt_at": next_at,
            "reason": reason,
            "error": outcome.error,
            "result": "interrupted" if interrupted else outcome.result,
            "status_code": outcome.status_code,
            "started_at": c.claimed_at,
            "duration_ms": duration_ms,
            "disable_endpoint": c.endpoint_id if outcome.disable_endpoint else None,
            "disable_reason": "the endpoint answered 410 Gone" if outcome.disable_endpoint else None,
        }
        async with self.engine.connect() as conn:
            recorded = (await conn.execute(FINISH_SQL, params)).first()
        if recorded is None:
            # The claim was lost (the reconciler took the delivery back after the lease): a newer
            # attempt owns it now.
            log.warning("delivery_claim_lost", delivery_id=str(c.id), attempt=c.number)
            return "lost"
        if status in FINAL_STATUSES:
            DELIVERY_FINAL.labels(c.channel, status).inc()
        log.info(
            "delivery_attempted",
            delivery_id=str(c.id),
            channel=c.channel,
            event_type=c.event_type,
            attempt=c.number,
            status=status,
            code=outcome.status_code,
        )
        if next_at is not None:
            await self._enqueue(c.id, c.number + 1, next_at)
        return status

    async def _enqueue(self, delivery_id: uuid.UUID, number: int, when: datetime | None) -> bool:
        """Queue attempt ``number`` of a delivery; the job id makes this idempotent. False when a job
        with that id already waits, or when Redis is down (the reconciler queues it later)."""
        try:
            job = await self.redis.enqueue_job(
                DELIVER_JOB,
                str(delivery_id),
                _job_id=f"deliver:{delivery_id}:{number}",
                _queue_name=NOTIFIER_QUEUE,
                _defer_until=when,
            )
        except Exception as exc:
            log.warning("delivery_enqueue_failed", delivery_id=str(delivery_id), error=type(exc).__name__)
            return False
        return job is not None

    # ---- reconciliation and resume -------------------------------------------------------------
    async def reconcile(self) -> ReconcileFigures:
        s = self.settings
        started = utcnow()
        error = "interrupted: no result within the lease (worker lost)"
        async with self.engine.connect() as conn:
            stale = (
                await conn.execute(
                    INTERRUPTED_SQL,
                    {
                        "lease": s.sending_lease_s,
                        "batch": s.reconcile_batch,
                        "max_attempts": s.max_attempts,
                        "error": error,
                    },
                )
            ).all()
            overdue = (
                await conn.execute(OVERDUE_SQL, {"grace": s.reconcile_after_s, "batch": s.reconcile_batch})
            ).all()
        paused = await self._paused_types()
        todo: dict[uuid.UUID, int] = {r.id: r.attempts for r in overdue}
        for r in stale:
            if r.status == "failed_temporary" and r.event_type not in paused:
                todo[r.id] = r.attempts
        requeued = already = 0
        for delivery_id, attempts in todo.items():
            if await self._enqueue(delivery_id, attempts + 1, None):
                requeued += 1
            else:
                already += 1
        async with self.engine.connect() as conn:
            figures = (await conn.execute(FIGURES_SQL)).one()
            result = ReconcileFigures(
                interrupted=len(stale),
                requeued=requeued,
                already_queued=already,
                dead=sum(1 for r in stale if r.status == "dead"),
                unfinished_deliveries=int(figures.deliveries),
                unfinished_events=int(figures.events),
                oldest_unfinished_s=float(figures.oldest_s),
            )
            await conn.execute(
                RECORD_RUN_SQL,
                {
                    "started_at": started,
                    "interrupted": result.interrupted,
                    "requeued": result.requeued,
                    "already_queued": result.already_queued,
                    "dead": result.dead,
                    "deliveries": result.unfinished_deliveries,
                    "events": result.unfinished_events,
                    "oldest_s": result.oldest_unfinished_s,
                },
            )
        RECONCILE_INTERRUPTED.inc(result.interrupted)
        RECONCILE_REQUEUED.inc(result.requeued)
        if result.interrupted or result.requeued:
            log.info("reconciled", **result.__dict__)
        return result

    async def _paused_types(self) -> set[str]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT event_type FROM notifier.event_type_pause"))).all()
        return {r.event_type for r in rows}

    async def requeue_type(self, event_type: str) -> int:
        """After a resume: queue every waiting delivery of the type that is due."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(DUE_OF_TYPE_SQL, {"event_type": event_type, "skew": CLOCK_SKEW_S})
            ).all()
        queued = 0
        for r in rows:
            queued += await self._enqueue(r.id, r.attempts + 1, None)
        return queued

    async def close(self) -> None:
        await self.smtp.close()
        await self.webhooks.aclose()
        await self.contacts.client.aclose()


def _json(value: Any) -> dict[str, Any]:
    """JSONB read through a raw ``text()`` statement arrives as its JSON text."""
    if isinstance(value, str | bytes):
        loaded: dict[str, Any] = orjson.loads(value)
        return loaded
    return dict(value)


def _request_id() -> str | None:
    from shared.logging import request_id_var

    return request_id_var.get()
