"""Instance use cases: create, connect, restart, logout, delete, rename, record state, poll (STYLE rules 3, 26, 30).

Gateway calls made on behalf of a person (create, connect, restart, logout, delete) are synchronous with a
short timeout: the API's callers expect the answer (token, QR) in the response. Everything else (polls,
inbound events) runs in Celery tasks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from instances import events as instance_events
from instances.errors import (
    GatewayRejected,
    GatewayUnavailable,
    InstanceLimitReached,
    InstanceNameInvalid,
    InstanceNameTaken,
    InstanceSettingsInvalid,
    InstanceTokenInvalid,
    PhoneNumberInvalid,
)
from instances.gateways import (
    ConnectResult,
    Gateway,
    GatewayError,
    GatewayNotConnected,
    GatewayRefused,
    GatewayUnauthorized,
    InstanceNameInUse,
    InstanceNotFound,
    InstanceSettings,
    WebhookConfig,
    gateway_for,
    parse_event,
)
from instances.gateways.events import (
    ConnectionUpdate,
    GatewayEvent,
    InstanceRemoved,
    LogoutInstance,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    MessageStatusUpdate,
    QrUpdated,
)
from instances.models import GatewayServer, InboundEvent, Instance, InstanceState, InstanceStateChange
from instances.reasons import GATEWAY_SILENT, Reason
from instances.selectors import gateway_server_least_loaded
from integrations import payloads as integration_payloads
from integrations import services as integration_services
from tenants import realtime
from tenants.models import Company, hash_secret
from tenants.prepared import Prepared
from tenants.scoping import current_company, first_row

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
NUMBER_PATTERN = re.compile(r"^\d{8,15}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,100}$")
# Calls made while a person waits (page or API) give up quickly; tasks use the adapter's default.
INTERACTIVE_TIMEOUT = 10.0
POLL_LEASE = timedelta(seconds=75)  # longer than poll_instance's time_limit: a lease outlives its poll
GATEWAY_STATES = {
    "open": InstanceState.OPEN,
    "connecting": InstanceState.CONNECTING,
    "close": InstanceState.CLOSE,
    "refused": InstanceState.CLOSE,
}


def qr_timeout() -> timedelta:
    """How long a connect attempt waits for a scan before the instance goes back to "close"."""
    return timedelta(seconds=getattr(settings, "INSTANCE_QR_TIMEOUT_SECONDS", 60))


def hook_url(secret: str) -> str:
    return f"{settings.PUBLIC_URL}/hooks/evolution/{secret}/"


def gateway(server: GatewayServer, *, timeout: float | None = None) -> Gateway:
    """The adapter for a server, authenticated with its global key."""
    options = {"timeout": timeout} if timeout else {}
    return gateway_for(server.base_url, server.version, server.api_key, **options)


_pooled: dict[tuple, Gateway] = {}
_POOLED_MAX = 16  # gateway servers a process keeps clients for (a deployment has a handful)
_pooled_lock = threading.Lock()


def pooled_gateway(server: GatewayServer, *, timeout: float) -> Gateway:
    """This process's long-lived adapter for a server (never close it): the sends of every drain batch in the
    process share its connections. An adapter per batch opened a new connection for each batch, and a drain
    that keeps up sends batches of one or two, so most sends paid a TCP connect (and behind HTTPS a TLS
    handshake, a round trip or two to a remote gateway) for one request. Keyed by the server's address,
    version and key as they are now (an operator's edit takes effect with the next batch; the old client is
    dropped, not closed, since a call in another thread may still be using it: its sockets close with it) and by
    the process (a forked worker child makes its own; httpx clients must not cross a fork).
    Thread-safe: a drain's calls run in a few threads of its child, sharing one client as httpx allows."""
    key = (os.getpid(), server.pk, server.base_url, server.version, server.api_key, timeout)
    found = _pooled.get(key)
    if found is not None:
        return found
    with _pooled_lock:
        found = _pooled.get(key)
        if found is None:
            for old in [k for k in _pooled if k[1] == server.pk or k[0] != os.getpid()]:
                del _pooled[old]  # the server was edited, or the parent's before a fork
            while len(_pooled) >= _POOLED_MAX:  # servers deleted meanwhile: the longest-kept goes
                del _pooled[next(iter(_pooled))]
            found = _pooled[key] = gateway(server, timeout=timeout)
        return found


@contextmanager
def gateway_errors() -> Iterator[None]:
    """Turn adapter errors into the use-case errors the pages and the API show."""
    try:
        yield
    except InstanceNameInUse as exc:
        raise InstanceNameTaken(_("The gateway already has an instance with this name.")) from exc
    except GatewayUnauthorized as exc:
        logger.error("gateway refused our global key: %s", exc.message)
        raise GatewayUnavailable(_("The gateway refused Recado's credentials; the operator must fix it.")) from exc
    except GatewayError as exc:
        if exc.transient:
            raise GatewayUnavailable(_(GATEWAY_SILENT) % {"error": exc.message}) from exc
        if exc.message.strip() in ("", "[object Object]"):  # Evolution's connect/restart can say just that
            raise GatewayRejected(_("The gateway refused without saying why.")) from exc
        raise GatewayRejected(exc.message) from exc


def validate_instance_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not NAME_PATTERN.match(name):
        raise InstanceNameInvalid(
            _("Use 1 to 40 lowercase letters, digits and hyphens, starting with a letter or digit.")
        )
    return name


# --- create --------------------------------------------------------------------------------------


