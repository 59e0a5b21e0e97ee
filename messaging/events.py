"""Live fragments of the inbox, published after commit to company topics (STYLE rules 19-21).

Broadcast fragments carry nothing user-specific: a conversation row (contact, preview, unread badge,
assignee name) and the message bubbles. Which rows a person sees (tabs, "mine", filters) is per user,
so the list itself re-fetches its first page (hx-get) when the inbox signal arrives.
"""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects
from django.utils import timezone

from messaging.models import Conversation, Message
from messaging.selectors import (
    contact_panel_context,
    member_list,
    message_for_render,
    quick_reply_composer_list,
    reactions_for_render,
)
from tenants import realtime
from tenants.models import Company
from tenants.scoping import first_row

INBOX_TOPIC = "inbox"
QUICK_REPLIES_TOPIC = "quick_replies"
CONVERSATION_TOPIC = "conversation"
PAGE = "messaging/inbox.html"


def conversation_topic(conversation: Conversation) -> str:
    return realtime.topic_for(CONVERSATION_TOPIC, conversation.public_id)


def conversation_changed(*, company: Company, conversation: Conversation, header: bool = True,
                         current: bool = False) -> None:
    """The row in every open inbox, the list's refresh signal, and (unless `header` is False) the thread header.

    A new message only moves the row (preview, time, unread badge): its callers pass header=False unless the
    status changed too, which spares the header's render, its members query and its push on every message.
    `current`: the caller holds the row locked and moved the object in hand as it moved the row, with its
    contact, instance and assignee loaded (the inbound apply), so it is drawn as it is. Otherwise the row is
    read after commit, and only when some page listens (realtime's lazy context)."""
    topic = conversation_topic(conversation)
    if current:
        if conversation.contact.is_ignored:
            return
        loaded = {"company": company, "conversation": conversation, "signal": timezone.now().timestamp()}

        def context() -> dict:
            return loaded
    else:
        context = _reading_once(company, conversation.pk)
    realtime.publish(company=company, topic=INBOX_TOPIC, context=context,
                     template_name=[f"{PAGE}#conversation-row", f"{PAGE}#inbox-signal"])
    if header:
        realtime.publish(company=company, topic=topic, template_name=f"{PAGE}#thread-header",
                         context=lambda: (None if (found := context()) is None
                                          else {**found, "members": member_list(company=company)}))


def _reading_once(company: Company, conversation_id: int):
    """A context that reads the conversation (with what the row shows) the first time it is asked for: None
    when it is gone or its contact is ignored (not in any inbox)."""
    read: list = []

    def context() -> dict | None:
        if not read:
            found = first_row(Conversation.objects.filter(company=company, pk=conversation_id)
                              .select_related("contact", "instance", "assignee"))
            read.append(None if found is None or found.contact.is_ignored else {
                "company": company, "conversation": found, "signal": timezone.now().timestamp()})
        return read[0]

    return context


def message_changed(*, company: Company, message: Message, created: bool = False) -> None:
    """A new bubble appended to the thread, or an existing one replaced (ticks, edits, deletes, reactions).

    Read after commit, as it is then, and only when some page has the thread open (most conversations are
    open nowhere: a tick of every send would otherwise cost a read of the message and its reactions)."""
    if message.kind == Message.Kind.REACTION:  # drawn on its target, which has to be read to be found
        found = message_for_render(company=company, message_id=message.pk)
        if found is not None and found.reaction_target is not None:
            message_changed(company=company, message=found.reaction_target)
            return
    template = f"{PAGE}#message-new" if created else f"{PAGE}#message"

    def context() -> dict | None:
        found = message_for_render(company=company, message_id=message.pk)
        return None if found is None else {"company": company, "message": found, "conversation": found.conversation}

    realtime.publish(company=company, topic=conversation_topic(message.conversation), template_name=template,
                     context=context)


def message_new(*, company: Company, message: Message, conversation: Conversation) -> None:
    """The bubble of a message this process has just stored, drawn from the object in hand: a new message has
    no reactions yet and its quote is loaded, so re-reading it (two statements) would only return the same.
    (An inbound message that reactions were waiting for has some: its caller uses message_changed instead.)"""
    if message.kind == Message.Kind.REACTION:  # drawn on its target, which has to be read
        message_changed(company=company, message=message, created=True)
        return
    # `just_stored`: the partial skips the reactions (an empty prefetch cost a fifth of the inbound apply's
    # rendering and pushing: about 1 ms).
    realtime.publish(company=company, topic=conversation_topic(conversation), template_name=f"{PAGE}#message-new",
                     context={"company": company, "message": message, "conversation": conversation,
                              "just_stored": True})


def message_sent_changed(*, company: Company, message: Message) -> None:
    """The bubble of a message the outbound drain has just recorded, redrawn from the object in hand.

    The drain loaded it with its conversation and quote and set the columns it wrote; nothing else of an
    outgoing message changes while it is being sent, so only its reactions are read (one statement instead of
    message_changed's two, the first one joining three tables), and only when the thread is open somewhere."""
    if message.kind == Message.Kind.REACTION:  # drawn on its target, which has to be read
        message_changed(company=company, message=message)
        return
    def context() -> dict:  # read when rendered: only when the thread is open somewhere
        prefetch_related_objects([message], Prefetch("reactions", queryset=reactions_for_render(company=company)))
        return {"company": company, "message": message, "conversation": message.conversation}

    realtime.publish(company=company, topic=conversation_topic(message.conversation),
                     template_name=f"{PAGE}#message", context=context)


def contact_panel_changed(*, company: Company, contact) -> None:
    """The contact panel of its open thread (bot paused or resumed by someone else, by a reply, by time)."""
    conversation = (Conversation.objects.filter(company=company, contact=contact)
                    .select_related("contact", "contact__instance", "instance").first())
    if conversation is None:
        return
    realtime.publish(company=company, topic=conversation_topic(conversation),
                     template_name=f"{PAGE}#contact-panel",
                     context=lambda: contact_panel_context(company=company, conversation=conversation))


def quick_replies_changed(*, company: Company) -> None:
    """The composer's list of quick replies in every open thread of the company (a reply added, edited or deleted
    by someone else, or in another tab, is offered on "/" without a reload). Read after commit, only when some
    thread is open."""
    realtime.publish(company=company, topic=QUICK_REPLIES_TOPIC, template_name=f"{PAGE}#quick-replies",
                     context=lambda: {"company": company, "quick_replies": quick_reply_composer_list(company=company)})
