"""REST API: conversations and messages, every route, its errors, and another company's ids."""

from __future__ import annotations

import time

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from contacts import services as contact_services
from integrations import services as integration_services
from integrations.models import WebhookEvent
from messaging.models import Conversation, Message
from tenants.scoping import company_scope
from tests.factories import make_api_key
from tests.messaging.sending import send_now

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40)  # a PNG's signature and header


def start(api, instance, number=CUSTOMER, **extra):
    return api.post("/api/v1/conversations", {"instance_id": str(instance.public_id), "number": number, **extra},
                    format="json")


@pytest.fixture
def endpoint_a(company_a):
    """An integrator's webhook of A (so A's events are recorded)."""
    with company_scope(company_a):
        return integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")


def told(company) -> list[tuple[str, dict]]:
    """The conversation events recorded for the company's webhooks, oldest first."""
    with company_scope(company):
        return [(event.type, event.payload["data"]) for event in
                WebhookEvent.objects.filter(type__startswith="conversation.").order_by("pk")]


def rows(company, model) -> list:
    with company_scope(company):
        return list(model.objects.order_by("pk").values_list())


def test_start_a_conversation_by_number_then_again(api_a, instance_a, company_a):
    first = start(api_a, instance_a, priority="high")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["contact_identifier"], body["status"], body["priority"]) == (CUSTOMER, "open", "high")
    again = start(api_a, instance_a)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    by_contact = api_a.post("/api/v1/conversations", {"contact_id": body["contact"]}, format="json")
    assert by_contact.status_code == 200 and by_contact.json()["id"] == body["id"]


def test_start_errors_are_problems(api_a, instance_a, instance_b):
    for payload in ({}, {"instance_id": str(instance_a.public_id), "number": "12"},
                    {"instance_id": str(instance_b.public_id), "number": CUSTOMER},
                    {"contact_id": "00000000-0000-4000-8000-000000000000"}):
        response = api_a.post("/api/v1/conversations", payload, format="json")
        assert response.status_code == 400, payload
        assert response["Content-Type"] == "application/problem+json"


def test_list_filters_retrieve_assign_close_reopen(api_a, instance_a, company_a, owner_a):
    conversation_id = start(api_a, instance_a).json()["id"]
    start(api_a, instance_a, number="5511944443333")
    listed = api_a.get("/api/v1/conversations")
    assert listed.status_code == 200 and len(listed.json()["results"]) == 2
    assert len(api_a.get("/api/v1/conversations", {"search": "944443333"}).json()["results"]) == 1
    assert api_a.get(f"/api/v1/conversations/{conversation_id}").json()["id"] == conversation_id
    assigned = api_a.post(f"/api/v1/conversations/{conversation_id}/assign",
                          {"assignee": str(owner_a.public_id)}, format="json")
    assert assigned.status_code == 200 and assigned.json()["assignee"]["id"] == str(owner_a.public_id)
    assert len(api_a.get("/api/v1/conversations", {"assignee": "unassigned"}).json()["results"]) == 1
    assert api_a.post(f"/api/v1/conversations/{conversation_id}/assign", {"assignee": None},
                      format="json").json()["assignee"] is None
    assert api_a.post(f"/api/v1/conversations/{conversation_id}/close").json()["status"] == "closed"
    assert [row["id"] for row in api_a.get("/api/v1/conversations", {"status": "closed"}).json()["results"]] == [
        conversation_id]
    assert api_a.post(f"/api/v1/conversations/{conversation_id}/reopen").json()["status"] == "open"
    assert api_a.get("/api/v1/conversations", {"status": "nope"}).status_code == 400


def test_send_every_way_and_read_with_a_cursor(api_a, instance_a, company_a, simulator, hooks):
    conversation_id = start(api_a, instance_a).json()["id"]
    with hooks.capture():
        text = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "Olá",
                                               "agent_name": "Alice"}, format="json")
        by_number = api_a.post("/api/v1/messages", {"instance_id": str(instance_a.public_id), "number": CUSTOMER,
                                                    "kind": "location",
                                                    "location": {"latitude": -23.5, "longitude": -46.6}},
                               format="json")
        group = api_a.post("/api/v1/messages", {"instance_id": str(instance_a.public_id),
                                                "number": "120363025246125486@g.us", "text": "grupo"}, format="json")
        buttons = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "kind": "interactive",
                                                  "interactive": {"type": "buttons", "title": "Ok?",
                                                                  "buttons": [{"text": "Sim", "id": "y"}]}},
                             format="json")
    for response in (text, by_number, group, buttons):
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "queued"
    assert text.json()["sender_label"] == "Alice" and text.json()["conversation"] == conversation_id
    assert by_number.json()["conversation"] == conversation_id
    with company_scope(company_a):
        messages = [Message.objects.get(public_id=response.json()["id"]) for response in (text, by_number, group,
                                                                                         buttons)]
    for message in messages:
        send_now(company_a, message)  # each chat's drain sends every message of its chat
    with company_scope(company_a):
        assert [Message.objects.get(pk=message.pk).status for message in messages] == ["sent"] * 4
    assert len(simulator.sent(instance_a.gateway_name)) == 4
    sent = api_a.get(f"/api/v1/messages/{text.json()['id']}").json()
    assert sent["status"] == "sent" and sent["gateway_message_id"]
    page = api_a.get(f"/api/v1/conversations/{conversation_id}/messages", {"limit": 2}).json()
    assert [row["kind"] for row in page["results"]] == ["interactive", "location"] and page["next"]
    rest = APIClient(**api_a._credentials).get(page["next"]).json()
    assert [row["kind"] for row in rest["results"]] == ["text"] and rest["next"] is None