def instance_create(*, company: Company, name: str, label: str = "", token: str = "") -> Instance:
    """Create the instance here and on the least loaded gateway, with our webhook; nothing is left if it fails.

    `token` is the instance's own key on the gateway; integrators may choose it, otherwise it is random.
    """
    name = validate_instance_name(name)
    if token and not TOKEN_PATTERN.match(token):
        raise InstanceTokenInvalid(_("The token must be 16 to 100 letters, digits, hyphens or underscores."))
    gateway_name = f"{company.slug}_{name}"
    try:
        instance = _instance_insert(company=company, name=name, label=label, token=token, gateway_name=gateway_name)
    except IntegrityError as exc:
        if Instance.objects.filter(company=company, name=name).exists():  # a parallel create won the name
            raise InstanceNameTaken(_("You already have an instance named “%(name)s”.") % {"name": name}) from exc
        # Another company's instance has this gateway name on the server: a company whose slug changed, and
        # this one took its old slug. A suffix tells the two apart.
        gateway_name = f"{gateway_name}_{secrets.token_hex(3)}"
        try:
            instance = _instance_insert(company=company, name=name, label=label, token=token,
                                        gateway_name=gateway_name)
        except IntegrityError as exc:  # a parallel create won the name
            raise InstanceNameTaken(_("You already have an instance named “%(name)s”.") % {"name": name}) from exc
    instance_events.instance_changed(company=company, instance=instance, created=True)
    return instance


def _instance_insert(*, company: Company, name: str, label: str, token: str, gateway_name: str) -> Instance:
    """instance_create's row, gateway instance and first timeline entry, all or nothing."""
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Serialise creations per company so the limit cannot be overrun by parallel requests.
        Company.objects.select_for_update().filter(pk=company.pk).first()
        if Instance.objects.filter(company=company, name=name).exists():
            raise InstanceNameTaken(_("You already have an instance named “%(name)s”.") % {"name": name})
        if Instance.objects.filter(company=company).count() >= company.max_instances:
            raise InstanceLimitReached(company.max_instances)
        server = gateway_server_least_loaded()
        if server is None:
            raise GatewayUnavailable(_("No gateway server has room for a new instance; contact support."))
        instance = Instance.objects.create(
            company=company, server=server, name=name, gateway_name=gateway_name,
            label=label.strip()[:80], token=token or secrets.token_hex(16), webhook_secret_hash=hash_secret(secret),
        )
        _create_on_gateway(instance, secret)
        InstanceStateChange.objects.create(
            company=company, instance=instance, from_state=InstanceState.CREATED, to_state=InstanceState.CREATED,
            reason=Reason.CREATED, source=InstanceStateChange.Source.USER,
        )
    return instance


def _create_on_gateway(instance: Instance, secret: str) -> None:
    webhook = WebhookConfig(url=hook_url(secret))
    with gateway_errors(), gateway(instance.server, timeout=INTERACTIVE_TIMEOUT) as gw:
        created = gw.create_instance(instance.gateway_name, token=instance.token, webhook=webhook,
                                     settings=instance_settings(instance))
    instance.token = created.token or instance.token
    instance.gateway_instance_id = created.instance_id or ""
    instance.raw_state = created.state or ""
    instance.save(update_fields=["token", "gateway_instance_id", "raw_state"])


# --- person-driven lifecycle -------------------------------------------------------------------------


def pairing_number(number: str | None) -> str | None:
    """The digits of the number a pairing code is asked for (None: no number, a QR only); PhoneNumberInvalid
    when it is not one."""
    if not number:
        return None
    digits = re.sub(r"\D", "", number)
    if not NUMBER_PATTERN.match(digits):
        raise PhoneNumberInvalid(_("Enter the phone number with country and area code, digits only."))
    return digits


def instance_connect(*, company: Company, instance: Instance, number: str | None = None) -> Instance:
    """Ask the gateway for a QR (and a pairing code when a number is given); store it and show it live."""
    number = pairing_number(number)
    with gateway_errors(), gateway(instance.server, timeout=INTERACTIVE_TIMEOUT) as gw:
        try:
            result = gw.connect(instance.gateway_name, number=number or None)
        except InstanceNotFound:  # the gateway lost it (its database reset, deleted in its own manager)
            _recreate_on_gateway(instance)
            result = gw.connect(instance.gateway_name, number=number or None)
    return _apply_connect_result(company, instance, result, source=InstanceStateChange.Source.USER)


def _recreate_on_gateway(instance: Instance) -> None:
    """Create a lost instance again under its name. Its webhook URL carries a secret we keep only hashed, so the
    new one gets a new secret."""
    secret = secrets.token_urlsafe(32)
    instance.webhook_secret_hash = hash_secret(secret)
    Instance.objects.filter(company_id=instance.company_id, pk=instance.pk).update(
        webhook_secret_hash=instance.webhook_secret_hash)
    _create_on_gateway(instance, secret)


def instance_restart(*, company: Company, instance: Instance) -> Instance:
    try:
        with gateway_errors(), gateway(instance.server, timeout=INTERACTIVE_TIMEOUT) as gw:
            result = gw.restart(instance.gateway_name)
    except GatewayRejected as exc:
        # Evolution refuses a restart it cannot do with a 200 whose message may be "[object Object]": say why.
        if instance.state != InstanceState.OPEN:
            raise GatewayRejected(_("This number is not connected, so there is no session to restart: connect it "
                                    "with a QR code or a pairing code.")) from exc
        raise GatewayRejected(_("The gateway could not restart the session; try again in a moment.")) from exc
    return _apply_connect_result(company, instance, result, source=InstanceStateChange.Source.USER)


def _apply_connect_result(company: Company, instance: Instance, result: ConnectResult, *, source: str) -> Instance:
    if result.state and not result.has_qr:
        state = GATEWAY_STATES.get(result.state, InstanceState.CLOSE)
        return instance_record_state(company=company, instance=instance, state=state, source=source,
                                     reason=Reason.GATEWAY_SAID, raw_state=result.state)
    now = timezone.now()
    fields = {
        "qr_data_url": result.qr_data_url or "", "qr_code": result.qr_code or "",
        "pairing_code": result.pairing_code or "", "qr_count": result.count,
        "qr_updated_at": now if result.has_qr else None, "connect_deadline": now + qr_timeout(),
        "raw_state": "connecting",
    }
    return instance_record_state(company=company, instance=instance, state=InstanceState.CONNECTING,
                                 source=source, reason=Reason.CONNECT_REQUESTED, **fields)


