"""Inbound: gateway events (as the simulator really emits them) become messages exactly once."""

from __future__ import annotations

import base64
import copy
import random

import pytest

from contacts.models import Contact, ContactIdentifier
from messaging.models import Conversation, Message
from tenants import realtime
from tenants.scoping import company_scope
from tests.realtime_listener import Listener

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"


def inbound(simulator, instance, **spec) -> dict:
    return simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", **spec})


def messages(company) -> list[Message]:
    with company_scope(company):
        return list(Message.objects.order_by("pk"))


def conversation_of(company) -> Conversation:
    with company_scope(company):
        return Conversation.objects.select_related("contact").get()


@pytest.mark.parametrize(("spec", "expected"), [
    ({"kind": "text", "text": "Olá *mundo*"}, {"kind": "text", "text": "Olá *mundo*"}),
    ({"kind": "image", "caption": "a foto"}, {"kind": "image", "text": "a foto"}),
    ({"kind": "video", "caption": "o vídeo", "mimetype": "video/mp4"}, {"kind": "video", "text": "o vídeo"}),
    ({"kind": "audio", "mimetype": "audio/mpeg"}, {"kind": "audio", "is_voice": False}),
    ({"kind": "voice", "seconds": 7}, {"kind": "audio", "is_voice": True, "media_seconds": 7}),
    ({"kind": "document", "file_name": "nota.pdf", "mimetype": "application/pdf", "caption": "segue"},
     {"kind": "document", "media_filename": "nota.pdf", "text": "segue"}),
    ({"kind": "sticker", "mimetype": "image/webp"}, {"kind": "sticker"}),
    ({"kind": "location", "latitude": -23.5, "longitude": -46.6, "name": "Loja", "address": "Av. Paulista"},
     {"kind": "location", "latitude": -23.5, "longitude": -46.6, "location_name": "Loja"}),
    ({"kind": "contact", "contact": {"full_name": "João", "phone_number": "5511912345678"}},
     {"kind": "contact", "contacts": [{"full_name": "João", "phone_number": "5511912345678"}]}),
])
def test_every_kind_is_stored_once_and_pushed_live(company_a, instance_a, simulator, hooks, listener, spec,
                                                   expected):
    media_url = f"{simulator.base_url}/_sim/media/sample.png"
    if spec["kind"] in ("image", "video", "audio", "voice", "document", "sticker"):
        spec = {"media_url": media_url, **spec}
    inbound(simulator, instance_a, **spec)
    listener.join(company_a, "inbox")
    assert hooks.deliver(instance_a) == ["processed"]
    [message] = messages(company_a)
    for field, value in expected.items():
        stored = getattr(message, field)
        if field == "contacts":
            stored = [{key: card[key] for key in ("full_name", "phone_number")} for card in stored]
        assert stored == value, field
    assert (message.direction, message.sender_type, message.sender_label) == ("in", "customer", "Maria")
    conversation = conversation_of(company_a)
    assert (conversation.status, conversation.unread_count) == ("open", 1)
    assert conversation.contact.identifier == CUSTOMER and conversation.contact.name == "Maria"
    pushed = "".join(listener.drain())
    assert f'id="conversation-{conversation.public_id.hex}-row"' in pushed and 'data-testid="unread-badge"' in pushed


def test_media_is_copied_into_storage(company_a, instance_a, simulator, hooks):
    from messaging.tasks import download_media

    inbound(simulator, instance_a, kind="image", media_url=f"{simulator.base_url}/_sim/media/sample.png")
    hooks.deliver(instance_a)
    [message] = messages(company_a)
    assert download_media.apply(args=[company_a.pk, message.pk]).get() is True
    [message] = messages(company_a)
    assert message.media_file and message.media_file.read()[:4] == b"\x89PNG"
    assert message.media_note == ""


