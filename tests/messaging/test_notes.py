"""Private notes: written in the thread for the team, never sent to WhatsApp, never the list's preview, no unread
count, no bot pause, nothing for integrators' webhooks; each company's its own."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from integrations import services as integration_services
from integrations.models import WebhookEvent
from messaging.events import conversation_topic
from messaging.models import Conversation, Message
from tenants.scoping import company_scope
from tests.messaging.test_api import PNG
from tests.messaging.test_pages import add_message, make_conversation, page

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint_a(company_a):
    with company_scope(company_a):
        return integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp").endpoint


def state(company, conversation) -> tuple:
    with company_scope(company):
        row = Conversation.objects.get(pk=conversation.pk)
        return row.last_message_at, row.last_message_preview, row.unread_count, row.contact.bot_paused


def test_a_note_is_stored_shown_and_pushed_but_never_sent_or_counted(
        agent_client_a, client_b, company_a, instance_a, simulator, endpoint_a, listener,
        django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    add_message(company_a, conversation, text="Quero trocar o pedido", gateway_message_id="3ACUSTOMER1")
    with company_scope(company_a):
        Conversation.objects.filter(pk=conversation.pk).update(last_message_preview="Quero trocar o pedido",
                                                               unread_count=1)
    before = state(company_a, conversation)
    events_before = WebhookEvent.all_companies.filter(company=company_a).count()
    listener.join(company_a, conversation_topic(conversation))
    url = f"{page(company_a, conversation)}send/"
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client_a.post(url, {"text": "Cliente VIP: trocar sem custo", "note": "on"})
    assert response.status_code == 200
    # The fresh composer stays in note mode, for the next one.
    assert 'id="composer-note" name="note" data-testid="note-toggle" checked' in response.content.decode()
    with company_scope(company_a):
        note = Message.objects.get(kind="note")
    assert (note.text, note.direction, note.sender_label, note.gateway_message_id) == (
        "Cliente VIP: trocar sem custo", "out", "adam@alpha.test", None)
    assert note.status == "sent" and note.attempts == 0
    assert state(company_a, conversation) == before  # no preview, no time, no unread change, bot not paused
    assert WebhookEvent.all_companies.filter(company=company_a).count() == events_before
    assert simulator.sent(instance_a.gateway_name) == []
    pushed = "".join(listener.drain())
    assert f"message-{note.public_id.hex}" in pushed and "Private note" in pushed
    thread = agent_client_a.get(page(company_a, conversation)).content.decode()
    bubble = thread[thread.index(f'id="message-{note.public_id.hex}"'):][:1500]
    assert "message-note" in bubble and 'data-testid="ticks"' not in bubble and "data-reply=" not in bubble
    # Company B's owner cannot write one in A's conversation.
    assert client_b.post(url, {"text": "x", "note": "on"}).status_code == 404
    with company_scope(company_a):
        assert Message.objects.filter(kind="note").count() == 1


def test_a_note_is_text_only_and_cannot_be_replied_or_reacted_to(agent_client_a, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    url = f"{page(company_a, conversation)}send/"
    empty = agent_client_a.post(url, {"text": "  ", "note": "on"})
    assert empty.status_code == 422 and "Write the note." in empty.content.decode()
    upload = SimpleUploadedFile("foto.png", PNG, content_type="image/png")
    with_file = agent_client_a.post(url, {"text": "veja", "note": "on", "attachment": upload})
    assert with_file.status_code == 422 and "A private note is text only" in with_file.content.decode()
    assert agent_client_a.post(url, {"text": "nota", "note": "on"}).status_code == 200
    with company_scope(company_a):
        note = Message.objects.get(kind="note")
    reply = agent_client_a.post(url, {"text": "resposta", "reply_to": str(note.public_id)})
    react = agent_client_a.post(url, {"react_to": str(note.public_id), "emoji": "👍"})
    for refused in (reply, react):
        assert refused.status_code == 422
        assert "A private note cannot be replied or reacted to" in refused.content.decode()
    with company_scope(company_a):
        assert list(Message.objects.values_list("kind", flat=True)) == ["note"]


def test_deleting_a_note_stays_in_recado(agent_client_a, client_b, company_a, instance_a, simulator, endpoint_a,
                                         django_capture_on_commit_callbacks):
    conversation = make_conversation(company_a, instance_a)
    url = f"{page(company_a, conversation)}send/"
    with django_capture_on_commit_callbacks(execute=True):
        agent_client_a.post(url, {"text": "lembrete interno", "note": "on"})
    with company_scope(company_a):
        note = Message.objects.get(kind="note")
    before = state(company_a, conversation)
    events_before = WebhookEvent.all_companies.filter(company=company_a).count()
    delete = f"/c/{company_a.slug}/inbox/messages/{note.public_id}/delete/"
    assert client_b.post(f"/c/{company_a.slug}/inbox/messages/{note.public_id}/delete/").status_code == 404
    response = agent_client_a.post(delete)
    assert response.status_code == 200 and 'data-testid="deleted"' in response.content.decode()
    with company_scope(company_a):
        note.refresh_from_db()
    assert note.is_deleted and note.text == "lembrete interno"
    assert state(company_a, conversation) == before  # the preview did not become "Message deleted"
    assert WebhookEvent.all_companies.filter(company=company_a).count() == events_before
    assert simulator.sent(instance_a.gateway_name) == []


def test_the_api_lists_notes_by_their_kind(agent_client_a, api_a, api_b, company_a, instance_a):
    conversation = make_conversation(company_a, instance_a)
    agent_client_a.post(f"{page(company_a, conversation)}send/", {"text": "só a equipe vê", "note": "on"})
    listed = api_a.get(f"/api/v1/conversations/{conversation.public_id}/messages").json()["results"]
    assert [(m["kind"], m["text"]) for m in listed] == [("note", "só a equipe vê")]
    assert api_b.get(f"/api/v1/conversations/{conversation.public_id}/messages").status_code == 404
    # Integrators cannot send one as a WhatsApp message.
    refused = api_a.post("/api/v1/messages", {"conversation_id": str(conversation.public_id), "kind": "note",
                                              "text": "x"}, format="json")
    assert refused.status_code == 400 and "kind" in refused.json()["errors"]