def instance_logout(*, company: Company, instance: Instance) -> Instance:
    """Disconnect WhatsApp (unlinks the device); the instance stays, ready to connect again."""
    # Not connected (or gone) already is the outcome the user asked for.
    already_out = suppress(GatewayNotConnected, GatewayRefused, InstanceNotFound)
    with gateway_errors(), gateway(instance.server, timeout=INTERACTIVE_TIMEOUT) as gw, already_out:
        gw.logout(instance.gateway_name)
    return instance_record_state(company=company, instance=instance, state=InstanceState.CLOSE,
                                 source=InstanceStateChange.Source.USER, reason=Reason.LOGGED_OUT,
                                 raw_state="close", **_CLEARED_QR)


def instance_delete(*, company: Company, instance: Instance) -> None:
    """Remove the instance from the gateway, then here; an unreachable gateway leaves both in place."""
    already_gone = suppress(InstanceNotFound)  # gone there already: finish the job here
    with gateway_errors(), gateway(instance.server, timeout=INTERACTIVE_TIMEOUT) as gw, already_gone:
        gw.delete_instance(instance.gateway_name)
    public_id = instance.public_id
    with transaction.atomic():
        # The gateway posts its last events (connection closed, logged out) while this runs. With the row locked
        # first, each was either stored before and goes with the instance, or waits and is refused once it is
        # gone; unlocked, one stored between the cascade and the row's DELETE failed this commit.
        Instance.objects.select_for_update().filter(company=company, pk=instance.pk).first()
        instance.delete()
    instance_events.instance_removed(company=company, public_id=public_id)


def instance_rename(*, company: Company, instance: Instance, label: str) -> Instance:
    Instance.objects.filter(company=company, pk=instance.pk).update(label=label.strip()[:80])
    instance.refresh_from_db()
    instance_events.instance_changed(company=company, instance=instance)
    return instance


# --- WhatsApp behaviour settings ---------------------------------------------------------------------------

# As long as a text message may be in Recado (messaging.forms.MAX_TEXT_LENGTH: the composer's and the API's bound).
CALL_REJECTION_MESSAGE_MAX_LENGTH = 4096
SETTING_FIELDS = tuple(setting.name for setting in dataclasses.fields(InstanceSettings))
# How many times a settings change is applied again over another one stored while it was on its way.
SETTINGS_ATTEMPTS = 3


def instance_settings(instance: Instance) -> InstanceSettings:
    """The WhatsApp behaviour settings stored on the instance, as the gateway adapters take them."""
    return InstanceSettings(**{name: getattr(instance, name) for name in SETTING_FIELDS})


def _call_rejection_message(message: str) -> str:
    message = message.replace("\r\n", "\n").strip()
    if len(message) > CALL_REJECTION_MESSAGE_MAX_LENGTH:
        raise InstanceSettingsInvalid(_("The message to callers may have at most %(limit)s characters (it has "
                                        "%(length)s).") % {"limit": CALL_REJECTION_MESSAGE_MAX_LENGTH,
                                                           "length": len(message)})
    if "\x00" in message:
        raise InstanceSettingsInvalid(_("The message to callers cannot contain a NUL character."))
    return message


def instance_settings_update(
    *, company: Company, instance: Instance, reject_calls: bool | None = None,
    call_rejection_message: str | None = None, ignore_groups: bool | None = None, always_online: bool | None = None,
    read_messages: bool | None = None, read_status: bool | None = None, sync_full_history: bool | None = None,
) -> Instance:
    """Change how the number behaves on WhatsApp: the gateway first, stored here only once it accepted, so a
    refusal or a silent gateway leaves both as they were. A setting left None keeps its stored value; a message to
    callers is kept while call rejection is off (the gateway sends it only when a call is rejected).

    Two people saving at once: the gateway takes the whole set each time, so each change is stored only over the
    revision it was made from. The one that finds another change stored meanwhile applies its own on top of it
    and pushes the result again, so neither change is lost and the gateway ends with what Recado stores."""
    given = {"reject_calls": reject_calls, "call_rejection_message": call_rejection_message,
             "ignore_groups": ignore_groups, "always_online": always_online, "read_messages": read_messages,
             "read_status": read_status, "sync_full_history": sync_full_history}
    changes = {name: value if name == "call_rejection_message" else bool(value)
               for name, value in given.items() if value is not None}
    if "call_rejection_message" in changes:
        changes["call_rejection_message"] = _call_rejection_message(str(changes["call_rejection_message"]))
    for _attempt in range(SETTINGS_ATTEMPTS):
        instance = Instance.objects.select_related("server").get(company=company, pk=instance.pk)  # fresh
        wanted = dataclasses.replace(instance_settings(instance), **changes)
        try:
            with gateway_errors(), gateway(instance.server, timeout=INTERACTIVE_TIMEOUT) as gw:
                gw.set_settings(instance.gateway_name, wanted)
        except GatewayRejected as exc:
            raise GatewayRejected(_("The gateway refused these settings: %(error)s") % {"error": exc.message}) from exc
        unchanged_since_read = Instance.objects.filter(company=company, pk=instance.pk,
                                                       settings_revision=instance.settings_revision)
        if unchanged_since_read.update(**dataclasses.asdict(wanted), settings_revision=F("settings_revision") + 1):
            break
    else:
        raise GatewayUnavailable(_("These settings were being changed by someone else at the same time; "
                                   "open them again and save."))
    instance.refresh_from_db()
    instance_events.instance_changed(company=company, instance=instance)
    return instance


# --- state ---------------------------------------------------------------------------------------------

_CLEARED_QR = {"qr_data_url": "", "qr_code": "", "pairing_code": "", "qr_count": 0, "connect_deadline": None}