def test_failed_media_download_keeps_the_url_and_says_why(company_a, instance_a, simulator, hooks):
    from messaging.tasks import download_media

    inbound(simulator, instance_a, kind="document", media_url=f"{simulator.base_url}/_sim/media/missing.pdf",
            file_name="x.pdf", mimetype="application/pdf")
    hooks.deliver(instance_a)
    [message] = messages(company_a)
    assert download_media.apply(args=[company_a.pk, message.pk]).get() is False
    [message] = messages(company_a)
    assert not message.media_file and message.media_url.endswith("missing.pdf") and message.media_note


def test_duplicates_store_one_row_and_count_once(company_a, instance_a, simulator, hooks):
    inbound(simulator, instance_a, text="Oi", duplicate=2)
    [body] = hooks.new_bodies(instance_a)
    again = copy.deepcopy(body)
    again["date_time"] = "2030-01-01T00:00:00.000Z"  # a redelivery with another envelope: same message id
    assert hooks.deliver(instance_a, [body, body, again]) == ["processed", "ignored"]
    assert len(messages(company_a)) == 1
    assert conversation_of(company_a).unread_count == 1


def test_replayed_three_times_shuffled_one_row_each_and_statuses_never_go_back(company_a, instance_a, simulator,
                                                                               hooks):
    from messaging import services
    from tests.messaging.sending import send_now

    conversation_seed = inbound(simulator, instance_a, text="first")
    hooks.deliver(instance_a)
    conversation = conversation_of(company_a)
    with company_scope(company_a), hooks.capture():
        sent, _created = services.message_send(company=company_a, conversation=conversation,
                                               outgoing=services.Outgoing(kind="text", text="reply"),
                                               sender_type="agent", sender_label="Alice")
    assert send_now(company_a, sent) == "sent"
    gateway_id = messages(company_a)[-1].gateway_message_id
    inbound(simulator, instance_a, text="second")
    inbound(simulator, instance_a, kind="reaction", reaction={"message_id": gateway_id, "emoji": "❤"})
    simulator.set_status(instance_a.gateway_name, gateway_id, "SERVER_ACK", "DELIVERY_ACK", "READ")
    bodies = hooks.new_bodies(instance_a)
    replays = []
    for round_number in range(3):
        for body in bodies:
            copy_of = copy.deepcopy(body)
            copy_of["date_time"] = f"2030-01-0{round_number + 1}T00:00:00.000Z"
            replays.append(copy_of)
    random.Random(7).shuffle(replays)
    hooks.deliver(instance_a, replays)
    stored = messages(company_a)
    ids = [message.gateway_message_id for message in stored]
    assert len(ids) == len(set(ids)) == 4, ids  # first, reply, second, reaction
    reply = next(message for message in stored if message.gateway_message_id == gateway_id)
    assert reply.status == "read" and reply.read_at and reply.delivered_at
    reaction = next(message for message in stored if message.kind == "reaction")
    assert reaction.reaction_target_id == reply.pk
    assert conversation_seed["data"]["key"]["id"] in ids


def test_a_group_message_keeps_the_participant(company_a, instance_a, simulator, hooks):
    inbound(simulator, instance_a, group="120363025246125486@g.us", text="bom dia grupo", push_name="Zé")
    hooks.deliver(instance_a)
    [message] = messages(company_a)
    assert message.participant_jid == f"{CUSTOMER}@s.whatsapp.net" and message.participant_name == "Zé"
    conversation = conversation_of(company_a)
    assert conversation.contact.type == Contact.Type.GROUP
    assert conversation.contact.identifier == "120363025246125486@g.us"


