"""Automatic replies of an instance: a greeting when a customer opens (or reopens) a conversation, an away message
when one writes outside the opening hours; and automatic assignment of the conversations customers open
(docs/messaging.md, "Automatic replies" and "Automatic assignment").

The rules, decided once here for the inbox, the API and the inbound pipeline:
- only a customer's own message counts: not the phone owner's, not a reaction, not a group, not an ignored contact,
  not one a bot platform takes (the bot answers), and not an old message (history sync, a replay) - only one
  written within FRESH_FOR of now;
- outside the opening hours the away message is sent instead of the greeting, at most once per conversation every
  AWAY_REPEAT_AFTER, so a customer who writes five times at night gets one;
- the reply is a text queued in the same transaction as the message that caused it, so a replayed event (stored
  once) never answers twice, and it leaves through the outbound drain like any send (throttle, retries).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from instances.models import Instance
from messaging import services
from messaging.models import AutoAssignMember, AutoReply, Conversation, Message, default_opening_hours
from tenants.models import Company, Membership, User
from tenants.prepared import Prepared, columns, model_from

FRESH_FOR = timedelta(minutes=10)
AUTO_CLOSE_MAX_HOURS = 24 * 30
# Conversations closed per instance and run of the beat task (the next run, ten minutes later, goes on).
AUTO_CLOSE_BATCH = 500
AUTO_CLOSE_ACTOR = "Recado (inactivity)"
AWAY_REPEAT_AFTER = timedelta(hours=12)
DAYS = 7
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_PLACEHOLDER = re.compile(r"\{\{\s*(contact\.name|contact\.first_name)\s*\}\}")

# Read for every customer message the inbound pipeline stores: prepared once per process (tenants/prepared.py).
_CONFIG = Prepared(lambda p: AutoReply.objects.filter(instance_id=p.instance).order_by()
                   .values_list(*columns(AutoReply))[:1], instance=int)
_RECENT_AUTOMATIC = Prepared(lambda p: Message.objects.filter(
    conversation_id=p.conversation, sender_type=Message.SenderType.AUTOMATION, created_at__gte=p.since)
    .order_by().values_list("pk")[:1], conversation=int, since=datetime)


def auto_reply_for(*, company: Company, instance: Instance) -> AutoReply:
    """The instance's automatic replies; an unsaved row with everything off when it has none yet."""
    found = AutoReply.objects.filter(company=company, instance=instance).first()
    return found if found is not None else AutoReply(company=company, instance=instance)


def assign_member_ids(*, company: Company, reply: AutoReply) -> list[UUID]:
    """The user ids of the members listed to take the instance's assigned conversations (`assign_to` listed)."""
    if reply.pk is None:
        return []
    return list(AutoAssignMember.objects.filter(company=company, auto_reply=reply)
                .order_by("membership__user__email", "pk").values_list("membership__user__public_id", flat=True))


def assign_warning(*, reply: AutoReply, listed: list) -> str | None:
    """What the admin must hear about the instance's assignment (`listed`: its assign_member_ids), or None: an
    instance for listed members whose members have all left the company assigns nobody, never everybody."""
    if reply.assign_to == AutoReply.AssignTo.LISTED and not listed:
        return _("Nobody on this number's list of members is still in the company, so its new conversations are "
                 "left unassigned. Tick the members who take them, or let every member take them.")
    return None


def away_warning(*, reply: AutoReply) -> str | None:
    """What the admin must hear about the instance's away message, or None: on with every day closed, it answers
    every message, at any hour."""
    if reply.away_enabled and not any(reply.opening_hours or default_opening_hours()):
        return _("Every day is closed, so the away message will answer every message customers write, at any hour "
                 "(once per conversation every 12 hours). Give the opening hours, or turn the away message off.")
    return None