def instance_record_state(
    *, company: Company, instance: Instance, state: str, source: str, reason: str = "", **fields
) -> Instance:
    """Move the instance to `state` with a conditional UPDATE (one timeline line per real change), store the
    other observed fields, and publish live when anything changed."""
    now = timezone.now()
    rows = Instance.objects.filter(company=company, pk=instance.pk)
    instance.refresh_from_db()
    changed = state_changed = False
    qr_before = instance.qr_updated_at
    for _attempt in range(3):
        current = instance.state
        if current == state:
            fields = {name: value for name, value in fields.items() if getattr(instance, name) != value}
            changed = bool(fields) and bool(rows.update(**fields))
            break
        if rows.filter(state=current).update(state=state, state_changed_at=now, state_reason=reason[:200], **fields):
            InstanceStateChange.objects.create(company=company, instance=instance, from_state=current,
                                               to_state=state, reason=reason[:200], source=source, at=now)
            changed = state_changed = True
            break
        instance.refresh_from_db()  # someone else moved it meanwhile: decide again
    if not changed:
        return instance
    instance.refresh_from_db()
    instance_events.instance_changed(company=company, instance=instance)
    _emit_integrator_events(company, instance, state_changed=state_changed,
                            qr_changed=instance.qr_code != "" and instance.qr_updated_at != qr_before)
    return instance


def _emit_integrator_events(company: Company, instance: Instance, *, state_changed: bool, qr_changed: bool) -> None:
    """instance.state / instance.qr for webhooks and the event stream (docs/webhooks.md)."""
    if state_changed:
        integration_services.event_emit(company=company, event_type="instance.state",
                                        payload=integration_payloads.instance_state_data(instance))
    if qr_changed:
        integration_services.event_emit(company=company, event_type="instance.qr",
                                        payload=integration_payloads.instance_qr_data(instance))


def instance_expire_qr(*, company: Company, instance: Instance, source: str) -> Instance:
    """The connect attempt ran out of time: stop the gateway's QR loop (best effort) and go back to close."""
    try:
        with gateway(instance.server) as gw:
            gw.logout(instance.gateway_name)
    except GatewayError as exc:
        logger.info("stopping the QR loop of %s failed: %s", instance.gateway_name, exc.message)
    return instance_record_state(company=company, instance=instance, state=InstanceState.CLOSE, source=source,
                                 reason=Reason.QR_EXPIRED, **_CLEARED_QR)


def connect_expired(instance: Instance, now: datetime | None = None) -> bool:
    return instance.connect_deadline is not None and (now or timezone.now()) >= instance.connect_deadline


# --- polling -----------------------------------------------------------------------------------------


def instance_poll(*, company: Company, instance: Instance) -> bool:
    """Ask the gateway for the state and store it. False when another poll holds the lease."""
    now = timezone.now()
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lte=now)
    rows = Instance.objects.filter(company=company, pk=instance.pk)
    if not rows.filter(free).update(poll_lease_until=now + POLL_LEASE):
        return False
    try:
        instance.refresh_from_db()
        _poll_claimed(company, instance)
    finally:
        rows.update(poll_lease_until=None, last_polled_at=timezone.now())
    return True


def _poll_claimed(company: Company, instance: Instance) -> None:
    poll = InstanceStateChange.Source.POLL
    try:
        with gateway(instance.server) as gw:
            observed = gw.connection_state(instance.gateway_name).state
            info = gw.fetch_instance(instance.gateway_name) if observed == "open" else None
    except InstanceNotFound:
        instance_record_state(company=company, instance=instance, state=InstanceState.CLOSE, source=poll,
                              reason=Reason.REMOVED_ON_GATEWAY, raw_state="", **_CLEARED_QR)
        return
    except GatewayError as exc:
        if exc.transient or isinstance(exc, GatewayUnauthorized):
            instance_record_state(company=company, instance=instance, state=InstanceState.UNREACHABLE,
                                  source=poll, reason=exc.message)
        else:
            logger.warning("polling %s: %r", instance.gateway_name, exc)
        return
    state = GATEWAY_STATES.get(observed, InstanceState.CLOSE)
    fields: dict = {"raw_state": observed}
    if info is not None:
        fields.update(_owner_fields(info.owner_jid, info.profile_name, info.profile_picture_url))
    if state == InstanceState.CONNECTING and connect_expired(instance):
        instance_expire_qr(company=company, instance=instance, source=poll)
    elif instance.state == InstanceState.CREATED and state == InstanceState.CLOSE:
        instance_record_state(company=company, instance=instance, state=InstanceState.CREATED, source=poll, **fields)
    else:
        if state != InstanceState.CONNECTING:
            fields.update(_CLEARED_QR)
        reason = Reason.RECOVERED if instance.state == InstanceState.UNREACHABLE else Reason.GATEWAY_SAID
        instance_record_state(company=company, instance=instance, state=state, source=poll, reason=reason, **fields)


def _owner_fields(owner_jid: str | None, profile_name: str | None, picture: str | None) -> dict:
    from instances.gateways.base import jid_digits

    fields: dict = {}
    if owner_jid:
        fields.update(owner_jid=owner_jid[:80], phone_number=(jid_digits(owner_jid) or "")[:20])
    if profile_name:
        fields["profile_name"] = profile_name[:120]
    if picture:
        fields["profile_picture_url"] = picture[:1000]
    return fields


def due_for_poll_filter(now: datetime) -> Q:
    """Instances due a poll: every 5 s while connecting, every 60 s otherwise; never while leased."""
    connecting_due = Q(state=InstanceState.CONNECTING) & (
        Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - timedelta(seconds=5))
    )
    others_due = ~Q(state=InstanceState.CONNECTING) & (
        Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - timedelta(seconds=60))
    )
    lease_free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lte=now)
    return (connecting_due | others_due) & lease_free