def test_a_reaction_before_its_target_is_attached_when_the_target_arrives(company_a, instance_a, simulator, hooks):
    inbound(simulator, instance_a, kind="reaction", reaction={"message_id": "3AEARLYTARGET01", "emoji": "🔥"})
    hooks.deliver(instance_a)
    [reaction] = messages(company_a)
    assert reaction.kind == "reaction" and reaction.reaction_target is None
    inbound(simulator, instance_a, text="the target", id="3AEARLYTARGET01")
    hooks.deliver(instance_a)
    target = next(message for message in messages(company_a) if message.kind == "text")
    reaction = next(message for message in messages(company_a) if message.kind == "reaction")
    assert reaction.reaction_target_id == target.pk
    assert conversation_of(company_a).unread_count == 1  # reactions do not count as unread


def test_a_reply_before_its_quote_is_linked_later(company_a, instance_a, simulator, hooks):
    inbound(simulator, instance_a, text="answer", quoted_id="3AQUOTEDLATER01", quoted_text="question")
    hooks.deliver(instance_a)
    inbound(simulator, instance_a, text="question", id="3AQUOTEDLATER01")
    hooks.deliver(instance_a)
    reply = next(message for message in messages(company_a) if message.text == "answer")
    assert reply.quoted is not None and reply.quoted.text == "question" and reply.quoted_text == "question"


def test_a_contact_known_by_lid_then_by_phone_is_one_contact(company_a, instance_a, simulator, hooks):
    inbound(simulator, instance_a, text="by lid", lid=True)
    hooks.deliver(instance_a)
    inbound(simulator, instance_a, text="by phone")
    hooks.deliver(instance_a)
    with company_scope(company_a):
        assert Contact.objects.count() == 1
        contact = Contact.objects.get()
        kinds = set(ContactIdentifier.objects.filter(contact=contact).values_list("kind", flat=True))
    assert contact.identifier == CUSTOMER and "lid" in kinds
    assert len(messages(company_a)) == 2 and conversation_of(company_a).unread_count == 2


def test_messages_typed_on_the_phone_are_outgoing(company_a, instance_a, simulator, hooks):
    simulator.inbound(instance_a.gateway_name, from_me=True, to=CUSTOMER, text="sent from my phone")
    hooks.deliver(instance_a)
    [message] = messages(company_a)
    assert (message.direction, message.sender_type, message.status) == ("out", "phone", "sent")
    assert conversation_of(company_a).unread_count == 0


def test_a_closed_conversation_reopens_when_the_customer_writes(company_a, instance_a, simulator, hooks):
    from messaging import services

    inbound(simulator, instance_a, text="one")
    hooks.deliver(instance_a)
    conversation = conversation_of(company_a)
    with company_scope(company_a), hooks.capture():
        services.conversation_set_status(company=company_a, conversation=conversation, status="closed")
    inbound(simulator, instance_a, text="two")
    hooks.deliver(instance_a)
    conversation = conversation_of(company_a)
    assert (conversation.status, conversation.closed_at) == ("open", None)


def test_ignored_contacts_are_stored_but_open_nothing_and_notify_nobody(company_a, instance_a, simulator, hooks,
                                                                        listener):
    from contacts import services as contact_services

    with company_scope(company_a):
        contact_services.contact_create(company=company_a, instance=instance_a, identifier=CUSTOMER, is_ignored=True)
    listener.join(company_a, "inbox")
    inbound(simulator, instance_a, text="spam")
    hooks.deliver(instance_a)
    assert len(messages(company_a)) == 1
    conversation = conversation_of(company_a)
    assert (conversation.status, conversation.unread_count) == ("closed", 0)
    assert listener.drain() == []


