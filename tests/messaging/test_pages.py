"""Inbox pages: list, thread, composer and controls, fragments, live topics, and another company's ids."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.asgi import application
from contacts import services as contact_services
from messaging import outbound, services
from messaging.models import Conversation, Message
from messaging.tasks import download_media, drain_outbound, send_message
from tenants.scoping import company_scope
from tests.messaging.sending import send_now

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"


def make_conversation(company, instance, number=CUSTOMER, name="Maria") -> Conversation:
    with company_scope(company):
        contact, _created = contact_services.contact_get_or_create_by_identity(
            company=company, instance=instance, identifier=number, name=name)
        conversation, _created = services.conversation_get_or_create(company=company, instance=instance,
                                                                     contact=contact)
    return conversation


def add_message(company, conversation, **fields) -> Message:
    defaults = {"direction": "in", "kind": "text", "text": "olá", "status": "delivered", "status_rank": 40}
    with company_scope(company):
        return Message.objects.create(company=company, conversation=conversation, instance=conversation.instance,
                                      **{**defaults, **fields})


def inbox(company) -> str:
    return f"/c/{company.slug}/inbox/"


def page(company, conversation) -> str:
    return f"{inbox(company)}{conversation.public_id}/"


def test_empty_inbox(client_a, company_a):
    response = client_a.get(inbox(company_a))
    assert response.status_code == 200
    assert b'data-testid="empty-state"' in response.content and b'data-live-topic="inbox"' in response.content


def test_the_list_re_fetched_on_the_inbox_page_also_redraws_its_welcome(client_a, client_b, company_a, company_b,
                                                                         instance_a):
    """The first conversations arriving live: the welcome beside the list stops saying there are none. On a
    thread page (no welcome there) the list comes alone; company B's inbox stays empty of A's conversations."""
    empty = client_a.get(inbox(company_a))
    assert b"No conversations yet" in empty.content and b'id="inbox-welcome"' in empty.content
    conversation = make_conversation(company_a, instance_a)
    fetched = client_a.get(f"{inbox(company_a)}?status=open&fragment=list", HTTP_HX_REQUEST="true",
                           HTTP_HX_CURRENT_URL=f"http://testserver{inbox(company_a)}?status=open")
    body = fetched.content.decode()
    assert 'id="inbox-welcome" data-testid="empty-state" hx-swap-oob="true"' in body
    assert "Pick a conversation" in body and "No conversations yet" not in body and "Maria" in body
    in_thread = client_a.get(f"{inbox(company_a)}?fragment=list", HTTP_HX_REQUEST="true",
                             HTTP_HX_CURRENT_URL=f"http://testserver{page(company_a, conversation)}")
    assert b"inbox-welcome" not in in_thread.content and b"Maria" in in_thread.content
    other = client_b.get(f"{inbox(company_b)}?fragment=list", HTTP_HX_REQUEST="true",
                         HTTP_HX_CURRENT_URL=f"http://testserver{inbox(company_b)}")
    assert other.status_code == 200 and b"Maria" not in other.content and b"No conversations yet" in other.content


def test_an_empty_view_of_a_company_with_conversations_does_not_say_there_are_none(
        client_a, client_b, company_a, company_b, instance_a, owner_a):
    """A tab, filter or search that shows nothing: the welcome says so, not "No conversations yet" (which sends
    people to connect a number they have connected). Company B, with none of its own, still gets the first-run
    welcome: A's conversations do not count for it."""
    make_conversation(company_a, instance_a)
    for query in ("?status=closed", "?q=nowhere-to-be-found"):
        content = client_a.get(f"{inbox(company_a)}{query}").content.decode()
        assert "No conversations in this view" in content and "No conversations yet" not in content, query
        fetched = client_a.get(f"{inbox(company_a)}{query}&fragment=list", HTTP_HX_REQUEST="true",
                               HTTP_HX_CURRENT_URL=f"http://testserver{inbox(company_a)}{query}").content.decode()
        assert "No conversations in this view" in fetched and 'hx-swap-oob="true"' in fetched, query
    shown = client_a.get(inbox(company_a)).content.decode()
    assert "Pick a conversation" in shown and "No conversations in this view" not in shown
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    translated = client_a.get(f"{inbox(company_a)}?status=closed").content.decode()
    assert "Nenhuma conversa nesta visão" in translated and "Mude a aba, os filtros ou a busca" in translated
    theirs = client_b.get(f"{inbox(company_b)}?status=closed").content.decode()
    assert "No conversations yet" in theirs and "No conversations in this view" not in theirs