def instance_connect_start(*, company: Company, instance: Instance, number: str | None = None) -> Instance:
    """The page's connect: show "generating the QR…" at once; a task asks the gateway and pushes the QR live.
    A number that is not one is refused first (PhoneNumberInvalid), leaving the connection as it was."""
    from instances.tasks import connect_instance as connect_instance_task

    number = pairing_number(number)
    if instance.state == InstanceState.OPEN:
        return instance
    instance = instance_record_state(
        company=company, instance=instance, state=InstanceState.CONNECTING, source=InstanceStateChange.Source.USER,
        reason=Reason.CONNECT_REQUESTED, **{**_CLEARED_QR, "connect_deadline": timezone.now() + qr_timeout()},
    )
    args = [company.pk, instance.pk, number or ""]
    transaction.on_commit(lambda: connect_instance_task.delay(*args))
    return instance


def instance_connect_in_background(*, company: Company, instance: Instance, number: str = "") -> Instance:
    """Task body of the page's connect: the gateway's refusal or silence is recorded where the page shows it."""
    try:
        return instance_connect(company=company, instance=instance, number=number or None)
    except GatewayUnavailable as exc:
        return instance_record_state(company=company, instance=instance, state=InstanceState.UNREACHABLE,
                                     source=InstanceStateChange.Source.SYSTEM, reason=exc.message, **_CLEARED_QR)
    except (GatewayRejected, InstanceNameInvalid) as exc:
        return instance_record_state(company=company, instance=instance, state=InstanceState.CLOSE,
                                     source=InstanceStateChange.Source.SYSTEM, reason=exc.message, **_CLEARED_QR)


# --- inbound gateway events -------------------------------------------------------------------------

LIFECYCLE_EVENTS = (QrUpdated, ConnectionUpdate, LogoutInstance, InstanceRemoved)
MESSAGE_EVENTS = (MessageReceived, MessageStatusUpdate, MessageDeleted, MessageEdited)


class InboundBodyUnstorable(Exception):
    """The body is JSON Python reads but the database cannot store (a NUL character, NaN)."""


def inbound_event_store(*, body: bytes, payload: dict, event_name: str, secret_hash: str | None = None,
                        instance_id: int | None = None) -> int | None:
    """Store a webhook body once for the instance its secret's hash (or its id) names, in one statement, and
    wake the drain after commit. Returns the instance's company id, or None when nothing was stored: a repeat
    (same SHA-256 of the body), or no such instance. The company comes from the instance row in that same
    statement, never from the payload; one round trip, as cheap as a bare INSERT (this is every gateway event).
    """
    from instances.inbound import inbound_wake  # the drain's module imports this one

    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = json.dumps(payload)  # UTF-16/32 JSON, which json.loads accepts and the database does not
    by = ("webhook_secret_hash", secret_hash) if instance_id is None else ("id", instance_id)
    cast = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    event, instances = InboundEvent._meta.db_table, Instance._meta.db_table
    # Every name put into the text is ours (tables, a column, a cast); the values go as parameters.
    partition = inbound_partition_sql()
    sql = (
        f"INSERT INTO {event} (company_id, instance_id, key, event, payload, status, note, attempts, received_at) "  # noqa: S608
        f"SELECT company_id, id, %s, %s, {cast}, %s, '', 0, %s FROM {instances} WHERE {by[0]} = %s "
        f"ON CONFLICT (instance_id, key) DO NOTHING RETURNING company_id, {partition or 'NULL'}")
    params = [hashlib.sha256(body).hexdigest(), event_name[:40], text, InboundEvent.Status.PENDING, timezone.now(),
              by[1]]
    # Autocommit: the statement is its own transaction (no BEGIN and COMMIT round trips); inside a caller's
    # transaction, a savepoint keeps a refused body from breaking it.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with guard, connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is not None:
                company_id, chat_partition = row
                transaction.on_commit(lambda: inbound_wake(company_id, chat_partition))
    except DataError as exc:
        raise InboundBodyUnstorable(str(exc).splitlines()[0]) from exc
    except IntegrityError:  # the instance was deleted while this was stored (the insert's row check failed)
        return None
    return row[0] if row else None


# The chat a stored body is about, as PostgreSQL reads it (messages: data.key.remoteJid; status updates:
# data.remoteJid; v1 sends lists of either); '' for an instance's own events (connection, QR code).
_CHAT_OF_PAYLOAD = ("coalesce(payload #>> '{data,key,remoteJid}', payload #>> '{data,remoteJid}', "
                    "payload #>> '{data,0,key,remoteJid}', payload #>> '{data,0,remoteJid}', '')")


def inbound_partition_sql() -> str | None:
    """The drain partition of a stored event, in SQL over its `payload` column: its chat hashed over
    INBOUND_DRAIN_SLOTS (an instance's own events: partition 0). Drain slot k applies partition k alone, so
    one chat's events are applied by one drain in arrival order, and two drains never wait on each other's
    conversation locks (nor deadlock taking two of them in opposite orders). None where the database has no
    hashtext() (SQLite in development): there every drain takes any event."""
    if connection.vendor != "postgresql":
        return None
    slots = int(settings.INBOUND_DRAIN_SLOTS)  # an int from the settings: safe to write into the SQL
    return f"coalesce(mod(abs(hashtext(nullif({_CHAT_OF_PAYLOAD}, ''))::bigint), {slots}), 0)"


def _pending_events(company: Company, partition: int | None = None):
    pending = InboundEvent.objects.filter(company=company, status=InboundEvent.Status.PENDING,
                                          processed_at__isnull=True)
    expression = inbound_partition_sql() if partition is not None else None
    if expression is None:
        return pending
    return pending.alias(drain_partition=RawSQL(expression, ())).filter(drain_partition=partition)  # noqa: S611 (our SQL text; no input in it)


def inbound_event_process(*, company: Company, event_id: int) -> str:
    """Apply one stored event by id, once: lifecycle events move the instance, message events go to messaging."""
    with transaction.atomic():
        row = _claim(_pending_events(company).filter(pk=event_id).select_for_update(of=("self",)))
        if row is None:
            return "skipped"
        return _apply_stored(company, *row, instances={})