def test_idempotency_key_returns_the_same_message(api_a, instance_a, company_a, hooks):
    conversation_id = start(api_a, instance_a).json()["id"]
    payload = {"conversation_id": conversation_id, "text": "só uma vez"}
    with hooks.capture():
        first = api_a.post("/api/v1/messages", payload, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
        again = api_a.post("/api/v1/messages", payload, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(rows(company_a, Message)) == 1


def test_send_needs_the_messages_scope(company_a, instance_a, api_a):
    conversation_id = start(api_a, instance_a).json()["id"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    response = client.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "x"}, format="json")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"
    assert client.get(f"/api/v1/conversations/{conversation_id}/messages").status_code == 200


def test_invalid_messages_are_400(api_a, instance_a):
    conversation_id = start(api_a, instance_a).json()["id"]
    for payload in ({"text": "no target"},
                    {"conversation_id": conversation_id, "text": ""},
                    {"conversation_id": conversation_id, "kind": "image"},
                    {"conversation_id": conversation_id, "kind": "interactive", "interactive": {"type": "list",
                                                                                               "title": "x"}},
                    {"conversation_id": conversation_id, "kind": "reaction",
                     "reaction_to": "00000000-0000-4000-8000-000000000000"}):
        response = api_a.post("/api/v1/messages", payload, format="json")
        assert response.status_code == 400, (payload, response.content)


def test_a_reaction_to_a_send_that_failed_is_refused_one_still_queued_is_not(api_a, instance_a, company_a, hooks):
    """WhatsApp knows a message by its id: a failed send has none, so a reaction to it would point at nothing."""
    conversation_id = start(api_a, instance_a).json()["id"]
    with hooks.capture():
        target = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "alvo"},
                            format="json").json()["id"]
        queued = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "kind": "reaction",
                                                 "reaction_to": target, "emoji": "👍"}, format="json")
    assert queued.status_code == 202  # its chat's drain sends the target first, then names it
    with company_scope(company_a):
        Message.objects.filter(public_id=target).update(status="failed", status_rank=25)
    before = rows(company_a, Message)
    refused = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "kind": "reaction",
                                              "reaction_to": target, "emoji": "❤"}, format="json")
    assert refused.status_code == 400 and "reaction_to" in refused.json()["errors"]
    assert rows(company_a, Message) == before


def test_delete_for_everyone_and_its_422(api_a, instance_a, company_a, simulator, hooks):
    conversation_id = start(api_a, instance_a).json()["id"]
    with hooks.capture():
        message_id = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "ops"},
                                format="json").json()["id"]
    refused = api_a.delete(f"/api/v1/messages/{message_id}")
    assert refused.status_code == 422 and "not sent" in refused.json()["detail"]
    with company_scope(company_a):
        message = Message.objects.get(public_id=message_id)
    assert send_now(company_a, message) == "sent"
    with hooks.capture(execute=True):
        deleted = api_a.delete(f"/api/v1/messages/{message_id}")
    assert deleted.status_code == 200 and deleted.json()["is_deleted"] is True and deleted.json()["text"] == "ops"
    assert api_a.post(f"/api/v1/messages/{message_id}/retry").status_code == 422