def test_edits_and_deletes_keep_the_original(company_a, instance_a, simulator, hooks, listener):
    inbound(simulator, instance_a, text="original text")
    hooks.deliver(instance_a)
    [message] = messages(company_a)
    conversation = conversation_of(company_a)
    listener.join(company_a, realtime.topic_for("conversation", conversation.public_id))
    envelope = {"event": "messages.edited", "instance": instance_a.gateway_name, "data": {
        "key": {"remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": False, "id": message.gateway_message_id},
        "editedMessage": {"conversation": "edited text"}, "type": "MESSAGE_EDIT"}}
    hooks.deliver(instance_a, [envelope])
    [message] = messages(company_a)
    assert (message.text, message.original_text, message.is_edited) == ("edited text", "original text", True)
    assert conversation_of(company_a).last_message_preview == "edited text"  # the list follows the edit
    listener.join(company_a, "inbox")
    deleted = {"event": "messages.delete", "instance": instance_a.gateway_name, "data": {
        "remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": False, "id": message.gateway_message_id}}
    hooks.deliver(instance_a, [deleted])
    [message] = messages(company_a)
    assert message.is_deleted and message.text == "edited text" and message.status == "deleted"
    # The list shows the deletion, not the text nobody sees any more, in every open inbox too.
    assert conversation_of(company_a).last_message_preview == "Message deleted"
    pushed = "".join(listener.drain())
    assert 'data-testid="edited"' in pushed and 'data-testid="deleted"' in pushed
    assert "Message deleted" in pushed and 'data-testid="conversation-row"' in pushed


def test_company_b_hears_nothing_of_company_a(company_a, instance_a, company_b, simulator, hooks, listener):
    listener.join(company_b, "inbox")
    inbound(simulator, instance_a, text="private")
    hooks.deliver(instance_a)
    assert listener.drain() == []
    with company_scope(company_b):
        assert not Message.objects.exists() and not Conversation.objects.exists()


# Applying one plain text from a known customer: the event (locked), the repeat check, the identifiers, the
# conversation (locked), the insert (ON CONFLICT DO NOTHING: no savepoint around it, 13 -> 11), the waiting
# replies and reactions, the conversation's counters, the integrators' endpoints, the event's status. The live
# fragments are drawn from the message and the locked conversation in hand (16 -> 13: no re-read of either).
# Raise it only for a reason.
# In a drain run (instances/inbound.py), where the instance was loaded by the run's first event: the claim (the
# event row alone), the apply, the event's UPDATE, and the transaction's savepoint pair (the test runs inside a
# transaction). Applying an event by id (`inbound_event_process`) loads its instance too (+1).
PLAIN_TEXT_APPLY_MAX_QUERIES = 11


def test_applying_one_plain_text_takes_a_pinned_number_of_queries(company_a, instance_a, company_b, instance_b,
                                                                  simulator, hooks, django_assert_max_num_queries):
    from instances.services import inbound_event_claim_next

    # The same customer number writes to both companies; each already has its contact and conversation.
    inbound(simulator, instance_a, text="first to a")
    inbound(simulator, instance_b, text="first to b")
    assert hooks.deliver(instance_a) == ["processed"] and hooks.deliver(instance_b) == ["processed"]
    inbound(simulator, instance_a, text="second to a")
    inbound(simulator, instance_a, text="third to a")
    for body in hooks.new_bodies(instance_a):
        assert hooks.post(instance_a, body) == 200
    instances: dict = {}  # one drain run's
    with company_scope(company_a), hooks.capture(execute=True):
        assert inbound_event_claim_next(company=company_a, instances=instances)[1] == "processed"
    with company_scope(company_a), django_assert_max_num_queries(PLAIN_TEXT_APPLY_MAX_QUERIES):
        assert inbound_event_claim_next(company=company_a, instances=instances)[1] == "processed"
    assert [m.text for m in messages(company_a)] == ["first to a", "second to a", "third to a"]
    conversation = conversation_of(company_a)
    assert conversation.unread_count == 3 and conversation.last_message_preview == "third to a"
    # Company B's contact, conversation and message under the same number are untouched.
    assert [m.text for m in messages(company_b)] == ["first to b"]
    other = conversation_of(company_b)
    assert other.unread_count == 1 and other.last_message_preview == "first to b"
    with company_scope(company_b):
        assert Contact.objects.get().identifier == CUSTOMER