class InboundEventFailed(Exception):
    """Applying a claimed event raised; its attempt was counted (see inbound_event_record_failure)."""

    def __init__(self, event_id: int, status: str) -> None:
        super().__init__(f"inbound event {event_id} failed ({status})")
        self.event_id, self.status = event_id, status


def inbound_event_claim_next(*, company: Company, exclude: Iterable[int] = (),
                             instances: dict[int, Instance] | None = None,
                             partition: int | None = None) -> tuple[int, str] | None:
    """Apply the company's oldest pending event that no other drain holds; (its id, outcome), or None when
    there is none. Each event gets its own transaction, so its pushes go out as soon as it is applied.
    `instances` keeps the instances loaded by earlier calls of the same drain run (a few seconds), so each
    event does not load its instance and server again. `partition`: only events of that drain partition
    (inbound_partition_sql). Raises InboundEventFailed when applying it raised (rolled back, attempt counted)."""
    claimed: int | None = None
    try:
        with realtime.coalesced(), transaction.atomic():
            pending = _pending_events(company, partition).exclude(pk__in=list(exclude)).order_by("pk")
            row = _claim(pending.select_for_update(of=("self",), skip_locked=True))
            if row is None:
                return None
            claimed = row[0]
            return claimed, _apply_stored(company, *row, instances={} if instances is None else instances)
    except Exception as exc:
        if claimed is None:
            raise
        logger.exception("inbound event %s of company %s could not be applied", claimed, company.pk)
        raise InboundEventFailed(claimed, inbound_event_record_failure(company=company, event_id=claimed,
                                                                       error=exc)) from exc


def pending_inbound_exists(*, company: Company, exclude: Iterable[int] = (), partition: int | None = None) -> bool:
    return _pending_events(company, partition).exclude(pk__in=list(exclude)).exists()


def _claim(events) -> tuple[int, int, str, dict] | None:
    """The locked event's id, instance id, event name and payload: a plain row, cheap to build and read."""
    return first_row(events.values_list("pk", "instance_id", "event", "payload"))


def _instance_for_processing(company: Company, instance_id: int, instances: dict[int, Instance]) -> Instance:
    if instance_id not in instances:
        # Secrets no message event uses: not decrypted for every event (read on access when needed).
        instances[instance_id] = first_row(Instance.objects.filter(company=company, pk=instance_id)
                                           .select_related("server").defer("token", "server__api_key",
                                                                           "server__hook_secret"))
    return instances[instance_id]


def _apply_stored(company: Company, event_id: int, instance_id: int, event_name: str, payload: dict, *,
                  instances: dict[int, Instance]) -> str:
    status, note = _apply_payload(company, instance_id, event_name, payload, instances=instances)
    _record_outcomes(company, {(status, note): [event_id]})
    return status


def _apply_payload(company: Company, instance_id: int, event_name: str, payload: dict, *,
                   instances: dict[int, Instance]) -> tuple[str, str]:
    """Apply a stored body in the caller's transaction: its status and note (the event's row is not written)."""
    instance = _instance_for_processing(company, instance_id, instances)
    outcomes = [
        _apply_event(company, instance, parsed, _event_time(payload))
        for parsed in parse_event(payload, instance.server.version, path_suffix=event_name)
    ]
    status = InboundEvent.Status.PROCESSED if "processed" in outcomes else InboundEvent.Status.IGNORED
    note = "; ".join(outcome for outcome in outcomes if outcome not in ("processed", "ignored"))[:200]
    return status, note


def _record_outcomes(company: Company, outcomes: dict[tuple[str, str], list[int]]) -> None:
    """Mark applied events done: one UPDATE per (status, note), usually one for a whole batch."""
    now = timezone.now()
    for (status, note), event_ids in outcomes.items():
        InboundEvent.objects.filter(company=company, pk__in=event_ids).update(status=status, note=note,
                                                                               processed_at=now)


# What a batch's claim marks its events (the usual outcome); events that end otherwise are marked again.
_CLAIMED_AS = (InboundEvent.Status.PROCESSED, "")


_claim_selections: dict[tuple[int, str | None], Prepared] = {}


def _claim_selection(limit: int, partitioned: bool) -> Prepared:
    """The ids a claim of `limit` events takes, locked (`SKIP LOCKED`), as a prepared query of that shape (the
    partition's expression is part of it: it names INBOUND_DRAIN_SLOTS)."""
    shape = (limit, inbound_partition_sql() if partitioned else None)
    if shape not in _claim_selections:
        def build(p):
            pending = _pending_events(Company(pk=current_company().pk), p.partition if partitioned else None)
            return (pending.order_by("pk").select_for_update(of=("self",), skip_locked=True)
                    .values_list("pk")[:limit])

        _claim_selections[shape] = Prepared(build, **({"partition": int} if partitioned else {}))
    return _claim_selections[shape]


def _claim_marked(company: Company, *, limit: int, exclude: Iterable[int], partition: int | None) -> list[tuple]:
    """Lock up to `limit` of the oldest pending events no other drain holds and mark them processed: (id,
    instance id, event name, payload) of each, oldest first. The caller's transaction applies them: rolled
    back, they are pending again; one that ends ignored or with a note is marked again (`_record_outcomes`),
    usually none of a batch. On PostgreSQL one statement: an UPDATE of the `SKIP LOCKED` selection, taken as
    an array so the selection runs once (as `id IN (…)`, the planner may run a LIMIT … SKIP LOCKED subquery
    again for each row and mark more than `limit`)."""
    def selection():  # built only off the usual path: building it cost a claim about 1 ms of the ORM's CPU
        return (_pending_events(company, partition).exclude(pk__in=list(exclude)).order_by("pk")
                .select_for_update(of=("self",), skip_locked=True))

    status, note = _CLAIMED_AS
    now = timezone.now()
    if connection.vendor != "postgresql":
        rows = list(selection().values_list("pk", "instance_id", "event", "payload")[:limit])
        _record_outcomes(company, {_CLAIMED_AS: [row[0] for row in rows]} if rows else {})
        return rows
    if exclude:
        chosen, params = selection().values_list("pk")[:limit].query.get_compiler(connection.alias).as_sql()
    else:  # the usual claim: its SQL built once per shape (tenants/prepared.py)
        chosen, params = _claim_selection(limit, partition is not None).sql_with_params(
            **({} if partition is None else {"partition": partition}))
    # The table's name and the ORM's own SQL of the selection; every value goes as a parameter.
    sql = (f"UPDATE {InboundEvent._meta.db_table} SET status = %s, note = %s, processed_at = %s "  # noqa: S608
           f"WHERE id = ANY(ARRAY({chosen})) RETURNING id, instance_id, event, payload")
    with connection.cursor() as cursor:
        cursor.execute(sql, [status, note, now, *params])
        rows = cursor.fetchall()
    return sorted((pk, instance_id, event, json.loads(payload) if isinstance(payload, str | bytes) else payload)
                  for pk, instance_id, event, payload in rows)