def _assign_memberships(company: Company, user_ids: Iterable[object]) -> tuple[list[int], list[str]]:
    """(the memberships of these user ids in this company, the problems): an id that is not a member of this
    company (another company's, or nobody's) is named, never taken."""
    wanted, problems = [], []
    for value in user_ids:
        try:
            wanted.append(value if isinstance(value, UUID) else UUID(str(value)))
        except ValueError:
            problems.append(_("“%(id)s” is not a member id.") % {"id": str(value)[:40]})
    found = dict(Membership.objects.filter(company=company, user__public_id__in=wanted)
                 .values_list("user__public_id", "pk"))
    problems += [_("“%(id)s” is not a member of this company.") % {"id": user_id}
                 for user_id in dict.fromkeys(wanted) if user_id not in found]
    return list(dict.fromkeys(found[user_id] for user_id in wanted if user_id in found)), problems


def _assign_choice(company: Company, reply: AutoReply, assign_to: str | None, assign_members: Iterable[object] | None
                   ) -> tuple[list[int] | None, dict[str, list[str]]]:
    """Set `reply.assign_to` from what was given: (the membership ids to list from now on, None to keep the list;
    the problems by field). "Listed" with nobody listed is refused when it is being chosen; an instance whose
    listed members all left keeps it (and assigns nobody) until someone chooses."""
    given = None if assign_members is None else list(assign_members)
    if assign_to is not None and assign_to not in AutoReply.AssignTo.values:
        return None, {"assign_to": [_("Choose “all” (every member) or “listed” (the listed members).")]}
    mode = assign_to or (reply.assign_to if given is None else
                         AutoReply.AssignTo.LISTED if given else AutoReply.AssignTo.ALL)
    members: list[int] | None = None
    if given is not None:
        members, problems = _assign_memberships(company, given)
        if problems:
            return None, {"assign_members": problems}
    if mode == AutoReply.AssignTo.ALL:
        if members:
            return None, {"assign_members": [_("Every member takes this number's conversations: list nobody, or "
                                               "choose the listed members.")]}
        members = [] if reply.assign_to != mode or given is not None else None  # the list goes with "listed"
    else:
        stored = _listed_membership_ids(company, reply)
        stranded = reply.assign_to == AutoReply.AssignTo.LISTED and not stored  # its listed members all left
        if not (stored if members is None else members) and not stranded:
            return None, {"assign_members": [_("Choose at least one member, or let every member take this "
                                               "number's conversations.")]}
    reply.assign_to = mode
    return members, {}


def _listed_membership_ids(company: Company, reply: AutoReply) -> list[int]:
    if reply.pk is None:
        return []
    return list(AutoAssignMember.objects.filter(company=company, auto_reply=reply).values_list("membership_id",
                                                                                               flat=True))


def _set_assign_members(company: Company, reply: AutoReply, membership_ids: list[int]) -> None:
    AutoAssignMember.objects.filter(company=company, auto_reply=reply).exclude(
        membership_id__in=membership_ids).delete()
    AutoAssignMember.objects.bulk_create(
        [AutoAssignMember(company=company, auto_reply=reply, membership_id=pk) for pk in membership_ids],
        ignore_conflicts=True)


def auto_reply_update(*, company: Company, instance: Instance, greeting_enabled: bool | None = None,
                      greeting_text: str | None = None, away_enabled: bool | None = None, away_text: str | None = None,
                      time_zone: str | None = None, opening_hours: list | None = None,
                      auto_assign: bool | None = None, auto_close_hours: int | None = None,
                      assign_to: str | None = None, assign_members: Iterable[object] | None = None) -> AutoReply:
    """Change the instance's automatic replies (a value left None stays; `auto_close_hours` 0 switches closing
    off; `assign_to` "all" or "listed": who takes its conversations; `assign_members`: the user ids of the listed
    members; given without `assign_to`, a list chooses "listed" and an empty one "all", as before there was a
    mode). Every problem is a ValidationError naming its field, all of them at once, raised before anything is
    written."""
    with transaction.atomic():
        Instance.objects.select_for_update().filter(company=company, pk=instance.pk).first()  # one writer at a time
        reply, members, errors = _changed(
            company, instance, greeting_enabled=greeting_enabled, greeting_text=greeting_text,
            away_enabled=away_enabled, away_text=away_text, time_zone=time_zone, opening_hours=opening_hours,
            auto_assign=auto_assign, auto_close_hours=auto_close_hours, assign_to=assign_to,
            assign_members=assign_members)
        if errors:
            raise ValidationError(errors)
        reply.updated_at = timezone.now()
        reply.save()
        if members is not None:
            _set_assign_members(company, reply, members)
        Instance.objects.filter(company=company, pk=instance.pk).update(
            auto_replies_on=reply.greeting_enabled or reply.away_enabled or reply.auto_assign)
    return reply


