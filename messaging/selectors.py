"""Reads of conversations and messages that the pages and the API share, always inside one company (rule 8)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from contacts.models import Contact, ContactTag
from instances.models import Instance
from messaging.models import Conversation, Message, QuickReply
from tenants.models import Company, Membership, User
from tenants.scoping import first_row

PAGE_SIZE = 30
# A phone number as people write it: digits with spaces, brackets, dots or dashes, maybe a leading "+".
PHONE_WRITTEN = re.compile(r"\+?[\d\s().-]+")
# A search term matching at most this many messages (or contacts) is looked up through the trigram indexes
# first and the list is read by those ids; a more common one is checked row by row down the newest-first list,
# where matches are dense enough to fill a page quickly (see _search_condition).
SEARCH_ID_LIMIT = 2000
# pg_trgm cannot use its index for terms shorter than a trigram: those are checked row by row (and every term
# on SQLite, which has no trigram indexes).
SEARCH_MIN_INDEXED_LENGTH = 3
# A term with more than SEARCH_ID_LIMIT matching messages is checked row by row only when at least
# SEARCH_HEAD_HITS of the tab's newest SEARCH_HEAD conversations match it (a page is then found quickly);
# otherwise its matches are rare in this tab, and collecting them all is faster than walking the whole tab.
SEARCH_HEAD = 300
SEARCH_HEAD_HITS = 10


def _uuid(value: object) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ConversationFilters:
    status: str = ""          # open | pending | closed | "" (any)
    assignee: str = ""        # mine | unassigned | <user public id> | "" (all)
    instance: str = ""        # instance public id
    tag: str = ""             # tag public id
    search: str = ""


def conversation_list(*, company: Company, filters: ConversationFilters | None = None,
                      user: User | None = None) -> QuerySet[Conversation]:
    """The inbox: newest activity first; ignored contacts never show (their messages are stored, silently)."""
    filters = filters or ConversationFilters()
    conversations = (
        Conversation.objects.filter(company=company, contact__is_ignored=False)
        .select_related("contact", "instance", "assignee")
    )
    if filters.status in Conversation.Status.values:
        conversations = conversations.filter(status=filters.status)
    if filters.assignee == "mine" and user is not None:
        conversations = conversations.filter(assignee=user)
    elif filters.assignee == "unassigned":
        conversations = conversations.filter(assignee__isnull=True)
    elif (assignee := _uuid(filters.assignee)) is not None:
        conversations = conversations.filter(assignee__public_id=assignee)
    if (instance := _uuid(filters.instance)) is not None:
        conversations = conversations.filter(instance__public_id=instance)
    if (tag := _uuid(filters.tag)) is not None:
        conversations = conversations.filter(Exists(ContactTag.objects.filter(
            company=company, contact=OuterRef("contact"), tag__public_id=tag)))
    if text := filters.search.strip():
        conversations = conversations.filter(_search_condition(company, text, conversations))
    return conversations.order_by("-last_message_at", "-id")


def _search_condition(company: Company, text: str, tab: QuerySet[Conversation]) -> Q:
    """Conversations whose contact (name, custom name, number) or any message text contains `text`.

    Which SQL is fast depends on how common the term is, and no single query shape is fast both ways on a
    large inbox: a rare term must be found through the trigram indexes (migration messaging 0002) and the
    list read by those ids, because walking the newest-first list row by row would visit every conversation
    of the tab before knowing there are few or none; a common term must be checked row by row down that list,
    because collecting all its matches first would read a large part of the messages table. So one query asks
    the indexes for up to SEARCH_ID_LIMIT matching messages and contacts; a side with fewer matches becomes a
    list of ids, a side with more becomes a per-row condition (its matches are then dense in the list).

    Common overall is not common in the tab being searched (`tab`: the list's filters without the search): a
    term found in thousands of closed conversations and in no open one would be checked row by row down the
    whole open tab. So, only when the message side is common, the same query also checks the tab's newest
    SEARCH_HEAD conversations row by row; when fewer than SEARCH_HEAD_HITS of them match (and the tab is
    longer than that), the term's messages are collected and the tab read by them instead (`_collected`).
    """
    number = _number_of(text)
    # Names and texts are compared without accents or letter case (tenants/folding.py): "paes" finds "Pães".
    contact_matches = Q(name__fold__contains=text) | Q(custom_name__fold__contains=text)
    per_row_contact = Q(contact__name__fold__contains=text) | Q(contact__custom_name__fold__contains=text)
    if number:
        contact_matches |= Q(identifier__contains=number)
        per_row_contact |= Q(contact__identifier__contains=number)
    # A deleted message's text is kept but shown to nobody: it finds nothing.
    matching_messages = Message.objects.filter(company=company, text__fold__contains=text, is_deleted=False)
    per_row_message = Exists(matching_messages.filter(conversation=OuterRef("pk")))
    if len(text) < SEARCH_MIN_INDEXED_LENGTH or connection.vendor != "postgresql":
        return per_row_contact | per_row_message
    limit = SEARCH_ID_LIMIT + 1
    message_side = matching_messages.order_by().values_list("conversation_id")[:limit]
    contact_side = Contact.objects.filter(contact_matches, company=company).order_by().values_list("id")[:limit]
    head = Conversation.objects.filter(pk__in=tab.order_by("-last_message_at", "-id").values("pk")[:SEARCH_HEAD])
    head_hits = head.annotate(hit=per_row_message).values("hit")
    conversation_ids, contact_ids, head_size, head_matches = [], [], 0, 0
    for side, value in _lookup(message_side, contact_side, head_hits):
        if side == "m":
            conversation_ids.append(value)
        elif side == "c":
            contact_ids.append(value)
        else:
            head_size, head_matches = head_size + 1, head_matches + value
    if len(conversation_ids) < limit:
        by_message = Q(pk__in=set(conversation_ids))
    elif head_size < SEARCH_HEAD or head_matches >= SEARCH_HEAD_HITS:
        by_message = per_row_message
    else:
        by_message = _collected(matching_messages, tab)
    by_contact = per_row_contact if len(contact_ids) >= limit else Q(contact_id__in=contact_ids)
    return by_contact | by_message


def _number_of(text: str) -> str:
    """The digits a number is stored with when `text` is written as one ("+55 (11) 98888-7777"); otherwise the
    text itself, without a leading "+", as identifiers that are not phone numbers (groups) are stored."""
    if PHONE_WRITTEN.fullmatch(text) and (digits := re.sub(r"\D", "", text)):
        return digits
    return text.lstrip("+")


def _lookup(message_side: QuerySet, contact_side: QuerySet, head_hits: QuerySet) -> list[tuple[str, int]]:
    """One query: ("m", conversation id) per matching message and ("c", contact id) per matching contact, up to
    SEARCH_ID_LIMIT + 1 each; when the messages reached that, ("h", 0 or 1) per conversation of the tab's
    head, 1 when it matches (PostgreSQL skips that part, a one-time filter, when they did not)."""
    (m_sql, m_params), (c_sql, c_params), (h_sql, h_params) = (
        query.query.sql_with_params() for query in (message_side, contact_side, head_hits))
    # The ORM's own SQL of each part, every value a parameter; only the frame is written here.
    sql = (f"WITH m AS MATERIALIZED ({m_sql}) SELECT 'm', m.* FROM m "  # noqa: S608
           f"UNION ALL SELECT 'c', c.* FROM ({c_sql}) c "
           f"UNION ALL SELECT 'h', h.hit::int FROM ({h_sql}) h WHERE (SELECT count(*) FROM m) > %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*m_params, *c_params, *h_params, SEARCH_ID_LIMIT])
        return cursor.fetchall()


def _collected(matching_messages: QuerySet[Message], tab: QuerySet[Conversation]) -> Q:
    """The tab's conversations with a matching message, collected first: the term's messages read from the
    trigram index once and joined with the tab's ids, the list then read by that (short) array."""
    in_tab = matching_messages.filter(conversation__in=tab.order_by().values("pk"))
    subquery, params = in_tab.order_by().values("conversation_id").query.sql_with_params()
    return Q(pk__in=RawSQL(f"SELECT unnest(ARRAY({subquery}))", params))  # noqa: S611 (the ORM's SQL)


def conversation_get(*, company: Company, public_id: object) -> Conversation | None:
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    # A unique key: no ORDER BY to compile (first_row), though the model orders by activity.
    return first_row(Conversation.objects.filter(company=company, public_id=uuid)
                     .select_related("contact", "instance", "assignee"))


def conversation_exists(company: Company, public_id: UUID) -> bool:
    """Realtime topic resolver: may a member of `company` subscribe to this conversation?"""
    return Conversation.objects.filter(company=company, public_id=public_id).exists()


def conversation_for_contact(*, company: Company, contact_id: int) -> Conversation | None:
    return Conversation.objects.filter(company=company, contact_id=contact_id).first()


def contact_panel_context(*, company: Company, conversation: Conversation) -> dict:
    """What the contact panel draws: the contact's tags, the company's, and the bot platform that answers the
    contact now (None when none routes it: no platform, or its callback is turned off), so the panel never
    claims a bot answers, nor offers to pause one, where no bot would answer."""
    from contacts import selectors as contact_selectors
    from integrations import bots

    contact = conversation.contact
    platform = bots.platform_for(company=company, contact=contact)
    return {"company": company, "conversation": conversation, "contact_tags": list(contact.tags.all()),
            "all_tags": contact_selectors.tag_choices(company=company),
            "bot_platform": platform if platform is not None and platform.endpoint.is_active else None}


def reactions_for_render(*, company: Company) -> QuerySet[Message]:
    """The reactions a bubble shows (prefetched as `reactions`), oldest first."""
    return (Message.objects.filter(company=company, kind=Message.Kind.REACTION, is_deleted=False)
            .exclude(emoji="").order_by("pk"))


def _with_reactions(company: Company, messages: QuerySet[Message]) -> QuerySet[Message]:
    reactions = reactions_for_render(company=company)
    return messages.select_related("quoted").prefetch_related(Prefetch("reactions", queryset=reactions))


def message_list(*, company: Company, conversation: Conversation) -> QuerySet[Message]:
    """A thread, newest first: reactions are shown on their target, unless the target never arrived."""
    messages = Message.objects.filter(company=company, conversation=conversation).filter(
        ~Q(kind=Message.Kind.REACTION) | Q(reaction_target__isnull=True, is_deleted=False)
    )
    return _with_reactions(company, messages).order_by("-created_at", "-id")


def message_get(*, company: Company, public_id: object) -> Message | None:
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    messages = Message.objects.filter(company=company, public_id=uuid).select_related("conversation__contact",
                                                                                       "instance")
    return _with_reactions(company, messages).first()


def message_for_render(*, company: Company, message_id: int) -> Message | None:
    """One message with what its partial shows (quote, reactions)."""
    messages = Message.objects.filter(company=company, pk=message_id).select_related("conversation")
    return first_row(_with_reactions(company, messages))


def member_list(*, company: Company) -> QuerySet[Membership]:
    return Membership.objects.filter(company=company).select_related("user").order_by("user__first_name", "user__email")


def member_user_get(*, company: Company, public_id: object) -> User | None:
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    membership = Membership.objects.filter(company=company, user__public_id=uuid).select_related("user").first()
    return membership.user if membership else None


# --- keyset pages (no OFFSET, no COUNT: fast at any depth) -------------------------------------------

def encode_cursor(moment: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.rsplit("|", 1)
        return datetime.fromisoformat(moment), int(pk)
    except (ValueError, UnicodeDecodeError):
        return None


def keyset_page(queryset: QuerySet, *, field: str, cursor: str = "", size: int = PAGE_SIZE) -> tuple[list, str]:
    """One page of a queryset ordered by (-field, -id), after `cursor`; returns the rows and the next cursor."""
    position = decode_cursor(cursor) if cursor else None
    if position is not None:
        moment, pk = position
        # The `<=` is implied by the OR, but only it bounds the index scan: without it PostgreSQL walks the
        # index from the newest row down to the cursor, which grows with the depth (tens of ms 40k rows deep).
        queryset = queryset.filter(Q(**{f"{field}__lte": moment}),
                                   Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "id__lt": pk}))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(getattr(rows[-1], field), rows[-1].pk) if more and rows else ""
    return rows, next_cursor