# A batch holds each conversation it touched until it commits, taken in its events' order, while a bulk send
# locks its conversations in id order: the two could deadlock, and PostgreSQL would break it after
# deadlock_timeout (1 s by default) by rolling one back, maybe the integrator's request. Waiting for any lock
# longer than this, a batch gives up first: rolled back, its events are applied one per transaction (each
# holding one conversation, so no cycle), and the other transaction goes on at once.
INBOUND_BATCH_LOCK_TIMEOUT = "200ms"


def _yield_locks_before_deadlock() -> None:
    """Bound, for the rest of this transaction, how long it waits for a lock (INBOUND_BATCH_LOCK_TIMEOUT)."""
    if connection.vendor == "postgresql":  # SQLite has no row locks: one writer at a time
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [INBOUND_BATCH_LOCK_TIMEOUT])


class InboundBatchFailed(Exception):
    """Applying one event of a batch raised; the whole batch was rolled back (nothing of it was applied)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"a batch of {size} inbound events was rolled back")
        self.size = size


def inbound_events_claim_batch(*, company: Company, limit: int, exclude: Iterable[int] = (),
                               instances: dict[int, Instance] | None = None, partition: int | None = None) -> int:
    """Apply up to `limit` of the company's oldest pending events that no other drain holds, in one transaction;
    how many (0 when none is pending). A drain that keeps up finds one or two events at a time, so this costs
    nothing in latency; one that fell behind takes bigger batches, and the transaction, the claim (which marks
    them processed, `_claim_marked`), the webhook endpoints' read and every inbox's frame (`realtime.coalesced`)
    are paid once per batch instead of once per event. Raises InboundBatchFailed when one of them raised, or
    when the batch waited too long for a lock (a request holding conversations it needs may be waiting for
    its own: INBOUND_BATCH_LOCK_TIMEOUT): everything was rolled back, and the caller applies those events one
    per transaction (`inbound_event_claim_next`), so the one that fails is counted alone and the others are
    applied.
    `partition`: only events of that drain partition."""
    instances = {} if instances is None else instances
    size = 0  # the events the transaction held when it failed
    try:
        with realtime.coalesced(), transaction.atomic():
            # Marking the claimed events is part of the claim: when that raises (a trigger, a constraint), which
            # event refused is unknown, so a batch's worth goes one by one, as after a failed apply.
            size = limit
            _yield_locks_before_deadlock()
            rows = _claim_marked(company, limit=limit, exclude=exclude, partition=partition)
            size = len(rows)
            outcomes: dict[tuple[str, str], list[int]] = {}
            with integration_services.webhook_endpoints_read_once(company=company):
                for event_id, instance_id, event_name, payload in rows:
                    outcome = _apply_payload(company, instance_id, event_name, payload, instances=instances)
                    if outcome != _CLAIMED_AS:
                        outcomes.setdefault(outcome, []).append(event_id)
            _record_outcomes(company, outcomes)
    except Exception as exc:
        if not size:
            raise
        instances.clear()  # an instance the failed batch moved was rolled back with it
        logger.warning("a batch of %s inbound events of company %s was rolled back: %s", size, company.pk, exc)
        raise InboundBatchFailed(size) from exc
    return len(rows)


def inbound_event_record_failure(*, company: Company, event_id: int, error: BaseException) -> str:
    """Applying the event raised (its transaction was rolled back): count the attempt; after
    INBOUND_MAX_ATTEMPTS it is marked failed, with the error kept in its note, so it never blocks the queue."""
    note = f"{type(error).__name__}: {error}"[:200]
    attempts = F("attempts") + 1
    failed = Case(When(attempts__gte=settings.INBOUND_MAX_ATTEMPTS - 1, then=Value(InboundEvent.Status.FAILED)),
                  default=F("status"))
    _pending_events(company).filter(pk=event_id).update(attempts=attempts, note=note, status=failed)
    row = InboundEvent.objects.filter(company=company, pk=event_id).values_list("status", flat=True)
    return first_row(row) or "skipped"


def _event_time(payload: dict) -> datetime | None:
    """The gateway's `date_time` (its own clock, comparable only with itself)."""
    try:
        moment = datetime.fromisoformat(str(payload.get("date_time") or ""))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Bodies per short transaction, transactions per call (the task chains another call when it hit the bound).
INBOUND_PURGE_BATCH = 1000
INBOUND_PURGE_MAX_BATCHES = 20
INBOUND_FINISHED = (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED)


def inbound_event_retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.INBOUND_EVENT_RETENTION_DAYS)