def auto_reply_problems(*, company: Company, instance: Instance, **values) -> dict[str, list[str]]:
    """What auto_reply_update would refuse in these values (its keyword arguments), by field; empty when nothing.
    Writes nothing: a page whose own checks failed on some fields shows the problems of the others with them,
    instead of one after another on each save."""
    return _changed(company, instance, **values)[2]


def _changed(company: Company, instance: Instance, *, greeting_enabled: bool | None = None,
             greeting_text: str | None = None, away_enabled: bool | None = None, away_text: str | None = None,
             time_zone: str | None = None, opening_hours: list | None = None, auto_assign: bool | None = None,
             auto_close_hours: int | None = None, assign_to: str | None = None,
             assign_members: Iterable[object] | None = None
             ) -> tuple[AutoReply, list[int] | None, dict[str, list[str]]]:
    """(the instance's row with the values given set, unsaved; the membership ids to list or None to keep the
    list; every problem by field)."""
    reply = auto_reply_for(company=company, instance=instance)
    given = {"greeting_enabled": greeting_enabled, "greeting_text": greeting_text, "away_enabled": away_enabled,
             "away_text": away_text, "time_zone": time_zone, "opening_hours": opening_hours,
             "auto_assign": auto_assign}
    for name, value in given.items():
        if value is not None:
            setattr(reply, name, value)
    if auto_close_hours is not None:
        reply.auto_close_hours = auto_close_hours or None  # 0: never
    errors: dict[str, list[str]] = {}
    for field in ("greeting_text", "away_text"):
        text = (getattr(reply, field) or "").replace("\r\n", "\n").strip()
        setattr(reply, field, text)
        if problem := services.text_problem(text):
            errors[field] = [problem]
    if reply.greeting_enabled and not reply.greeting_text:
        errors.setdefault("greeting_text", [_("Write the greeting to send it.")])
    if reply.away_enabled and not reply.away_text:
        errors.setdefault("away_text", [_("Write the away message to send it.")])
    try:
        reply.time_zone = _clean_time_zone(reply.time_zone)
    except ValidationError as error:
        errors["time_zone"] = error.messages
    try:
        reply.opening_hours = opening_hours_clean(reply.opening_hours)
    except ValidationError as error:
        errors["opening_hours"] = error.messages
    if reply.auto_close_hours is not None and not 1 <= reply.auto_close_hours <= AUTO_CLOSE_MAX_HOURS:
        errors["auto_close_hours"] = [_("Give between 1 and %(max)s hours, or 0 to keep conversations open.")
                                      % {"max": AUTO_CLOSE_MAX_HOURS}]
    members, problems = _assign_choice(company, reply, assign_to, assign_members)
    errors.update(problems)
    return reply, members, errors


def _clean_time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(_("“%(zone)s” is not a time zone we know, such as America/Sao_Paulo.")
                              % {"zone": str(name)[:64]}) from None
    return name


def opening_hours_clean(hours: object) -> list:
    """Seven days, Monday first, each null (closed) or ["HH:MM", "HH:MM"]: opens, closes. A closing time before the
    opening time is on the next day (18:00 to 02:00 runs past midnight); the same time for both is refused. Every
    day's problem is named at once."""
    if not isinstance(hours, list) or len(hours) != DAYS:
        raise ValidationError(_("Give seven days, Monday first, each closed (null) or [opens, closes]."))
    cleaned, problems = [], []
    for index, day in enumerate(hours):
        if day is None:
            cleaned.append(None)
        elif (not isinstance(day, list | tuple) or len(day) != 2
                or not all(isinstance(value, str) and _HHMM.match(value) for value in day)):
            problems.append(_("Day %(day)s: write the hours as HH:MM, e.g. [\"09:00\", \"18:00\"].")
                            % {"day": index + 1})
        elif day[0] == day[1]:
            problems.append(_("Day %(day)s: the opening and the closing time are the same. For a day open "
                              "around the clock, give 00:00 to 23:59.") % {"day": index + 1})
        else:
            cleaned.append([day[0], day[1]])
    if problems:
        raise ValidationError(problems)
    return cleaned


