"""Outgoing webhooks: endpoints, emitting events, and delivering them at least once (STYLE rules 25-28, 32)."""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from integrations import network, selectors, signing
from integrations.catalogue import EVENT_TYPES, EVENT_VERSION, TEST_EVENT_TYPE
from integrations.models import (
    RECEIVER_ANSWERED,
    RESPONSE_EXCERPT_LIMIT,
    TIMED_OUT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenants import realtime
from tenants.models import Company, Membership, Role
from tenants.stored_text import english, shown

logger = logging.getLogger(__name__)

# Wait before retry n (after attempt n failed): about 28 hours from the first to the last of 8 attempts.
RETRY_DELAYS = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Longer than the task's hard time limit: a live worker never loses its lease.
LEASE = timedelta(seconds=90)
# An endpoint whose every attempt failed for this long is disabled and its owners are told.
FAILING_DISABLE_AFTER = timedelta(hours=24)
ROTATION_OVERLAP = timedelta(hours=24)
# Retries sooner than this ride on a Celery countdown; later ones wait for the beat scan (a
# countdown longer than the broker's visibility timeout would be redelivered early).
COUNTDOWN_LIMIT_SECONDS = 600
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "Recado-Webhooks/1"
STREAM_TOPIC = "events"


# --- endpoints --------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def _clean(url: str, event_types: list[str]) -> tuple[str, list[str]]:
    url = url.strip()
    try:
        network.resolve(url)
    except network.UnsafeDestination as error:
        raise ValidationError({"url": [error.message]}) from None
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError({"event_types": [_("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}]})
    return url, [name for name in EVENT_TYPES if name in set(event_types)]


def endpoint_create(*, company: Company, url: str, description: str = "", event_types: list[str] | None = None,
                    is_active: bool = True, kind: str = WebhookEndpoint.Kind.WEBHOOK) -> IssuedEndpoint:
    url, event_types = _clean(url, event_types or [])
    secret = signing.secret_generate()
    endpoint = WebhookEndpoint.objects.create(company=company, url=url, description=description.strip()[:200],
                                              event_types=event_types, is_active=is_active, secret=secret, kind=kind)
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


def endpoint_update(*, company: Company, endpoint: WebhookEndpoint, url: str, description: str,
                    event_types: list[str], is_active: bool) -> WebhookEndpoint:
    """Change an endpoint; switching it back on clears the disable and starts a fresh failure count."""
    url, event_types = _clean(url, event_types)
    fields: dict[str, Any] = {"url": url, "description": description.strip()[:200], "event_types": event_types,
                              "is_active": is_active}
    if is_active and not endpoint.is_active:
        fields.update(disabled_at=None, disabled_reason="", failing_since=None)
    WebhookEndpoint.objects.filter(company=company, pk=endpoint.pk).update(**fields)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_rotate_secret(*, company: Company, endpoint: WebhookEndpoint,
                           now: datetime | None = None) -> IssuedEndpoint:
    """A new secret signs from now on; the old one also signs for ROTATION_OVERLAP, so receivers can switch."""
    now = now or timezone.now()
    secret = signing.secret_generate()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return IssuedEndpoint(endpoint=endpoint, secret=secret)


def endpoint_delete(*, company: Company, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries and their attempts (a bot platform's goes with its platform)."""
    with transaction.atomic():
        # A worker records an attempt of one of its deliveries while this runs (the POST is done outside any
        # transaction). With the row locked first, and the worker locking it before it records (_record), the
        # attempt is either committed before and deleted with the rest, or finds the endpoint gone and is dropped;
        # unlocked, one recorded between the cascade's delete of attempts and of deliveries failed this commit.
        WebhookEndpoint.objects.select_for_update().filter(company=company, pk=endpoint.pk).first()
        WebhookEndpoint.objects.filter(company=company, pk=endpoint.pk).delete()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    in_use = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        in_use.append(endpoint.previous_secret)
    return in_use


def endpoint_disable(*, company: Company, endpoint: WebhookEndpoint, reason: str,
                     now: datetime | None = None) -> bool:
    """Switch the endpoint off (once), park its pending deliveries and e-mail the owners and admins."""
    now = now or timezone.now()
    if not WebhookEndpoint.objects.filter(company=company, pk=endpoint.pk, disabled_at__isnull=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason[:200]):
        return False
    WebhookDelivery.objects.filter(company=company, endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.DISABLED, next_attempt_at=None, lease_until=None, updated_at=now)
    endpoint.refresh_from_db()
    _email_admins_disabled(company=company, endpoint=endpoint)
    return True


def _email_admins_disabled(*, company: Company, endpoint: WebhookEndpoint) -> None:
    recipients = sorted({
        membership.user.email
        for membership in Membership.objects.filter(company=company, role__in=[Role.OWNER, Role.ADMIN])
        .select_related("user")
        if membership.user.email
    })
    if not recipients:
        return
    link = f"{settings.PUBLIC_URL}/c/{company.slug}/settings/webhooks/{endpoint.public_id}/"
    subject = _("Recado: webhook endpoint disabled")
    body = _(
        "Recado stopped sending events to %(url)s (company %(company)s).\n\nReason: %(reason)s\n"
        "Last error: %(error)s\n\nFix the receiver, switch the endpoint back on and replay what it missed:\n%(link)s\n"
    ) % {"url": endpoint.url, "company": company.name, "reason": shown(endpoint.disabled_reason),
         "error": shown(endpoint.last_error) or "-", "link": link}
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients))


# --- events -----------------------------------------------------------------------------------

def _event_id() -> str:
    return "evt_" + secrets.token_hex(16)


def event_body(*, company: Company, event_type: str, data: dict[str, Any], event_id: str,
               now: datetime) -> dict[str, Any]:
    """The JSON every webhook and stream client receives (docs/webhooks.md)."""
    return {
        "type": event_type,
        "id": event_id,
        "timestamp": now.astimezone(timezone.UTC).isoformat().replace("+00:00", "Z"),
        "version": EVENT_VERSION,
        "company": {"id": str(company.public_id), "slug": company.slug},
        "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }


def _enqueue(company: Company, delivery: WebhookDelivery, countdown: int = 0) -> None:
    from integrations.tasks import deliver_webhook as deliver_webhook_task

    transaction.on_commit(
        lambda: deliver_webhook_task.apply_async(args=[company.pk, delivery.pk], countdown=countdown or None)
    )


def _deliver_to(company: Company, event: WebhookEvent, endpoints: list[WebhookEndpoint],
                now: datetime) -> list[WebhookDelivery]:
    deliveries = [
        WebhookDelivery.objects.create(company=company, endpoint=endpoint, event=event, next_attempt_at=now,
                                       updated_at=now)
        for endpoint in endpoints
    ]
    for delivery in deliveries:
        _enqueue(company, delivery)
    return deliveries


# (company id, its active webhook endpoints or None when not read yet) inside webhook_endpoints_read_once().
_known_endpoints: ContextVar[tuple[int, list[WebhookEndpoint] | None] | None] = ContextVar(
    "recado_known_webhook_endpoints", default=None)


@contextmanager
def webhook_endpoints_read_once(*, company: Company) -> Iterator[None]:
    """Inside the block (one transaction), event_emit for this company reads its webhook endpoints once, at
    its first event, instead of once per event: the inbound apply emits up to three for a customer's first
    message (contact.created, conversation.opened, message.received). An endpoint saved after that read
    misses the block's later events, as one saved just after the endpoints' SELECT always missed that event;
    every endpoint committed before the read gets them all. A block inside another one for the same company
    joins it (the inbound drain applies a batch of events in one transaction)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("webhook_endpoints_read_once() needs a transaction around the events it emits")
    known = _known_endpoints.get()
    if known is not None and known[0] == company.pk:
        yield  # inside an outer block for the same company (a drain's batch): its read serves this one too
        return
    token = _known_endpoints.set((company.pk, None))
    try:
        yield
    finally:
        _known_endpoints.reset(token)


def _active_endpoints(company: Company) -> list[WebhookEndpoint]:
    known = _known_endpoints.get()
    if known is None or known[0] != company.pk:
        return selectors.active_webhook_endpoints(company=company)
    if known[1] is None:
        _known_endpoints.set((company.pk, selectors.active_webhook_endpoints(company=company)))
    return _known_endpoints.get()[1]


def event_emit(*, company: Company, event_type: str, payload: dict[str, Any],
               extra_endpoints: Sequence[WebhookEndpoint] = (), dedupe_key: str | None = None) -> dict[str, Any] | None:
    """Record an event and one delivery per active webhook endpoint that wants it (plus `extra_endpoints`:
    the bot platform a message is routed to), in the caller's transaction; the deliveries start after
    commit, and the event stream (/ws/events/) gets the same body.

    `dedupe_key`: the emitter may run twice for the same change (a redelivered task); an event already recorded
    under this key (unique per company) makes this a no-op that returns None: no event, delivery or push. With no
    endpoint wanting the event nothing is recorded, and the stream pushes only the first copy under the key."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    now = timezone.now()
    body = event_body(company=company, event_type=event_type, data=payload, event_id=_event_id(), now=now)
    endpoints = [endpoint for endpoint in _active_endpoints(company) if endpoint.wants(event_type)]
    endpoints += [endpoint for endpoint in extra_endpoints if endpoint.is_active and endpoint not in endpoints]
    if endpoints:
        event = WebhookEvent(company=company, event_id=body["id"], type=event_type, payload=body,
                             dedupe_key=dedupe_key, created_at=now)
        if dedupe_key is None:
            event.save(force_insert=True)
        elif not _insert_once(event):
            return None
        _deliver_to(company, event, endpoints, now)
        realtime.publish_event(company=company, topic=STREAM_TOPIC, payload=body)
    else:
        realtime.publish_event(company=company, topic=STREAM_TOPIC, payload=body, once_key=dedupe_key)
    return body


def _insert_once(event: WebhookEvent) -> bool:
    """Insert an event carrying a dedupe key; False when one with that key is there (a concurrent copy of the same
    emitter that committed first meets the unique key here)."""
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def endpoint_send_test(*, company: Company, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` event to this one endpoint, whatever its filter."""
    if not endpoint.is_active:
        raise ValidationError(_("Switch the endpoint on before sending a test event."))
    now = timezone.now()
    body = event_body(company=company, event_type=TEST_EVENT_TYPE, event_id=_event_id(), now=now,
                      data={"message": "This is a test event from Recado.", "endpoint": str(endpoint.public_id)})
    event = WebhookEvent.objects.create(company=company, event_id=body["id"], type=TEST_EVENT_TYPE, payload=body,
                                        created_at=now)
    return _deliver_to(company, event, [endpoint], now)[0]


class DeliveryBeingSent(Exception):
    """A replay of a delivery a worker is attempting right now (it holds the lease): refused, or it went twice."""

    def __init__(self) -> None:
        self.message = _("This delivery is being sent right now: replay it once this attempt is over, if it still "
                         "needs to go again.")
        super().__init__(self.message)


def delivery_replay(*, company: Company, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (same event id, so receivers can tell it is a repeat) with a fresh retry schedule.
    DeliveryBeingSent while a worker holds it for an attempt."""
    if not delivery.endpoint.is_active:
        raise ValidationError(_("Switch the endpoint on before replaying its deliveries."))
    now = timezone.now()
    # Conditional on no live lease, as the attempt's claim is on this one: clearing the lease of an attempt on the
    # wire let the replay's task claim it too and send it a second time at once.
    replayed = WebhookDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), company=company, pk=delivery.pk,
    ).update(status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=now, lease_until=None, updated_at=now)
    if not replayed:
        raise DeliveryBeingSent
    delivery.refresh_from_db()
    _enqueue(company, delivery)
    return delivery


# --- delivery ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    excerpt: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _pinned_request(client: httpx.Client, url: str, address: network.IpAddress, body: bytes,
                    headers: dict[str, str]) -> httpx.Request:
    """A request to the address we checked, not to a second DNS answer (DNS rebinding); Host and TLS SNI keep
    the real name, so virtual hosts and certificate checks work as usual."""
    target = httpx.URL(url)
    return client.build_request(
        "POST", target.copy_with(host=str(address)), content=body,
        headers={**headers, "host": urlsplit(url).netloc.rsplit("@", 1)[-1]},
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )


def http_post(*, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
    """POST once with explicit timeouts, no redirects, reading at most RESPONSE_EXCERPT_LIMIT bytes back."""
    started = time.monotonic()
    elapsed = lambda: int((time.monotonic() - started) * 1000)  # noqa: E731
    try:
        addresses = network.resolve(url)
    except network.UnsafeDestination as error:
        return AttemptResult(None, elapsed(), error=error.message)
    headers = {**headers, "content-type": "application/json", "user-agent": USER_AGENT}
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
            for address in addresses[:-1]:  # e.g. ::1 refused, 127.0.0.1 listening: try the next checked address
                try:
                    return _send(client, _pinned_request(client, url, address, body, headers), elapsed)
                except httpx.ConnectError:
                    continue
            return _send(client, _pinned_request(client, url, addresses[-1], body, headers), elapsed)
    except httpx.TimeoutException:
        return AttemptResult(None, elapsed(), error=english(TIMED_OUT, seconds=10))
    except httpx.HTTPError as error:
        return AttemptResult(None, elapsed(), error=(str(error) or type(error).__name__)[:500])


def _send(client: httpx.Client, request: httpx.Request, elapsed) -> AttemptResult:
    response = client.send(request, stream=True)
    try:
        excerpt = b""
        for chunk in response.iter_bytes():
            excerpt += chunk
            if len(excerpt) >= RESPONSE_EXCERPT_LIMIT:
                break
    finally:
        response.close()
    text = excerpt[:RESPONSE_EXCERPT_LIMIT].decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_LIMIT]
    return AttemptResult(response.status_code, elapsed(), excerpt=text)


def _claim(company: Company, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take the delivery for one attempt (conditional UPDATE + lease), or None when it is not ours to send."""
    claimed = WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        company=company, pk=delivery_id, status=WebhookDelivery.Status.PENDING,
    ).update(lease_until=now + LEASE, updated_at=now)
    if not claimed:
        return None
    # None when its endpoint was deleted since the claim.
    return WebhookDelivery.objects.select_related("endpoint", "event").filter(company=company, pk=delivery_id).first()


def delivery_attempt(*, company: Company, delivery_id: int, now: datetime | None = None) -> str:
    """One attempt of one delivery: claim it, POST the signed body, record the outcome, plan what comes next."""
    now = now or timezone.now()
    delivery = _claim(company, delivery_id, now)
    if delivery is None:
        return "skipped"
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(company=company, pk=delivery.pk).update(
            status=WebhookDelivery.Status.DISABLED, next_attempt_at=None, lease_until=None, updated_at=now)
        return "disabled"
    body = json.dumps(delivery.event.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signing.headers(secrets_in_use=signing_secrets(endpoint, now), message_id=delivery.event.event_id,
                              timestamp=int(now.timestamp()), body=body)
    result = http_post(url=endpoint.url, body=body, headers=headers)
    with transaction.atomic():
        return _record(company, delivery, result, now)


def _record(company: Company, delivery: WebhookDelivery, result: AttemptResult, now: datetime) -> str:
    # Locked first, as endpoint_delete does: an endpoint deleted while this attempt was on the wire takes its
    # deliveries with it, and the attempt ends here with nothing to record.
    # (FOR NO KEY UPDATE: what the endpoint's UPDATEs below take anyway; new deliveries' key checks pass it.)
    endpoint_rows = WebhookEndpoint.objects.select_for_update(no_key=True)
    if endpoint_rows.filter(company=company, pk=delivery.endpoint_id).first() is None:
        return "deleted"
    endpoint = delivery.endpoint
    number = WebhookAttempt.objects.filter(company=company, delivery=delivery).count() + 1
    WebhookAttempt.objects.create(company=company, delivery=delivery, number=number, status_code=result.status_code,
                                  duration_ms=result.duration_ms, response_excerpt=result.excerpt,
                                  error=result.error, at=now)
    attempts = delivery.attempts + 1
    rows = WebhookDelivery.objects.filter(company=company, pk=delivery.pk)
    common = {"attempts": attempts, "last_status_code": result.status_code, "lease_until": None, "updated_at": now}
    if result.succeeded:
        rows.update(status=WebhookDelivery.Status.SUCCEEDED, next_attempt_at=None, last_error="", **common)
        WebhookEndpoint.objects.filter(company=company, pk=endpoint.pk).update(failing_since=None, last_error="")
        return "succeeded"
    error = result.error or english(RECEIVER_ANSWERED, code=result.status_code)
    rows.update(last_error=error[:500], **common)
    WebhookEndpoint.objects.filter(company=company, pk=endpoint.pk).update(last_error=error[:500])
    WebhookEndpoint.objects.filter(company=company, pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now)
    endpoint.refresh_from_db()
    if result.status_code == 410:
        rows.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        endpoint_disable(company=company, endpoint=endpoint, now=now,
                         reason=gettext_noop("The receiver answered 410 Gone: it asked us to stop."))
        return "gone"
    if endpoint.failing_since <= now - FAILING_DISABLE_AFTER:
        rows.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        endpoint_disable(company=company, endpoint=endpoint, now=now,
                         reason=gettext_noop("Every attempt failed for 24 hours."))
        return "disabled"
    if attempts >= MAX_ATTEMPTS:
        rows.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        return "failed"
    delay = retry_delay(attempts)
    rows.update(next_attempt_at=now + timedelta(seconds=delay))
    if delay <= COUNTDOWN_LIMIT_SECONDS:
        _enqueue(company, delivery, countdown=max(1, round(delay)))
    return "retrying"


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: the schedule, ±10 % jitter."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(0.9, 1.1)  # noqa: S311 (jitter, not a secret)


# --- retention --------------------------------------------------------------------------------

# Events per short transaction, and transactions per call: a purge never holds locks for long, and a
# backlog is worked off by several task runs (the task chains the next run) rather than by one long one.
RETENTION_BATCH = 500
RETENTION_MAX_BATCHES = 20


@dataclass(frozen=True)
class Purged:
    events: int = 0
    deliveries: int = 0
    attempts: int = 0
    more: bool = False  # the call stopped at its bound with old events left: run it again


def retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)


def retention_purge(*, company: Company, now: datetime | None = None, batch_size: int = RETENTION_BATCH,
                    max_batches: int = RETENTION_MAX_BATCHES) -> Purged:
    """Delete the company's webhook history older than WEBHOOK_EVENT_RETENTION_DAYS: finished deliveries
    (succeeded, failed, or parked by a disabled endpoint) not touched since the cutoff, with their attempts,
    then those old events no delivery refers to any more. A pending delivery (a replay counts: it is touched)
    and its event are kept. At most `batch_size` events per transaction, `max_batches` transactions."""
    cutoff = retention_cutoff(now)
    events = deliveries = attempts = 0
    after: tuple[datetime, int] | None = None  # keyset cursor: old events kept (pending) are not read twice
    for _batch in range(max_batches):
        with transaction.atomic():
            page = WebhookEvent.objects.filter(company=company, created_at__lt=cutoff)
            if after is not None:
                page = page.filter(Q(created_at__gt=after[0]) | Q(created_at=after[0], pk__gt=after[1]))
            page = list(page.order_by("created_at", "pk").values_list("created_at", "pk")[:batch_size])
            if not page:
                return Purged(events, deliveries, attempts, more=False)
            after = page[-1]
            event_ids = [pk for _created_at, pk in page]
            # Locked, so a replay racing the purge waits for this short transaction; rows a worker holds are
            # skipped (left for the next run).
            finished = list(
                WebhookDelivery.objects.filter(company=company, event_id__in=event_ids, updated_at__lt=cutoff)
                .exclude(status=WebhookDelivery.Status.PENDING)
                .select_for_update(skip_locked=True).values_list("pk", flat=True)
            )
            if finished:
                attempts += WebhookAttempt.objects.filter(company=company, delivery_id__in=finished).delete()[0]
                deliveries += WebhookDelivery.objects.filter(company=company, pk__in=finished).delete()[0]
            events += WebhookEvent.objects.filter(company=company, pk__in=event_ids,
                                                  deliveries__isnull=True).delete()[0]
        if len(page) < batch_size:
            return Purged(events, deliveries, attempts, more=False)
    return Purged(events, deliveries, attempts, more=True)