def test_another_companys_ids_are_404_and_change_nothing(api_a, api_b, instance_a, company_a, company_b,
                                                         instance_b, hooks):
    conversation_id = start(api_a, instance_a).json()["id"]
    with hooks.capture():
        message_id = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "mine"},
                                format="json").json()["id"]
    before = (rows(company_a, Conversation), rows(company_a, Message))
    for method, path in (("get", f"/api/v1/conversations/{conversation_id}"),
                         ("get", f"/api/v1/conversations/{conversation_id}/messages"),
                         ("post", f"/api/v1/conversations/{conversation_id}/assign"),
                         ("post", f"/api/v1/conversations/{conversation_id}/close"),
                         ("post", f"/api/v1/conversations/{conversation_id}/reopen"),
                         ("patch", f"/api/v1/conversations/{conversation_id}"),
                         ("post", f"/api/v1/conversations/{conversation_id}/read"),
                         ("get", f"/api/v1/messages/{message_id}"),
                         ("delete", f"/api/v1/messages/{message_id}"),
                         ("post", f"/api/v1/messages/{message_id}/retry")):
        data = {"assignee": None, "status": "closed", "priority": "urgent"} if method != "get" else None
        response = getattr(api_b, method)(path, data, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert response["Content-Type"] == "application/problem+json"
    with hooks.capture() as callbacks:
        foreign = api_b.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "intrusion"},
                             format="json")
        foreign_quote = api_b.post("/api/v1/messages", {"instance_id": str(instance_b.public_id),
                                                        "number": CUSTOMER, "text": "x", "reply_to": message_id},
                                   format="json")
    assert foreign.status_code == 400 and foreign_quote.status_code == 400 and callbacks == []
    assert conversation_id not in [row["id"] for row in api_b.get("/api/v1/conversations").json()["results"]]
    assert (rows(company_a, Conversation), rows(company_a, Message)) == before
    assert rows(company_b, Message) == []


def test_patch_sets_priority_and_status_as_the_inbox_does(api_a, instance_a, company_a, endpoint_a):
    conversation_id = start(api_a, instance_a).json()["id"]
    url = f"/api/v1/conversations/{conversation_id}"
    urgent = api_a.patch(url, {"priority": "urgent"}, format="json")
    assert urgent.status_code == 200 and (urgent.json()["priority"], urgent.json()["status"]) == ("urgent", "open")
    pending = api_a.patch(url, {"status": "pending"}, format="json").json()
    assert (pending["status"], pending["priority"], pending["closed_at"]) == ("pending", "urgent", None)
    closed = api_a.patch(url, {"status": "closed", "priority": "low"}, format="json").json()
    assert (closed["status"], closed["priority"]) == ("closed", "low") and closed["closed_at"]
    assert api_a.patch(url, {"status": "closed"}, format="json").status_code == 200  # no change: nothing told
    reopened = api_a.patch(url, {"status": "open"}, format="json").json()
    assert (reopened["status"], reopened["closed_at"]) == ("open", None)
    # What the inbox's controls tell integrators, once per real change: a priority and open <-> pending are
    # conversation.updated (naming what changed), closing and reopening their own events.
    assert [(kind, data["conversation"]["status"], data.get("changed")) for kind, data in told(company_a)] == [
        ("conversation.opened", "open", None), ("conversation.updated", "open", ["priority"]),
        ("conversation.updated", "pending", ["status"]), ("conversation.updated", "pending", ["priority"]),
        ("conversation.closed", "closed", None), ("conversation.opened", "open", None)]
    with company_scope(company_a):
        stored = Conversation.objects.get(public_id=conversation_id)
    assert (stored.status, stored.priority) == ("open", "low")