def is_open(reply: AutoReply, moment: datetime) -> bool:
    """Whether `moment` falls in the opening hours, read in the reply's time zone. A day that closes before it
    opens runs past midnight: Friday 18:00 to 02:00 is open on Saturday until 02:00 too (the day it starts owns
    it, so Saturday's own hours need not mention that)."""
    local = moment.astimezone(zoneinfo.ZoneInfo(reply.time_zone))
    hours = reply.opening_hours or default_opening_hours()
    now = local.time().replace(second=0, microsecond=0)
    today, yesterday = hours[local.weekday()], hours[(local.weekday() - 1) % DAYS]
    if today is not None:
        opens, closes = (time.fromisoformat(value) for value in today)
        if opens <= now < closes or (closes < opens <= now):
            return True
    if yesterday is not None:
        opens, closes = (time.fromisoformat(value) for value in yesterday)
        if closes < opens and now < closes:  # yesterday's night, after midnight
            return True
    return False


def fill(text: str, contact: Contact) -> str:
    """The text with {{contact.name}} and {{contact.first_name}} filled in (left out when the name is unknown)."""
    name = (contact.custom_name or contact.name or "").strip()
    values = {"contact.name": name, "contact.first_name": name.split()[0] if name else ""}
    filled = _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
    if filled != text:  # "Olá {{contact.first_name}}, tudo bem?" with no name: "Olá, tudo bem?"
        filled = re.sub(r"[ \t]+([,.!?;:])", r"\1", re.sub(r"[ \t]{2,}", " ", filled))
    return filled.strip()


def on_customer_message(*, company: Company, instance: Instance, conversation: Conversation, contact: Contact,
                        message: Message, opened: bool, taken_by_bot: bool) -> Message | None:
    """Inbound pipeline hook (messaging/inbound.py), inside the transaction that stored a customer's `message`
    with its conversation locked: give the conversation to a member when it was just opened and assignment is on,
    then queue the greeting or the away message when one is due (returned; None when none is)."""
    if not instance.auto_replies_on or taken_by_bot or message.direction != Message.Direction.IN:
        return None
    if message.kind == Message.Kind.REACTION or message.created_at < timezone.now() - FRESH_FOR:
        return None
    row = _CONFIG.first(instance=instance.pk)
    if row is None:
        return None
    config = model_from(AutoReply, row)
    if config.auto_assign and opened:
        assign_if_due(company=company, conversation=conversation, reply=config)
    if contact.type != Contact.Type.INDIVIDUAL or not (config.greeting_enabled or config.away_enabled):
        return None
    return _reply(company=company, conversation=conversation, contact=contact, message=message, opened=opened,
                  reply=config)


def assign_if_due(*, company: Company, conversation: Conversation, reply: AutoReply) -> None:
    """Give the conversation to one of the members who take its instance's conversations (`reply.assign_to`: every
    member, or only the listed ones, nobody when none is listed any more) who is available: the one with the
    fewest open conversations, on a tie the one who got one least recently (round robin; never: first), then the
    earliest member. Unless such a member already has it (a reopened conversation stays with its person)."""
    members = Membership.objects.filter(company=company, available=True)
    if reply.assign_to != AutoReply.AssignTo.ALL:
        members = members.filter(Exists(AutoAssignMember.objects.filter(
            company=company, auto_reply__instance_id=conversation.instance_id, membership_id=OuterRef("pk"))))
    members = (members.annotate(load=Count("user__assigned_conversations", filter=Q(
                   user__assigned_conversations__company=company,
                   user__assigned_conversations__status=Conversation.Status.OPEN)))
               .order_by("load", F("auto_assigned_at").asc(nulls_first=True), "pk").values_list("user_id", flat=True))
    if conversation.assignee_id is not None and members.filter(user_id=conversation.assignee_id).exists():
        return
    _choose_one_at_a_time(company)
    chosen = members.first()
    if chosen is not None and chosen != conversation.assignee_id:
        services.conversation_assign(company=company, conversation=conversation,
                                     assignee=User.objects.get(pk=chosen))
        Membership.objects.filter(company=company, user_id=chosen).update(auto_assigned_at=timezone.now())