def test_a_picture_with_only_whatsapp_s_encrypted_link_is_copied_through_the_gateway(
        company_a, company_b, instance_a, instance_b, simulator, hooks, listener, django_capture_on_commit_callbacks):
    """Evolution's default (no S3, no webhook base64): the webhook carries only WhatsApp's encrypted link. The
    gateway decrypts it (getBase64FromMediaMessage) and the file is stored, the bubble pushed again. Company B's
    message with the same gateway id on its own instance is left alone."""
    from messaging.tasks import download_media
    from simulator.messages import SAMPLE_PNG

    for instance in (instance_a, instance_b):
        inbound(simulator, instance, kind="image", caption="o produto", cdn_only=True, id="3AENCRYPTED00001")
        hooks.deliver(instance)
    [message] = messages(company_a)
    assert message.media_url.startswith("https://mmg.whatsapp.net/") and not message.media_file
    listener.join(company_a, realtime.topic_for("conversation", message.conversation.public_id))
    with django_capture_on_commit_callbacks(execute=True):
        assert download_media.apply(args=[company_a.pk, message.pk]).get() is True
    [message] = messages(company_a)
    assert message.media_file.read() == base64.b64decode(SAMPLE_PNG.split(",", 1)[1]) and message.media_note == ""
    assert f"message-{message.public_id.hex}" in "".join(listener.drain())
    [theirs] = messages(company_b)
    assert not theirs.media_file


def test_a_file_the_gateway_cannot_give_is_noted_with_its_words_and_one_it_cannot_give_now_is_tried_again(
        company_a, instance_a, simulator, hooks, django_capture_on_commit_callbacks):
    """A text id the gateway does not hold as media: its words on the message, no retry. The gateway failing
    for a passing reason (5xx): another try is scheduled, and after the last one the reason is noted."""
    from messaging import media
    from messaging.tasks import DOWNLOAD_RETRY_COUNTDOWNS, download_media

    inbound(simulator, instance_a, kind="image", cdn_only=True, id="3AGONE000000001",
            media_url="https://example.invalid/x.jpg")  # the simulator holds no bytes for this one
    hooks.deliver(instance_a)
    [message] = messages(company_a)
    assert download_media.apply(args=[company_a.pk, message.pk]).get() is False
    [message] = messages(company_a)
    assert not message.media_file and "Failed to fetch stream" in message.media_note

    inbound(simulator, instance_a, kind="image", cdn_only=True, id="3ALATER00000001")
    hooks.deliver(instance_a)
    later = messages(company_a)[-1]
    simulator.fail_next(instance_a.gateway_name, mode="server_error", scope="any", count=1)
    with pytest.raises(media.MediaRetryLater), company_scope(company_a):
        media.message_download_media(company=company_a, message=later)
    simulator.fail_next(instance_a.gateway_name, mode="server_error", scope="any", count=1)
    last = len(DOWNLOAD_RETRY_COUNTDOWNS)
    assert download_media.apply(args=[company_a.pk, later.pk, last]).get() is False
    later = messages(company_a)[-1]
    assert not later.media_file and later.media_note.startswith("The file could not be copied")
    # Tried again with the gateway back: stored, the note gone.
    assert download_media.apply(args=[company_a.pk, later.pk]).get() is True
    later = messages(company_a)[-1]
    assert later.media_file and later.media_note == ""


def test_the_newest_reaction_of_a_person_wins_whatever_the_arrival_order(company_a, instance_a, simulator, hooks,
                                                                         client_a):
    inbound(simulator, instance_a, text="target", id="3ATARGETREACT01")
    inbound(simulator, instance_a, kind="reaction", reaction={"message_id": "3ATARGETREACT01", "emoji": "👍"},
            timestamp=1_900_000_000)
    inbound(simulator, instance_a, kind="reaction", reaction={"message_id": "3ATARGETREACT01", "emoji": "😂"},
            timestamp=1_900_000_060)
    target, older, newer = hooks.new_bodies(instance_a)
    hooks.deliver(instance_a, [target, newer, older, newer, older])
    with company_scope(company_a):
        visible = list(Message.objects.filter(kind="reaction", is_deleted=False).values_list("emoji", flat=True))
        assert Message.objects.filter(kind="reaction").count() == 2
    assert visible == ["😂"]
    conversation = conversation_of(company_a)
    content = client_a.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").content.decode()
    assert 'class="reaction">😂' in content and 'class="reaction">👍' not in content