@pytest.mark.parametrize(("body", "named"), [
    ({"status": "archived"}, ["status"]), ({"priority": "critical"}, ["priority"]),
    ({"status": "closed", "priority": "critical"}, ["priority"]), ({"status": None}, ["status"]),
    ({}, ["non_field_errors"]), ({"assignee": None}, ["non_field_errors"]),
])
def test_a_bad_patch_is_a_400_naming_the_field_and_changes_nothing(api_a, instance_a, company_a, body, named):
    conversation_id = start(api_a, instance_a).json()["id"]
    before = rows(company_a, Conversation)
    response = api_a.patch(f"/api/v1/conversations/{conversation_id}", body, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == named
    assert rows(company_a, Conversation) == before


def test_read_zeroes_the_unread_count_as_opening_it_in_the_inbox_does(api_a, instance_a, company_a, simulator, hooks):
    for text in ("oi", "tem pão?"):
        simulator.inbound(instance_a.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": text})
    hooks.deliver(instance_a)
    [conversation] = api_a.get("/api/v1/conversations").json()["results"]
    assert conversation["unread_count"] == 2
    read = api_a.post(f"/api/v1/conversations/{conversation['id']}/read")
    assert read.status_code == 200 and read.json()["unread_count"] == 0
    assert api_a.get(f"/api/v1/conversations/{conversation['id']}").json()["unread_count"] == 0
    assert api_a.post(f"/api/v1/conversations/{conversation['id']}/read").json()["unread_count"] == 0


def test_patch_and_read_need_the_write_scope(company_a, instance_a, api_a):
    conversation_id = start(api_a, instance_a).json()["id"]
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    for response in (reader.patch(f"/api/v1/conversations/{conversation_id}", {"priority": "high"}, format="json"),
                     reader.post(f"/api/v1/conversations/{conversation_id}/read")):
        assert response.status_code == 403 and "write" in response.json()["detail"]
    assert api_a.get(f"/api/v1/conversations/{conversation_id}").json()["priority"] == "none"


@pytest.mark.parametrize("query", [{"cursor": "(~G"}, {"cursor": "bz1hYmM="}, {"limit": "null"},
                                   {"limit": "0"}, {"limit": "-1.5"}, {"instance": "nope"}, {"tag": "nope"},
                                   {"assignee": "nobody"}])
def test_malformed_page_or_filter_is_400_naming_it(api_a, instance_a, query):
    """Found by Schemathesis: a bad cursor was a 404, a bad limit the default, a non-UUID filter no filter."""
    conversation_id = start(api_a, instance_a).json()["id"]
    for url in ("/api/v1/conversations", f"/api/v1/conversations/{conversation_id}/messages"):
        if url.endswith("/messages") and not {"cursor", "limit"} & set(query):
            continue
        response = api_a.get(url, query)
        assert response.status_code == 400, (url, query, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert list(response.json()["errors"]) == list(query)


def test_an_unknown_or_foreign_id_filter_is_400_naming_it(api_a, instance_a, company_a, instance_b, company_b,
                                                            owner_b):
    """`?instance=` of another company (or of nothing) answered 200 with nothing, which reads as "no conversations
    there", while contacts' `?channel=` said 400: every id filter of the list now says it does not know the id."""
    with company_scope(company_b):
        tag_b = contact_services.tag_create(company=company_b, name="VIP")
    with company_scope(company_a):
        tag_a = contact_services.tag_create(company=company_a, name="VIP")
    start(api_a, instance_a)
    nobody = "00000000-0000-4000-8000-000000000000"
    for name, value in (("instance", instance_b.public_id), ("instance", nobody), ("tag", tag_b.public_id),
                        ("tag", nobody), ("assignee", owner_b.public_id), ("assignee", nobody)):
        response = api_a.get("/api/v1/conversations", {name: str(value)})
        assert response.status_code == 400, (name, value, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert list(response.json()["errors"]) == [name]
    # The company's own ids still filter (a tag nobody carries: an empty list, rightly).
    assert len(api_a.get("/api/v1/conversations", {"instance": str(instance_a.public_id)}).json()["results"]) == 1
    assert api_a.get("/api/v1/conversations", {"tag": str(tag_a.public_id)}).json()["results"] == []


def test_empty_id_filters_mean_any(api_a, instance_a):
    start(api_a, instance_a)
    assert len(api_a.get("/api/v1/conversations", {"instance": "", "tag": "", "assignee": ""}).json()["results"]) == 1
    assert len(api_a.get("/api/v1/conversations", {"limit": "500"}).json()["results"]) == 1


def test_nul_in_search_or_idempotency_key_is_400_not_500(api_a, instance_a, company_a):
    response = api_a.get("/api/v1/conversations", {"search": "a\x00"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["search"]
    response = api_a.post("/api/v1/messages", {"instance_id": str(instance_a.public_id), "number": CUSTOMER,
                                               "text": "Oi"}, format="json", HTTP_IDEMPOTENCY_KEY="order\x001")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["Idempotency-Key"]
    assert rows(company_a, Message) == [] and rows(company_a, Conversation) == []


def bulk(api, messages, **headers):
    return api.post("/api/v1/messages/bulk", {"messages": messages}, format="json", **headers)


def test_bulk_send_stores_every_message_in_order_and_each_chat_leaves_in_that_order(api_a, instance_a, company_a,
                                                                                   simulator, hooks):
    conversation_id = start(api_a, instance_a).json()["id"]
    by_number = {"instance_id": str(instance_a.public_id), "number": "5511944443333"}
    with hooks.capture() as wakes:
        response = bulk(api_a, [{**by_number, "text": "pedido 1"}, {"conversation_id": conversation_id,
                                                                     "text": "olá", "agent_name": "Alice"},
                                {**by_number, "kind": "location", "location": {"latitude": -23.5, "longitude": -46.6}},
                                {**by_number, "text": "pedido 3"}])
    assert response.status_code == 202, response.content
    sent = response.json()["messages"]
    assert [(item["kind"], item["text"], item["status"]) for item in sent] == [
        ("text", "pedido 1", "queued"), ("text", "olá", "queued"), ("location", "", "queued"),
        ("text", "pedido 3", "queued")]
    assert sent[1]["sender_label"] == "Alice" and sent[0]["conversation"] == sent[2]["conversation"]
    assert len(wakes) >= 4  # each message's commit hook wakes its chat's drain (the live pushes too)
    with company_scope(company_a):
        stored = list(Message.objects.order_by("pk"))
    assert [message.text for message in stored] == ["pedido 1", "olá", "", "pedido 3"]
    send_now(company_a, stored[0])
    send_now(company_a, stored[1])
    gateway = simulator.sent(instance_a.gateway_name)
    to_number = [entry["message_type"] for entry in gateway if entry["remote_jid"].startswith("5511944443333")]
    assert to_number == ["conversation", "locationMessage", "conversation"]  # that chat's order kept
    assert len(gateway) == 4


def test_bulk_send_is_all_or_nothing_and_names_each_refused_message(api_a, instance_a, company_a, instance_b, hooks):
    ours = {"instance_id": str(instance_a.public_id), "number": "5511944443333", "text": "ok"}
    theirs = {"instance_id": str(instance_b.public_id), "number": CUSTOMER, "text": "not ours"}  # company B's
    for messages, index, field in (([ours, {**ours, "text": "  "}], "1", "text"),
                                   ([ours, {**ours, "kind": "nonsense"}], "1", "kind"),  # refused by the serializer
                                   ([ours, ours, theirs], "2", "instance_id"),
                                   ([{**ours, "kind": "image"}, ours], "0", "media")):
        response = bulk(api_a, messages)
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/problem+json"
        errors = response.json()["errors"]["messages"]
        assert list(errors) == [index] and field in errors[index], errors
        assert response.json()["detail"].startswith(f"messages: {index}: {field}: ")
    for messages in ([], [ours] * 101, "not a list"):
        response = bulk(api_a, messages)
        assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    with company_scope(company_a):  # nothing half-written: not even the conversation the first one opened
        assert not Message.objects.exists() and not Conversation.objects.exists()


def test_a_refused_bulk_leaves_no_media_file_and_an_accepted_one_stores_it(api_a, instance_a, company_a, company_b,
                                                                          hooks, settings):
    """A bulk whose first message carries a file and whose second is refused: 400, and no file written (the file
    is written with its row, after every message was checked). Accepted, the file is stored once, under the
    message; company B sees neither the message nor its conversation."""
    import base64
    from pathlib import Path

    image = {"instance_id": str(instance_a.public_id), "number": "5511944443333", "kind": "image",
             "media_base64": base64.b64encode(PNG).decode(), "filename": "nota.png"}
    refused = bulk(api_a, [image, {**image, "kind": "text", "text": " "}])
    assert refused.status_code == 400 and list(refused.json()["errors"]["messages"]) == ["1"]
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [path for path in media.rglob("*") if path.is_file()]
    with hooks.capture():
        accepted = bulk(api_a, [image, {"instance_id": image["instance_id"], "number": image["number"],
                                        "text": "segue a nota"}])
    assert accepted.status_code == 202 and accepted.json()["messages"][0]["has_stored_media"] is True
    assert len([path for path in media.rglob("*") if path.is_file()]) == 1
    with company_scope(company_a):
        stored = Message.objects.get(kind="image")
        assert stored.media_file.name.startswith("messages/") and stored.media_file.read() == PNG
    with company_scope(company_b):
        assert not Message.objects.exists() and not Conversation.objects.exists()


def test_base64_media_must_be_what_its_kind_says(api_a, api_b, instance_a, instance_b, company_a, company_b, hooks,
                                                 settings):
    """kind image with 100 random bytes as media_base64 (a data: URL too): 400 problem naming media_base64, nothing
    stored, no file written; in a bulk, named by its index. A real PNG, an OGG audio and random bytes as a document
    are accepted; a media_url is the gateway's to fetch. Company B's refusal leaves A's messages alone."""
    import base64
    from pathlib import Path

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    target = {"instance_id": str(instance_a.public_id), "number": CUSTOMER}
    damaged = b64(bytes(range(100)))
    refusals = [({**target, "kind": "image", "media_base64": damaged, "filename": "foto.png"}, "valid image"),
                ({**target, "kind": "sticker", "media_base64": f"data:image/webp;base64,{damaged}"}, "valid image"),
                ({**target, "kind": "video", "media_base64": b64(PNG)}, "a video"),
                ({**target, "kind": "audio", "media_base64": damaged, "voice": True}, "an audio")]
    for payload, reason in refusals:
        response = api_a.post("/api/v1/messages", payload, format="json")
        assert response.status_code == 400 and response["Content-Type"] == "application/problem+json", payload
        assert list(response.json()["errors"]) == ["media_base64"], payload
        assert reason in response.json()["errors"]["media_base64"][0], payload
    in_bulk = bulk(api_a, [{**target, "text": "oi"}, refusals[0][0]])
    assert in_bulk.status_code == 400 and list(in_bulk.json()["errors"]["messages"]["1"]) == ["media_base64"]
    assert rows(company_a, Message) == []
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [path for path in media.rglob("*") if path.is_file()]
    with hooks.capture():
        accepted = [api_a.post("/api/v1/messages", payload, format="json") for payload in (
            {**target, "kind": "image", "media_base64": f"data:image/png;base64,{b64(PNG)}", "filename": "a.png"},
            {**target, "kind": "audio", "media_base64": b64(b"OggS\x00\x02" + bytes(60)), "voice": True},
            {**target, "kind": "document", "media_base64": damaged, "filename": "dados.bin"},
            {**target, "kind": "image", "media_url": "https://example.com/foto.png"})]
    assert [response.status_code for response in accepted] == [202] * 4, [r.content for r in accepted]
    with company_scope(company_a):
        assert list(Message.objects.order_by("pk").values_list("kind", flat=True)) == [
            "image", "audio", "document", "image"]
    theirs = api_b.post("/api/v1/messages", {"instance_id": str(instance_b.public_id), "number": CUSTOMER,
                                             "kind": "image", "media_base64": damaged}, format="json")
    assert theirs.status_code == 400 and list(theirs.json()["errors"]) == ["media_base64"]
    assert rows(company_b, Message) == [] and len(rows(company_a, Message)) == 4


def test_bulk_send_honours_the_idempotency_key_and_the_key_s_budget(api_a, api_b, instance_a, company_a, hooks,
                                                                   settings):
    from tenants.authentication import ApiKeyRateThrottle

    items = [{"instance_id": str(instance_a.public_id), "number": f"551194444{index:04d}", "text": f"n{index}"}
             for index in range(3)]
    with hooks.capture():
        first = bulk(api_a, items, HTTP_IDEMPOTENCY_KEY="campaign-7")
        again = bulk(api_a, items, HTTP_IDEMPOTENCY_KEY="campaign-7")
    assert (first.status_code, again.status_code) == (202, 200)
    assert [item["id"] for item in again.json()["messages"]] == [item["id"] for item in first.json()["messages"]]
    with company_scope(company_a):
        assert Message.objects.count() == 3

    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "4/min"}
    try:
        with hooks.capture():
            assert bulk(api_a, items).status_code == 202  # 3 of the key's 4
            refused = bulk(api_a, items)  # 3 more: only 1 left, so none is taken
            assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
            assert api_a.get("/api/v1/conversations").status_code == 200  # the one left
            assert api_b.get("/api/v1/conversations").status_code == 200  # company B's key: its own budget
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    with company_scope(company_a):
        assert Message.objects.count() == 6


def test_a_send_over_the_keys_budget_is_a_429_whose_retry_after_is_enough(api_a, instance_a, company_a, hooks,
                                                                          settings):
    """docs/api.md "Rate limit": the 429 is a `throttled` problem with Retry-After in whole seconds, nothing of the
    refused request is stored, and the same request sent again after Retry-After is accepted (the bucket refills)."""
    from tenants.authentication import ApiKeyRateThrottle

    body = {"instance_id": str(instance_a.public_id), "number": CUSTOMER, "text": "Seu pedido saiu"}
    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "2/s"}
    try:
        with hooks.capture():
            assert [api_a.post("/api/v1/messages", body, format="json").status_code for _ in range(2)] == [202, 202]
            refused = api_a.post("/api/v1/messages", body, format="json")
            assert refused.status_code == 429 and refused["Content-Type"] == "application/problem+json"
            assert refused.json()["type"] == "https://recado.dev/problems/throttled"
            assert refused["Retry-After"] == "1"  # one unit at 2 per second: half a second, rounded up
            assert len(rows(company_a, Message)) == 2
            time.sleep(int(refused["Retry-After"]))
            assert api_a.post("/api/v1/messages", body, format="json").status_code == 202
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert len(rows(company_a, Message)) == 3


def test_bulk_reactions_replace_each_other_in_order(api_a, instance_a, company_a, company_b, hooks):
    """A bulk holding reactions stores them one at a time: the later reaction on a message replaces the earlier,
    as when sent one per request. Company B's key cannot react to company A's message."""
    conversation_id = start(api_a, instance_a).json()["id"]
    with hooks.capture():
        target = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "alvo"},
                            format="json").json()["id"]
        response = bulk(api_a, [{"conversation_id": conversation_id, "kind": "reaction", "reaction_to": target,
                                 "emoji": emoji} for emoji in ("👍", "❤")])
    assert response.status_code == 202, response.content
    with company_scope(company_a):
        visible = Message.objects.filter(kind="reaction", is_deleted=False).values_list("emoji", flat=True)
        assert list(visible) == ["❤"]
    api_b = APIClient()
    api_b.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_b).secret}")
    refused = bulk(api_b, [{"conversation_id": conversation_id, "kind": "reaction", "reaction_to": target,
                            "emoji": "😡"}])
    assert refused.status_code == 400 and "conversation_id" in refused.json()["errors"]["messages"]["0"]