# The first key of the company's assignment lock (PostgreSQL's two-key advisory locks), the company's id the second:
# a number of our own, so no other use of advisory locks in this database meets it.
_ASSIGN_LOCK_SPACE = 0x52_41_53  # "RAS": Recado, assignment


def _choose_one_at_a_time(company: Company) -> None:
    """Make the company's assignments choose one after another until this transaction ends.

    The choice reads how many open conversations each member has; two drains choosing at once (two instances, two
    drain slots) would each read the counts without the other's choice and give both conversations to the same
    member. A transaction-scoped advisory lock keyed on the company is the smallest thing that orders them: one
    lock, taken only when a choice is made, that nothing but another assignment of the same company waits for,
    released at commit (when the choice becomes visible to the next, whose count query starts after it). Locking
    the candidate Membership rows instead would take as many locks, and hold up everything else that writes a
    membership (availability, roles) or a row referencing one. An inbound batch's lock_timeout bounds the wait
    like any other lock's (instances/services.py). SQLite has no such lock and needs none: its transactions
    start IMMEDIATE (config/settings.py), so writers already run one at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ASSIGN_LOCK_SPACE, _lock_key(company.pk)])


def _lock_key(company_id: int) -> int:
    """The company's id as PostgreSQL's int4 lock key (ids past 2^31 wrap: two companies sharing a key only wait
    for each other)."""
    return (company_id + 2**31) % 2**32 - 2**31


def _reply(*, company: Company, conversation: Conversation, contact: Contact, message: Message, opened: bool,
           reply: AutoReply) -> Message | None:
    now = timezone.now()
    if reply.away_enabled and not is_open(reply, message.created_at):
        if _RECENT_AUTOMATIC.first(conversation=conversation.pk, since=now - AWAY_REPEAT_AFTER) is not None:
            return None
        text = reply.away_text
    elif opened and reply.greeting_enabled:
        text = reply.greeting_text
    else:
        return None
    text = fill(text, contact)
    if not text:
        return None
    sent = services.message_build(company=company, conversation=conversation,
                                  outgoing=services.Outgoing(kind=Message.Kind.TEXT, text=text),
                                  sender_type=Message.SenderType.AUTOMATION)
    services.messages_store(company=company, messages=[sent], locked=True)
    return sent



def close_inactive(*, company: Company, now: datetime | None = None) -> int:
    """Close the company's open conversations that have had no message for their instance's `auto_close_hours`
    and have nothing unread (a customer waiting for a reply is never closed on), conversation by conversation,
    each re-checked under its lock so a message arriving meanwhile keeps it open. Returns how many were closed."""
    now = now or timezone.now()
    closed = 0
    configs = AutoReply.objects.filter(company=company, auto_close_hours__isnull=False).order_by("pk")
    for instance_id, hours in configs.values_list("instance_id", "auto_close_hours"):
        stale = Conversation.objects.filter(company=company, instance_id=instance_id, status=Conversation.Status.OPEN,
                                            unread_count=0, last_message_at__lt=now - timedelta(hours=hours))
        for pk in list(stale.order_by("last_message_at").values_list("pk", flat=True)[:AUTO_CLOSE_BATCH]):
            with transaction.atomic():
                conversation = stale.select_for_update().filter(pk=pk).select_related("contact").first()
                if conversation is None:  # a message came in, or someone closed it, since the list was read
                    continue
                services.conversation_set_status(company=company, conversation=conversation,
                                                 status=Conversation.Status.CLOSED, actor=AUTO_CLOSE_ACTOR)
                closed += 1
    return closed