def quick_reply_list(*, company: Company, search: str = "") -> QuerySet[QuickReply]:
    """The company's quick replies by shortcut; `search` finds a part of the shortcut or of the text."""
    replies = QuickReply.objects.filter(company=company)
    if text := search.strip().lstrip("/"):
        replies = replies.filter(Q(shortcut__fold__contains=text) | Q(text__fold__contains=text))
    return replies.order_by("shortcut", "pk")


def quick_reply_composer_list(*, company: Company) -> list[dict[str, str]]:
    """What "/" offers in the composer: every reply's shortcut and text, by shortcut."""
    return list(quick_reply_list(company=company).values("shortcut", "text"))


def quick_reply_get(*, company: Company, public_id: object) -> QuickReply | None:
    uuid = _uuid(public_id)
    return None if uuid is None else first_row(QuickReply.objects.filter(company=company, public_id=uuid))


# --- the company at a glance (the overview page) ---------------------------------------------------------------

# "Active today" is counted up to this many conversations (then shown as "10,000+"): the count walks an index.
SUMMARY_CAP = 10_000


@dataclass(frozen=True)
class LoadRow:
    """One member's or one number's share of the conversations still to handle."""

    key: object  # the User or the Instance
    open: int
    waiting: int
    pending: int
    away: bool = False  # a member who gets no new conversations from automatic assignment