def test_list_newest_first_with_unread_badges_and_tabs(client_a, company_a, instance_a):
    older = make_conversation(company_a, instance_a, "5511911112222", "Older")
    newer = make_conversation(company_a, instance_a, "5511933334444", "Newer")
    for conversation in (older, newer):
        with company_scope(company_a):
            message = add_message(company_a, conversation, text=f"hi {conversation.contact.name}")
            services.conversation_touch(company=company_a, conversation=conversation, message=message, unread=True)
    content = client_a.get(inbox(company_a)).content.decode()
    assert content.index("Newer") < content.index("Older")
    assert content.count('data-testid="unread-badge"') == 2
    with company_scope(company_a):
        services.conversation_set_status(company=company_a, conversation=older, status="closed")
    assert "Older" not in client_a.get(inbox(company_a)).content.decode()
    assert "Older" in client_a.get(inbox(company_a), {"status": "closed"}).content.decode()
    assert "Newer" in client_a.get(inbox(company_a), {"q": "hi Newer", "fragment": "list"}).content.decode()
    assert "Newer" not in client_a.get(inbox(company_a), {"assignee": "mine", "fragment": "list"}).content.decode()


def test_a_nul_in_the_search_is_dropped_not_a_500(client_a, company_a, instance_a):
    make_conversation(company_a, instance_a, "5511911112222", "Maria")
    response = client_a.get(inbox(company_a), {"q": "Ma\x00ria", "fragment": "list"})
    assert response.status_code == 200 and "Maria" in response.content.decode()


def test_list_is_paged_by_cursor_with_a_fixed_number_of_queries(client_a, company_a, instance_a):
    for number in range(35):
        make_conversation(company_a, instance_a, f"55119{number:08d}", f"Person {number}")
    client_a.get(inbox(company_a))  # warm up session and caches
    with CaptureQueriesContext(connection) as queries:
        response = client_a.get(inbox(company_a), {"fragment": "list"})
    assert response.content.decode().count('data-testid="conversation-row"') == 30
    assert len(queries) <= 8, [query["sql"] for query in queries]
    more = response.content.decode().split('fragment=more&amp;cursor=')[1].split('"')[0]
    rest = client_a.get(inbox(company_a), {"fragment": "more", "cursor": more}).content.decode()
    assert rest.count('data-testid="conversation-row"') == 5 and 'data-testid="conversation-more"' not in rest