def test_bulk_send_needs_the_messages_scope(company_a, instance_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    response = bulk(client, [{"instance_id": str(instance_a.public_id), "number": CUSTOMER, "text": "x"}])
    assert response.status_code == 403


def test_an_api_send_reads_its_conversation_for_the_inbox_only_when_someone_listens(api_a, instance_a, company_a,
                                                                                    company_b, hooks):
    """The inbox row is drawn after commit from a fresh read of the conversation, and only for a topic some
    page listens to: with no inbox open the send costs that read less; with one open the row arrives. Company B's
    inbox hears nothing of it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.realtime_listener import Listener

    conversation_id = start(api_a, instance_a).json()["id"]

    def send(text: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries, hooks.capture(execute=True):
            response = api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "text": text},
                                  format="json")
        assert response.status_code == 202
        return [query["sql"] for query in queries.captured_queries
                if query["sql"].startswith("SELECT") and 'FROM "messaging_conversation"' in query["sql"]
                and 'WHERE ("messaging_conversation"."company_id" = ' in query["sql"]
                and '"messaging_conversation"."id" = ' in query["sql"]]  # by id: the row's read, not the lookup

    assert send("nobody listens") == []  # no row drawn: the conversation with its contact is not read
    ear_a, ear_b = Listener().join(company_a, "inbox"), Listener().join(company_b, "inbox")
    assert len(send("someone listens")) == 1
    assert any("someone listens" in frame for frame in ear_a.drain())
    assert ear_b.drain() == []


def test_output_serializers_work_their_fields_out_once_and_answer_as_drf_would(api_a, instance_a, company_a, hooks):
    """MessageSerializer and ConversationSerializer derive their fields from the model once per class and write
    their output with one shared set of them; every serializer still gets its own field objects (`fields`), and
    the output is what DRF's ModelSerializer gives."""
    from rest_framework import serializers

    from messaging.api import ConversationSerializer, MessageSerializer
    from tenants.api import ReadOnlyModelSerializer

    conversation_id = start(api_a, instance_a).json()["id"]
    with hooks.capture():
        api_a.post("/api/v1/messages", {"conversation_id": conversation_id, "text": "olá", "agent_name": "Alice"},
                   format="json")
    with company_scope(company_a):
        message = Message.objects.select_related("conversation").get()
        conversation = Conversation.objects.select_related("contact", "instance").get()
    located = Message(company=company_a, conversation=message.conversation, direction="out", kind="location",
                      latitude=-23.55, longitude=-46.63, location_name="Loja", status="queued")
    for cached, obj in ((MessageSerializer, message), (MessageSerializer, located),
                        (ConversationSerializer, conversation)):
        class Plain(cached):  # DRF's own field building and output, every time
            def get_fields(self):
                return serializers.ModelSerializer.get_fields(self)

            to_representation = serializers.ModelSerializer.to_representation

        assert cached(obj).data == Plain(obj).data
        assert cached([obj, obj], many=True).data == Plain([obj, obj], many=True).data
        first, second = cached(obj).fields, cached(obj).fields
        assert all(first[name] is not second[name] for name in first)

    class Writable(ReadOnlyModelSerializer):
        class Meta:
            model = Message
            fields = ["text"]

    with pytest.raises(TypeError):
        Writable(message).data  # noqa: B018


def test_a_send_builds_only_the_input_fields_it_uses_and_validates_as_before():
    """MessageCreateSerializer (SparseInputSerializer) leaves out the optional fields a request does not give (a
    location, cards, a list or buttons: nested serializers DRF rebuilt for every send); what a request gives is
    validated as before, and a list's child (the bulk route) keeps every field for every item."""
    from messaging.api import BulkMessageCreateSerializer, MessageCreateSerializer

    number = {"instance_id": "0b7e3f52-1d7c-4e8e-9c1a-5d6e7f8a9b0c", "number": "5511987654321"}
    text = MessageCreateSerializer(data={**number, "text": "olá"})
    assert text.is_valid(), text.errors
    assert not {"location", "contacts", "interactive", "reply_to"} & set(text.fields)
    assert text.validated_data["kind"] == "text" and text.validated_data["voice"] is False  # defaults still there
    assert "text" not in text.fields and "text" in MessageCreateSerializer._shared_input_fields()  # one set shared
    located = MessageCreateSerializer(data={**number, "kind": "location", "location": {"latitude": 91}})
    assert not located.is_valid()
    assert set(located.errors["location"]) == {"latitude", "longitude"}
    with translation.override("pt-br"):  # a shared field's errors are still in the request's language
        wrong = MessageCreateSerializer(data={**number, "kind": "nope", "text": "x" * 5000})
        assert not wrong.is_valid()
        assert "não é uma escolha válida" in str(wrong.errors["kind"][0])
    wrong = MessageCreateSerializer(data={**number, "kind": "nope", "text": "x" * 5000})
    assert not wrong.is_valid() and set(wrong.errors) == {"kind", "text"}
    assert "is not a valid choice" in str(wrong.errors["kind"][0])
    bulk = BulkMessageCreateSerializer(data={"messages": [{**number, "text": "1"},
                                                          {**number, "kind": "location",
                                                           "location": {"latitude": 1, "longitude": 2}}]})
    assert bulk.is_valid(), bulk.errors
    assert bulk.validated_data["messages"][1]["location"] == {"latitude": 1, "longitude": 2, "name": "",
                                                              "address": ""}
    assert "location" not in bulk.validated_data["messages"][0]


def test_an_empty_conversation_update_is_refused_in_the_request_s_language():
    """The one API message left out of the pt-BR catalogue (the rest were translated)."""
    from messaging.api import ConversationUpdateSerializer

    with translation.override("pt-br"):
        empty = ConversationUpdateSerializer(data={})
        assert not empty.is_valid()
        assert str(empty.errors["non_field_errors"][0]) == "Informe status, prioridade ou os dois."
    empty = ConversationUpdateSerializer(data={})
    assert not empty.is_valid() and str(empty.errors["non_field_errors"][0]) == "Give status, priority or both."


def test_the_media_url_of_an_event_serves_the_stored_file_to_its_company_only(api_a, api_b, instance_a, company_a,
                                                                               hooks):
    """message.received and message.sent give `media.url` = /api/v1/messages/<id>/media: it answers the stored file
    to any key of the company with `read` (it was a 404 for everyone), 404 as a problem to another company's key
    and for a message with no stored file."""
    import base64

    from integrations.payloads import message_data

    target = {"instance_id": str(instance_a.public_id), "number": CUSTOMER}
    with hooks.capture():
        image = api_a.post("/api/v1/messages", {**target, "kind": "image", "filename": "nota.png",
                                                "media_base64": base64.b64encode(PNG).decode()}, format="json")
        text = api_a.post("/api/v1/messages", {**target, "text": "sem arquivo"}, format="json")
    assert image.status_code == 202 and text.status_code == 202
    with company_scope(company_a):
        url = message_data(Message.objects.get(public_id=image.json()["id"]))["message"]["media"]["url"]
    assert url == f"/api/v1/messages/{image.json()['id']}/media"
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    served = reader.get(url)
    assert served.status_code == 200, served.content
    assert served["Content-Type"] == "image/png" and b"".join(served.streaming_content) == PNG
    # A client saying what it wants (an image) gets it, not a 406 for not accepting JSON.
    assert reader.get(url, HTTP_ACCEPT="image/png, image/*").status_code == 200
    for client, path in ((api_b, url), (api_a, f"/api/v1/messages/{text.json()['id']}/media")):
        missing = client.get(path)
        assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"


def test_a_refused_bulk_names_every_refused_message_at_once(api_a, instance_a, company_a):
    """docs/api.md: the 400 names each refused message by its index. It named only the first one found while
    building them: an integrator fixing message 1 of a campaign learnt about message 3 on the next try."""
    conversation_id = start(api_a, instance_a).json()["id"]
    good = {"conversation_id": conversation_id, "text": "ok"}
    unknown = "00000000-0000-4000-8000-000000000000"
    refused = bulk(api_a, [good, {**good, "kind": "reaction"}, good, {**good, "text": " "},
                           {**good, "reply_to": unknown}, {"conversation_id": unknown, "text": "x"},
                           {"conversation_id": unknown, "text": "y"}])
    assert refused.status_code == 400 and refused["Content-Type"] == "application/problem+json"
    errors = refused.json()["errors"]["messages"]
    assert list(errors) == ["1", "3", "4", "5", "6"]
    assert list(errors["1"]) == ["reaction_to"] and list(errors["4"]) == ["reply_to"]
    assert list(errors["5"]) == list(errors["6"]) == ["conversation_id"]
    with company_scope(company_a):
        assert not Message.objects.exists()
    keyed = bulk(api_a, [{**good, "kind": "reaction"}, good, {**good, "text": ""}], HTTP_IDEMPOTENCY_KEY="campaign-7")
    assert keyed.status_code == 400 and list(keyed.json()["errors"]["messages"]) == ["0", "2"]
    with company_scope(company_a):
        assert not Message.objects.exists()


def test_a_file_as_large_as_documented_can_be_sent_as_base64(api_a, instance_a, company_a, hooks):
    """media_base64 is documented up to 16 MB, but a request body over Django's default 2.5 MB was refused
    with a 500 before the file was even read: a 3 MB PDF could not be sent through the API."""
    import base64

    document = b"%PDF-1.4\n" + bytes(3 * 1024 * 1024)
    with hooks.capture():
        sent = api_a.post("/api/v1/messages", {"instance_id": str(instance_a.public_id), "number": CUSTOMER,
                                               "kind": "document", "filename": "catalogo.pdf",
                                               "media_base64": base64.b64encode(document).decode()}, format="json")
    assert sent.status_code == 202, sent.content[:300]
    with company_scope(company_a):
        assert Message.objects.get(public_id=sent.json()["id"]).media_file.size == len(document)


def test_a_body_over_the_limit_is_a_413_problem_not_a_500(api_a, instance_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api_a.post("/api/v1/messages", {"instance_id": str(instance_a.public_id), "number": CUSTOMER,
                                               "text": "x" * 200}, format="json")
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert "too large" in response.json()["detail"] and "at most" in response.json()["detail"]