@dataclass(frozen=True)
class InboxSummary:
    open: int
    waiting: int  # open with messages nobody has read yet
    unassigned: int
    mine: int
    pending: int
    active_today: int  # conversations with a message since midnight (capped at SUMMARY_CAP)
    active_today_capped: bool
    agents: list[LoadRow]
    instances: list[LoadRow]


def inbox_summary(*, company: Company, user: User | None, now: datetime | None = None) -> InboxSummary:
    """What the team has to handle now, in four queries whatever the company's size: one GROUP BY over the open and
    pending conversations (the inbox's own indexes), a capped count of today's, the members and the numbers."""
    now = timezone.localtime(now or timezone.now())
    groups = list(
        Conversation.objects.filter(company=company, status__in=(Conversation.Status.OPEN, Conversation.Status.PENDING),
                                    contact__is_ignored=False)
        .order_by().values("status", "assignee_id", "instance_id")
        .annotate(count=Count("pk"), waiting=Count("pk", filter=Q(unread_count__gt=0)))
    )
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    active = (Conversation.objects.filter(company=company, last_message_at__gte=today, contact__is_ignored=False)
              .order_by().values("pk")[:SUMMARY_CAP].count())

    def total(**match) -> tuple[int, int]:
        rows = [row for row in groups if all(row[key] == value for key, value in match.items())]
        return sum(row["count"] for row in rows), sum(row["waiting"] for row in rows)

    def load(key, field: str, away: bool = False) -> LoadRow:
        opened, waiting = total(status=Conversation.Status.OPEN, **{field: key.pk})
        return LoadRow(key=key, open=opened, waiting=waiting, away=away,
                       pending=total(status=Conversation.Status.PENDING, **{field: key.pk})[0])

    open_count, waiting = total(status=Conversation.Status.OPEN)
    return InboxSummary(
        open=open_count, waiting=waiting,
        unassigned=total(status=Conversation.Status.OPEN, assignee_id=None)[0],
        mine=total(status=Conversation.Status.OPEN, assignee_id=user.pk)[0] if user is not None else 0,
        pending=total(status=Conversation.Status.PENDING)[0],
        active_today=active, active_today_capped=active >= SUMMARY_CAP,
        agents=[load(membership.user, "assignee_id", away=not membership.available)
                for membership in member_list(company=company)],
        instances=[load(instance, "instance_id")
                   for instance in Instance.objects.filter(company=company).order_by("name")],
    )