def _render(template: str, **context) -> str:
    from django.template.loader import render_to_string

    return render_to_string(f"messaging/inbox.html#{template}", {**context, "oob": True})


def test_the_live_row_and_bubble_are_what_a_re_read_renders(company_a, owner_a, instance_a, company_b, instance_b,
                                                            simulator, hooks):
    """The apply draws them from the objects in hand (the conversation locked): byte for byte what reading the
    stored rows back renders, for an assigned conversation, a reply with its quote and a reopened conversation;
    company B, with the same customer number, hears nothing of it."""
    from messaging import services
    from messaging.selectors import message_for_render

    inbound(simulator, instance_a, text="question", id="3AQUESTIONLIVE1")
    inbound(simulator, instance_b, text="b's own")
    assert hooks.deliver(instance_a) == ["processed"] and hooks.deliver(instance_b) == ["processed"]
    with company_scope(company_a), hooks.capture(execute=True):
        services.conversation_assign(company=company_a, conversation=conversation_of(company_a), assignee=owner_a)
    for status in ("open", "closed"):  # the second message reopens the conversation: the header goes too
        if status == "closed":
            with company_scope(company_a), hooks.capture(execute=True):
                services.conversation_set_status(company=company_a, conversation=conversation_of(company_a),
                                                 status="closed")
        conversation = conversation_of(company_a)
        ear_a = Listener().join(company_a, "inbox").join(company_a, realtime.topic_for("conversation",
                                                                                        conversation.public_id))
        ear_b = Listener().join(company_b, "inbox")
        inbound(simulator, instance_a, text=f"answer while {status}", quoted_id="3AQUESTIONLIVE1")
        assert hooks.deliver(instance_a) == ["processed"]
        pushed = ear_a.drain()
        assert ear_b.drain() == []
        with company_scope(company_a):
            stored = conversation_of(company_a)
            stored = type(stored).objects.select_related("contact", "instance", "assignee").get(pk=stored.pk)
            message = message_for_render(company=company_a, message_id=messages(company_a)[-1].pk)
            row = _render("conversation-row", company=company_a, conversation=stored)
            bubble = _render("message-new", company=company_a, message=message, conversation=message.conversation)
        assert stored.assignee == owner_a and stored.status == "open" and message.quoted.text == "question"
        # The row and the list's refresh signal travel in one frame; the bubble in its own (another topic).
        assert any(frame.startswith(row) and 'id="inbox-signal"' in frame for frame in pushed), status
        assert bubble in pushed, status
        assert 'data-testid="conversation-assignee"' in row and 'data-testid="quote"' in bubble
        assert any('data-testid="thread-header"' in frame for frame in pushed) == (status == "closed")


def test_a_target_that_reactions_waited_for_is_pushed_with_them(company_a, instance_a, simulator, hooks):
    inbound(simulator, instance_a, kind="reaction", reaction={"message_id": "3AEARLYLIVE0001", "emoji": "🔥"})
    hooks.deliver(instance_a)
    conversation = conversation_of(company_a)
    ear = Listener().join(company_a, realtime.topic_for("conversation", conversation.public_id))
    inbound(simulator, instance_a, text="the target", id="3AEARLYLIVE0001")
    hooks.deliver(instance_a)
    pushed = "".join(ear.drain())
    assert "the target" in pushed and 'class="reaction">🔥' in pushed