def test_thread_renders_every_kind_and_marks_read(client_a, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    target = add_message(company_a, conversation, text="*negrito* e _itálico_", gateway_message_id="G1")
    add_message(company_a, conversation, kind="image", text="foto", media_url="https://example.com/a.png")
    add_message(company_a, conversation, kind="audio", is_voice=True, media_url="https://example.com/a.ogg",
                media_seconds=4)
    add_message(company_a, conversation, kind="document", media_url="https://example.com/n.pdf",
                media_filename="nota.pdf")
    add_message(company_a, conversation, kind="location", latitude=-23.5, longitude=-46.6, location_name="Loja")
    add_message(company_a, conversation, kind="contact", contacts=[{"full_name": "João",
                                                                   "phone_number": "5511912345678"}])
    add_message(company_a, conversation, kind="reaction", emoji="🔥", reaction_target=target,
                reaction_target_gateway_id="G1")
    add_message(company_a, conversation, kind="text", text="resposta", quoted=target)
    add_message(company_a, conversation, direction="out", text="falhou", status="failed", status_rank=25,
                error="This number is not on WhatsApp.", participant_name="")
    add_message(company_a, conversation, text="apagada", is_deleted=True, status="deleted", status_rank=70)
    Conversation.all_companies.filter(pk=conversation.pk).update(unread_count=3)
    response = client_a.get(page(company_a, conversation))
    content = response.content.decode()
    assert response.status_code == 200
    assert "<strong>negrito</strong>" in content and "<em>itálico</em>" in content
    for testid in ("media", "location", "contact-card", "reactions", "quote", "message-error", "retry", "deleted",
                   "composer", "contact-panel", "thread-header"):
        assert f'data-testid="{testid}"' in content, testid
    assert 'data-voice="true"' in content and "openstreetmap.org" in content and "🔥" in content
    assert f'data-live-topic="conversation" data-live-id="{conversation.public_id}"' in content
    assert Conversation.all_companies.get(pk=conversation.pk).unread_count == 0


def test_older_messages_load_by_cursor(client_a, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    for number in range(35):
        add_message(company_a, conversation, text=f"message {number:02d}")
    content = client_a.get(page(company_a, conversation)).content.decode()
    assert "message 34" in content and "message 04" not in content
    cursor = content.split("fragment=older&amp;cursor=")[1].split('"')[0]
    older = client_a.get(page(company_a, conversation), {"fragment": "older", "cursor": cursor}).content.decode()
    assert "message 00" in older and "message 04" in older and "message 05" not in older
    latest = client_a.get(page(company_a, conversation), {"fragment": "messages"}).content.decode()
    assert latest.startswith('\n<div id="thread-messages"') or 'id="thread-messages"' in latest


def test_composer_sends_text_reply_reaction_and_attachment(agent_client_a, company_a, instance_a, simulator,
                                                           django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    target = add_message(company_a, conversation, text="pergunta", gateway_message_id="3AQUESTION")
    url = f"{page(company_a, conversation)}send/"
    with django_capture_on_commit_callbacks():
        text = agent_client_a.post(url, {"text": "resposta", "reply_to": str(target.public_id)})
        reaction = agent_client_a.post(url, {"react_to": str(target.public_id), "emoji": "👍"})
        upload = SimpleUploadedFile("foto.png", b"\x89PNG fake", content_type="image/png")
        image = agent_client_a.post(url, {"text": "legenda", "attachment": upload})
        empty = agent_client_a.post(url, {"text": "  "})
    assert [text.status_code, reaction.status_code, image.status_code, empty.status_code] == [200, 200, 200, 422]
    with company_scope(company_a):
        sent = list(Message.objects.filter(direction="out").order_by("pk"))
    assert [(m.kind, m.status, m.sender_type) for m in sent] == [("text", "queued", "agent"),
                                                                 ("reaction", "queued", "agent"),
                                                                 ("image", "queued", "agent")]
    assert sent[0].quoted_id == target.pk and sent[1].reaction_target_id == target.pk
    assert sent[2].media_file and sent[2].text == "legenda" and sent[0].sender_label == "adam@alpha.test"
    assert send_now(company_a, sent[0]) == "sent"  # the chat's drain sends all three, in order
    with company_scope(company_a):
        assert list(Message.objects.filter(direction="out").values_list("status", flat=True)) == ["sent"] * 3
    assert [entry["message_type"] for entry in simulator.sent(instance_a.gateway_name)] == [
        "conversation", "reactionMessage", "imageMessage"]
    media = agent_client_a.get(f"{inbox(company_a)}messages/{sent[2].public_id}/media/")
    assert media.status_code == 200 and b"".join(media.streaming_content) == b"\x89PNG fake"


def test_controls_assign_status_priority_bot_tags(client_a, company_a, instance_a, owner_a, member_a):
    conversation = make_conversation(company_a, instance_a)
    with company_scope(company_a):
        tag = contact_services.tag_create(company=company_a, name="VIP")
    base = page(company_a, conversation)
    assert client_a.post(f"{base}assign/", {"assignee": "me"}).status_code == 200
    assert Conversation.all_companies.get(pk=conversation.pk).assignee == owner_a
    client_a.post(f"{base}assign/", {"assignee": str(member_a.public_id)})
    assert Conversation.all_companies.get(pk=conversation.pk).assignee == member_a
    assert client_a.post(f"{base}assign/", {"assignee": "00000000-0000-4000-8000-000000000000"}).status_code == 422
    client_a.post(f"{base}status/", {"status": "closed"})
    client_a.post(f"{base}priority/", {"priority": "urgent"})
    conversation.refresh_from_db()
    assert (conversation.status, conversation.priority) == ("closed", "urgent")
    assert b'data-testid="close"' in client_a.post(f"{base}status/", {"status": "open"}).content
    assert client_a.post(f"{base}priority/", {"priority": "nope"}).status_code == 422
    assert b"Resume bot" in client_a.post(f"{base}bot/", {"paused": "1"}).content
    assert client_a.post(f"{base}tags/", {"tags": [str(tag.public_id)]}).status_code == 200
    contact = conversation.contact
    contact.refresh_from_db()
    assert contact.bot_paused is True
    with company_scope(company_a):
        assert list(contact.tags.values_list("name", flat=True)) == ["VIP"]


def test_retry_and_delete_from_the_thread(client_a, company_a, instance_a, simulator,
                                          django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    failed = add_message(company_a, conversation, direction="out", text="again", status="failed", status_rank=25,
                         error="boom")
    with django_capture_on_commit_callbacks():
        response = client_a.post(f"{inbox(company_a)}messages/{failed.public_id}/retry/")
    assert response.status_code == 200 and b'data-status="queued"' in response.content
    send_now(company_a, failed)
    assert client_a.post(f"{inbox(company_a)}messages/{failed.public_id}/retry/").status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client_a.post(f"{inbox(company_a)}messages/{failed.public_id}/delete/")
    assert deleted.status_code == 200 and b'data-testid="deleted"' in deleted.content
    incoming = add_message(company_a, conversation, text="theirs")
    refused = client_a.post(f"{inbox(company_a)}messages/{incoming.public_id}/delete/")
    assert refused.status_code == 422 and b'data-testid="action-error"' in refused.content


def test_another_company_gets_404_and_changes_nothing(client_b, company_a, instance_a, listener,
                                                      django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    message = add_message(company_a, conversation, direction="out", status="failed", status_rank=25)
    listener.join(company_a, "inbox")
    before = list(Message.all_companies.values_list()), list(Conversation.all_companies.values_list())
    base = page(company_a, conversation)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        responses = [
            client_b.get(base), client_b.get(f"/c/{company_a.slug}/inbox/"),
            client_b.post(f"{base}send/", {"text": "intrusion"}),
            client_b.post(f"{base}assign/", {"assignee": "me"}), client_b.post(f"{base}status/", {"status": "closed"}),
            client_b.post(f"{base}priority/", {"priority": "high"}), client_b.post(f"{base}bot/", {"paused": "1"}),
            client_b.post(f"{base}tags/", {}),
            client_b.post(f"/c/{company_a.slug}/inbox/messages/{message.public_id}/retry/"),
            client_b.post(f"/c/{company_a.slug}/inbox/messages/{message.public_id}/delete/"),
            client_b.get(f"/c/{company_a.slug}/inbox/messages/{message.public_id}/media/"),
        ]
    assert [response.status_code for response in responses] == [404] * len(responses)
    assert callbacks == []
    assert (list(Message.all_companies.values_list()), list(Conversation.all_companies.values_list())) == before
    assert listener.drain() == []


# --- live topics ------------------------------------------------------------------------------------


def _cookie(user) -> str:
    client = Client()
    client.force_login(user, backend="tenants.backends.UsernameOrEmailBackend")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _subscribe(user, company_slug: str, topic: str, public_id) -> dict:
    cookie = await database_sync_to_async(_cookie)(user)
    communicator = WebsocketCommunicator(application, "/ws/", headers=[
        (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())])
    connected, _code = await communicator.connect()
    assert connected
    await communicator.send_to(text_data=json.dumps(
        {"action": "subscribe", "company": company_slug, "topic": topic, "id": public_id}))
    answer = json.loads(await communicator.receive_from(timeout=5))
    await communicator.disconnect()
    return answer


@pytest.mark.django_db(transaction=True)
async def test_conversation_topic_resolves_only_inside_the_company(owner_a, owner_b, company_a, company_b, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from tests.contacts.conftest import make_instance

    instance = await database_sync_to_async(make_instance)(company=company_a, name="live")
    conversation = await database_sync_to_async(make_conversation)(company_a, instance)
    mine = await _subscribe(owner_a, company_a.slug, "conversation", str(conversation.public_id))
    assert mine == {"subscribed": f"conversation.{conversation.public_id.hex}"}
    assert await _subscribe(owner_a, company_a.slug, "inbox", None) == {"subscribed": "inbox"}
    # Charlie names A's conversation under his own company, and under A's slug: both look unknown.
    assert await _subscribe(owner_b, company_b.slug, "conversation", str(conversation.public_id)) == {
        "error": "not_found"}
    assert await _subscribe(owner_b, company_a.slug, "conversation", str(conversation.public_id)) == {
        "error": "not_found"}


def test_tasks_for_another_company_do_nothing(company_a, company_b, instance_a, simulator,
                                                    django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    with company_scope(company_a), django_capture_on_commit_callbacks():
        message, _ = services.message_send(company=company_a, conversation=conversation,
                                           outgoing=services.Outgoing(kind="text", text="x"), sender_type="agent")
    slot = outbound.outbound_slot(message.conversation_id)
    assert drain_outbound.apply(args=[company_b.pk, instance_a.pk, slot]).get() == 0  # B's drain of A's instance
    assert send_message.apply(args=[company_b.pk, message.pk]).get() is False  # A's message id, asked as B
    assert send_now(company_b, message) == "skipped"
    assert Message.all_companies.get(pk=message.pk).status == "queued"
    assert simulator.sent(instance_a.gateway_name) == []
    image = add_message(company_a, conversation, kind="image", media_url=f"{simulator.base_url}/_sim/media/sample.png")
    assert download_media.apply(args=[company_b.pk, image.pk]).get() is False
    assert not Message.all_companies.get(pk=image.pk).media_file


def test_thread_messages_are_not_shown_as_notifications(client_a, company_a, instance_a):
    """The thread's context name must not shadow the messages framework that base.html renders as alerts."""
    conversation = make_conversation(company_a, instance_a)
    add_message(company_a, conversation, text="only in the thread")
    content = client_a.get(page(company_a, conversation)).content.decode()
    assert "alert-dismissible" not in content and content.count('data-testid="message-text"') == 1


def test_reading_a_live_message_clears_the_badge(client_a, client_b, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    Conversation.all_companies.filter(pk=conversation.pk).update(unread_count=2)
    assert client_b.post(f"{page(company_a, conversation)}read/").status_code == 404
    assert Conversation.all_companies.get(pk=conversation.pk).unread_count == 2
    assert client_a.post(f"{page(company_a, conversation)}read/").status_code == 204
    assert Conversation.all_companies.get(pk=conversation.pk).unread_count == 0