def inbound_event_purge(*, company: Company, now: datetime | None = None, batch_size: int = INBOUND_PURGE_BATCH,
                        max_batches: int = INBOUND_PURGE_MAX_BATCHES) -> tuple[int, bool]:
    """Delete the company's processed or ignored raw gateway bodies received before INBOUND_EVENT_RETENTION_DAYS
    ago; pending ones are never deleted. Returns (deleted, more): `more` when it stopped at its bound."""
    cutoff = inbound_event_retention_cutoff(now)
    deleted = 0
    for _batch in range(max_batches):
        with transaction.atomic():
            ids = list(InboundEvent.objects.filter(company=company, status__in=INBOUND_FINISHED,
                                                   received_at__lt=cutoff)
                       .order_by("received_at", "pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted, False
            # The status is checked again by the DELETE itself.
            deleted += InboundEvent.objects.filter(company=company, pk__in=ids, status__in=INBOUND_FINISHED).delete()[0]
        if len(ids) < batch_size:
            return deleted, False
    return deleted, True


def _apply_event(company: Company, instance: Instance, event: GatewayEvent, at: datetime | None) -> str:
    if isinstance(event, MESSAGE_EVENTS):
        from messaging.inbound import message_event_apply  # messaging builds on instances: import at call time

        return message_event_apply(company=company, instance=instance, event=event)
    if not isinstance(event, LIFECYCLE_EVENTS):
        return "ignored"
    instance.refresh_from_db()
    if at is not None and instance.last_event_at is not None and at < instance.last_event_at:
        return "ignored"  # an older fact delivered late: the newer one already applied
    webhook = InstanceStateChange.Source.WEBHOOK
    stamp = {"last_event_at": at} if at else {}
    if isinstance(event, QrUpdated):
        return _apply_qr(company, instance, event, stamp)
    if isinstance(event, ConnectionUpdate):
        state = GATEWAY_STATES.get(event.state, InstanceState.CLOSE)
        fields = {**stamp, "raw_state": event.state}
        if state == InstanceState.OPEN:
            fields.update(_CLEARED_QR, **_owner_fields(event.owner_jid, event.profile_name, event.profile_picture_url))
            reason = Reason.GATEWAY_SAID
        elif state == InstanceState.CLOSE:
            fields.update(_CLEARED_QR)
            reason = Reason.LOGGED_OUT if event.logged_out else Reason.CONNECTION_CLOSED
        else:
            reason = Reason.GATEWAY_SAID
        instance_record_state(company=company, instance=instance, state=state, source=webhook, reason=reason, **fields)
        return "processed"
    reason = Reason.LOGGED_OUT if isinstance(event, LogoutInstance) else Reason.REMOVED_ON_GATEWAY
    instance_record_state(company=company, instance=instance, state=InstanceState.CLOSE, source=webhook,
                          reason=reason, raw_state="close", **stamp, **_CLEARED_QR)
    return "processed"


def _apply_qr(company: Company, instance: Instance, event: QrUpdated, stamp: dict) -> str:
    webhook = InstanceStateChange.Source.WEBHOOK
    if event.limit_reached:
        instance_record_state(company=company, instance=instance, state=InstanceState.CLOSE, source=webhook,
                              reason=Reason.QR_LIMIT, **stamp, **_CLEARED_QR)
        return "processed"
    if instance.state not in (InstanceState.CONNECTING, InstanceState.UNREACHABLE):
        return "ignored"  # no connect attempt of ours is running (expired, cancelled or already open)
    if connect_expired(instance):
        instance_expire_qr(company=company, instance=instance, source=webhook)
        return "processed"
    if event.qr_code and event.qr_code == instance.qr_code and event.pairing_code in (None, "", instance.pairing_code):
        return "ignored"  # the QR our connect call returned, posted by the gateway too: nothing new to show or tell
    instance_record_state(
        company=company, instance=instance, state=InstanceState.CONNECTING, source=webhook,
        reason=Reason.CONNECT_REQUESTED, **stamp,
        qr_data_url=event.qr_data_url or "", qr_code=event.qr_code or "", pairing_code=event.pairing_code or "",
        qr_count=instance.qr_count + 1, qr_updated_at=timezone.now(),
        connect_deadline=instance.connect_deadline or timezone.now() + qr_timeout(),
    )
    return "processed"


# --- gateway servers (operator) -----------------------------------------------------------------------


def gateway_server_create(
    *, name: str, base_url: str, version: str, api_key: str, capacity: int, enabled: bool = True
) -> GatewayServer:
    secret = secrets.token_urlsafe(32)
    return GatewayServer.objects.create(
        name=name, base_url=base_url.rstrip("/"), version=version, api_key=api_key, capacity=capacity,
        enabled=enabled, hook_secret=secret, hook_secret_hash=hash_secret(secret),
    )


def gateway_server_update(
    *, server: GatewayServer, name: str, base_url: str, version: str, capacity: int, enabled: bool,
    api_key: str = "",
) -> GatewayServer:
    """Edit a server; an empty key keeps the stored one (it is never shown back)."""
    server.name, server.base_url, server.version = name, base_url.rstrip("/"), version
    server.capacity, server.enabled = capacity, enabled
    if api_key:
        server.api_key = api_key
    server.save()
    return server


def gateway_server_set_enabled(*, server: GatewayServer, enabled: bool) -> GatewayServer:
    GatewayServer.objects.filter(pk=server.pk).update(enabled=enabled)
    server.refresh_from_db()
    return server


def gateway_server_check(*, server: GatewayServer) -> GatewayServer:
    """Ask the server who it is and whether our key works; store the answer for the operator page."""
    try:
        with gateway(server, timeout=INTERACTIVE_TIMEOUT) as gw:
            info = gw.server_info()
            with suppress(InstanceNotFound):  # the key was accepted; the made-up instance does not exist
                gw.fetch_instances("recado-connection-check")
        # Only the server's own words are stored; the page says "Connected" in each reader's language.
        ok, message = True, f"{info.client_name or 'Evolution API'} {info.version or '?'}"
    except GatewayError as exc:
        ok, message = False, f"{type(exc).__name__}: {exc.message}"
    GatewayServer.objects.filter(pk=server.pk).update(
        last_check_at=timezone.now(), last_check_ok=ok, last_check_message=message[:300])
    server.refresh_from_db()
    return server


def gateway_server_hook_url(server: GatewayServer) -> str:
    return f"{settings.PUBLIC_URL}/hooks/evolution/server/{server.hook_secret}/"
