"""Merging a duplicate contact into another: services (what moves, what wins, concurrency), API and pages."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from benchmarks.ingest import message_event
from contacts import services
from contacts.models import Contact, ContactIdentifier, ContactTag
from instances import services as inbound_services
from instances.gateways.events import MessageReceived
from instances.models import InboundEvent
from integrations import bots
from integrations import services as integration_services
from integrations.models import BotPauseChange, WebhookEvent
from messaging.inbound import message_record_inbound
from messaging.models import Conversation, Message
from tenants import realtime
from tenants.scoping import company_scope
from tests.factories import make_contact, make_instance, make_platform, make_tag
from tests.messaging.test_event_docs import documented, paths
from tests.realtime_listener import Listener
from tests.threads import run_side_by_side, wait_until_another_waits_for_a_lock, while_a_transaction_holds

PROBLEM = "application/problem+json"
ANA_NUMBER = "5511987654321"
ANA_LID = "99887766554433@lid"


def conversation(company, contact, *, status="open", unread=0, assignee=None, priority="none", at=None,
                 texts=()) -> Conversation:
    """A conversation with messages written straight to the database (what the inbox would hold)."""
    at = at or timezone.now()
    with company_scope(company):
        row = Conversation.objects.create(company=company, instance=contact.instance, contact=contact, status=status,
                                          unread_count=unread, assignee=assignee, priority=priority,
                                          last_message_at=at, last_message_preview=texts[-1] if texts else "")
        for index, text in enumerate(texts):
            Message.objects.create(company=company, conversation=row, instance=contact.instance, direction="in",
                                   text=text, status="delivered", gateway_message_id=f"{row.pk}-{index}",
                                   created_at=at - timedelta(minutes=len(texts) - index))
    return row


def event_types(company) -> list[str]:
    with company_scope(company):
        return list(WebhookEvent.objects.order_by("pk").values_list("type", flat=True))


def event_data(company, event_type: str) -> list[dict]:
    with company_scope(company):
        return [event.payload["data"] for event in WebhookEvent.objects.filter(type=event_type).order_by("pk")]


@pytest.fixture
def endpoint_a(company_a):
    with company_scope(company_a):
        return integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")


@pytest.fixture
def pair(company_a, instance_a):
    """Ana (by number, with a custom name) and her duplicate: the same person known by her LID."""
    vip, late = make_tag(company=company_a, name="VIP"), make_tag(company=company_a, name="Late")
    make_platform(company=company_a, instance=instance_a, slug="sales-bot")
    ana = make_contact(company=company_a, instance=instance_a, identifier=ANA_NUMBER, custom_name="Ana Paula",
                       tags=[vip])
    dup = make_contact(company=company_a, instance=instance_a, identifier=ANA_LID, name="Ana WhatsApp",
                       custom_name="Duplicated", photo_url="https://example.com/ana.png", platform="sales-bot",
                       tags=[vip, late])
    return {"ana": ana, "dup": dup, "vip": vip, "late": late}


# --- the service ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_merge_moves_identifiers_tags_history_and_fills_only_empty_fields(company_a, instance_a, pair):
    ana, dup = pair["ana"], pair["dup"]
    with company_scope(company_a):
        bots.bot_pause(company=company_a, contact=dup, reason=BotPauseChange.Reason.API, actor="ERP")
        result = services.contact_merge(company=company_a, contact=ana, other=dup)
        kept = Contact.objects.get()
        assert result.contact == kept == ana
        assert not Contact.objects.filter(pk=dup.pk).exists()
        # Ana's own custom name wins; what she had empty comes from the duplicate.
        assert (kept.custom_name, kept.name, kept.photo_url, kept.platform) == (
            "Ana Paula", "Ana WhatsApp", "https://example.com/ana.png", "sales-bot")
        assert sorted(ContactIdentifier.objects.filter(contact=kept).values_list("identifier", "kind")) == [
            ("551187654321", "phone_variant"), (ANA_NUMBER, "primary"), (ANA_LID, "lid")]
        assert sorted(kept.tags.values_list("name", flat=True)) == ["Late", "VIP"]
        assert ContactTag.objects.count() == 2
        assert list(BotPauseChange.objects.values_list("contact_id", flat=True)) == [kept.pk]
        # Identity lookups of the merged contact's forms find the kept contact.
        found, created = services.contact_get_or_create_by_identity(company=company_a, instance=instance_a,
                                                                    identifier=ANA_LID)
        assert (found, created) == (kept, False)


@pytest.mark.django_db
def test_a_lid_only_contact_takes_the_merged_number_as_its_main_identifier(company_a, instance_a, pair):
    with company_scope(company_a):
        services.contact_merge(company=company_a, contact=pair["dup"], other=pair["ana"])
        kept = Contact.objects.get()
        assert kept.pk == pair["dup"].pk and kept.identifier == ANA_NUMBER
        assert kept.custom_name == "Duplicated"  # the kept contact's own value wins
        assert sorted(ContactIdentifier.objects.filter(contact=kept).values_list("identifier", "kind")) == [
            ("551187654321", "phone_variant"), (ANA_NUMBER, "primary"), (ANA_LID, "lid")]


@pytest.mark.django_db
def test_two_conversations_become_one_with_every_message(company_a, instance_a, pair, owner_a):
    now = timezone.now()
    kept_conversation = conversation(company_a, pair["ana"], status="closed", unread=0, priority="low",
                                     at=now - timedelta(hours=2), texts=["old 1", "old 2"])
    gone_conversation = conversation(company_a, pair["dup"], status="open", unread=3, priority="high",
                                     assignee=owner_a, at=now, texts=["new 1", "new 2", "new 3"])
    with company_scope(company_a):
        result = services.contact_merge(company=company_a, contact=pair["ana"], other=pair["dup"])
        merged = Conversation.objects.get()
        assert merged.pk == kept_conversation.pk and result.removed_conversation_id == gone_conversation.public_id
        assert result.moved_messages == 3
        assert list(Message.objects.filter(conversation=merged).order_by("created_at").values_list(
            "text", flat=True)) == ["old 1", "old 2", "new 1", "new 2", "new 3"]
        assert (merged.status, merged.closed_at, merged.unread_count, merged.priority, merged.assignee) == (
            "open", None, 3, "high", owner_a)
        assert merged.last_message_preview == "new 3" and merged.last_message_at == now


@pytest.mark.django_db
def test_the_merged_contacts_only_conversation_becomes_the_kept_ones(company_a, pair):
    only = conversation(company_a, pair["dup"], texts=["hello"])
    with company_scope(company_a):
        result = services.contact_merge(company=company_a, contact=pair["ana"], other=pair["dup"])
        assert result.conversation.pk == only.pk and result.removed_conversation_id is None
        assert Conversation.objects.get().contact_id == pair["ana"].pk
        assert Message.objects.get().conversation_id == only.pk


@pytest.mark.django_db
def test_merge_refuses_itself_another_instance_and_groups(company_a, instance_a, pair):
    other_line = make_instance(company=company_a, name="support")
    elsewhere = make_contact(company=company_a, instance=other_line, identifier="5511911112222")
    group = make_contact(company=company_a, instance=instance_a, identifier="120363025246125888@g.us")
    with company_scope(company_a):
        for other in (pair["ana"], elsewhere, group, None):
            with pytest.raises(ValidationError) as error:
                services.contact_merge(company=company_a, contact=pair["ana"], other=other)
            assert list(error.value.message_dict) == ["merge"]
        assert Contact.objects.count() == 4


@pytest.mark.django_db
def test_merge_emits_contact_updated_and_contact_merged_naming_the_gone_contact(company_a, pair, endpoint_a):
    gone_conversation = conversation(company_a, pair["dup"], texts=["hi"])
    kept_conversation = conversation(company_a, pair["ana"], texts=["hello"])
    before = len(event_types(company_a))
    with company_scope(company_a):
        services.contact_merge(company=company_a, contact=pair["ana"], other=pair["dup"])
    assert event_types(company_a)[before:] == ["contact.updated", "contact.merged"]
    [merged] = event_data(company_a, "contact.merged")
    assert merged["contact"]["id"] == str(pair["ana"].public_id)
    assert [tag["name"] for tag in merged["contact"]["tags"]] == ["Late", "VIP"]
    assert merged["merged"] == {"id": str(pair["dup"].public_id), "identifier": ANA_LID, "name": "Ana WhatsApp",
                                "conversation_id": str(gone_conversation.public_id)}
    assert merged["conversation_id"] == str(kept_conversation.public_id)


def _inbound(message_id: str, number: str = ANA_NUMBER, lid: str | None = None) -> MessageReceived:
    return MessageReceived(event="messages.upsert", instance="sales", message_id=message_id,
                           remote_jid=f"{number}@s.whatsapp.net", phone_jid=f"{number}@s.whatsapp.net", lid=lid,
                           from_me=False, kind="text", message_type="conversation", timestamp=timezone.now(),
                           push_name="Ana", text=f"message {message_id}")


@pytest.mark.django_db(transaction=True)
def test_an_inbound_message_applied_during_the_merge_moves_with_it(company_a, instance_a):
    """The message's transaction holds the merged contact's conversation; the merge waits for it, then moves it."""
    ana = make_contact(company=company_a, instance=instance_a, identifier="5511911112222", name="Ana")
    dup = make_contact(company=company_a, instance=instance_a, identifier=ANA_NUMBER)
    conversation(company_a, ana, texts=["first"])
    conversation(company_a, dup, texts=["second"])
    merged = threading.Event()

    def receive() -> None:
        with company_scope(company_a):
            assert message_record_inbound(company=company_a, instance=instance_a, event=_inbound("late-1"))

    def merge() -> None:
        with company_scope(company_a):
            services.contact_merge(company=company_a, contact=ana, other=dup)
        merged.set()

    # The merge cannot finish while the message's transaction holds the conversation.
    assert while_a_transaction_holds(receive, release=lambda: merged.wait(timeout=1), meanwhile=merge) == []
    with company_scope(company_a):
        assert list(Contact.objects.values_list("pk", flat=True)) == [ana.pk]
        only = Conversation.objects.get()
        assert sorted(Message.objects.filter(conversation=only).values_list("text", flat=True)) == [
            "first", "message late-1", "second"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("conversations", ["both", "merged_only", "none"])
def test_a_message_whose_sender_was_read_before_the_merge_committed_is_applied_at_once_to_the_kept_contact(
        company_a, instance_a, conversations):
    """The drain read the merged contact as the sender just before the merge committed, then waited for it (its
    conversation's lock, or the new conversation's key check on the contact): once the merge commits, the apply
    finds that contact gone, looks the sender up again (the kept contact, through the moved identifiers) and
    succeeds in the same run, whichever of the two had a conversation. The message is stored once."""
    customer = "5511900000000"  # benchmarks.ingest's first customer
    ana = make_contact(company=company_a, instance=instance_a, identifier="5511911112222", name="Ana")
    dup = make_contact(company=company_a, instance=instance_a, identifier=customer)
    texts = []
    if conversations == "both":
        conversation(company_a, ana, texts=["first"])
        texts.append("first")
    if conversations in ("both", "merged_only"):
        conversation(company_a, dup, texts=["second"])
        texts.append("second")
    body = message_event(instance=instance_a.gateway_name, number=0, run="merge", text="during", customers=1)
    with company_scope(company_a):
        event = InboundEvent.objects.create(company=company_a, instance=instance_a, event="MESSAGES_UPSERT",
                                            payload=body, key="merge-race-1")
    merge_holds, outcomes = threading.Event(), []

    def merge() -> None:
        try:
            with company_scope(company_a), transaction.atomic():
                services.contact_merge(company=company_a, contact=ana, other=dup)
                merge_holds.set()
                wait_until_another_waits_for_a_lock()  # the drain has read the sender and waits for this transaction
        finally:
            merge_holds.set()
            connection.close()

    def drain() -> None:
        merge_holds.wait(timeout=10)
        try:
            with company_scope(company_a):
                outcomes.append(inbound_services.inbound_event_claim_next(company=company_a))
        except inbound_services.InboundEventFailed as failure:
            outcomes.append(failure)
        finally:
            connection.close()

    run_side_by_side([threading.Thread(target=merge), threading.Thread(target=drain)])
    assert outcomes == [(event.pk, "processed")]
    with company_scope(company_a):
        assert list(Contact.objects.values_list("pk", flat=True)) == [ana.pk]
        only = Conversation.objects.get()
        assert only.contact_id == ana.pk
        assert sorted(Message.objects.filter(conversation=only).values_list("text", flat=True)) == sorted(
            [*texts, "during"])
        assert InboundEvent.objects.get(pk=event.pk).attempts == 0  # no failed attempt counted


@pytest.mark.django_db(transaction=True)
def test_a_merge_that_meets_the_kept_contacts_new_conversation_is_retried_and_merges_both(company_a, instance_a,
                                                                                         endpoint_a, monkeypatch):
    """An inbound message opens the kept contact's first conversation while the merge moves the other's to it: the
    merge waits for the message's transaction, meets the one-conversation-per-contact constraint when it commits,
    and is retried, merging both conversations. Neither side fails (no deadlock: the kept contact's lock lets the
    message's foreign-key check through)."""
    ana = make_contact(company=company_a, instance=instance_a, identifier=ANA_NUMBER, name="Ana")
    dup = make_contact(company=company_a, instance=instance_a, identifier=ANA_LID)
    conversation(company_a, dup, texts=["older"])
    attempts = []
    one_attempt = services._merge
    monkeypatch.setattr(services, "_merge", lambda *args: attempts.append(1) or one_attempt(*args))

    def receive() -> None:
        with company_scope(company_a):
            assert message_record_inbound(company=company_a, instance=instance_a, event=_inbound("new-1"))

    def merge() -> None:
        with company_scope(company_a):
            services.contact_merge(company=company_a, contact=ana, other=dup)

    # The message's transaction is let go once the merge waits for its conversation.
    assert while_a_transaction_holds(receive, release=wait_until_another_waits_for_a_lock, meanwhile=merge) == []
    assert len(attempts) == 2  # the clash happened (the merge did not just wait its turn) and the retry merged
    with company_scope(company_a):
        assert list(Contact.objects.values_list("pk", flat=True)) == [ana.pk]
        only = Conversation.objects.get()
        assert only.contact_id == ana.pk
        assert sorted(Message.objects.filter(conversation=only).values_list("text", flat=True)) == [
            "message new-1", "older"]
        assert event_types(company_a).count("contact.merged") == 1  # the failed attempt's events rolled back



# --- API ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_api_merge(api_a, company_a, pair):
    response = api_a.post(f"/api/v1/contacts/{pair['ana'].public_id}/merge", {"merge": str(pair["dup"].public_id)},
                          format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(pair["ana"].public_id)
    assert ANA_LID in body["extra_identifiers"] and [tag["name"] for tag in body["tags"]] == ["Late", "VIP"]
    assert api_a.get(f"/api/v1/contacts/{pair['dup'].public_id}").status_code == 404


@pytest.mark.django_db
def test_api_merge_errors_name_the_field_and_change_nothing(api_a, api_b, company_a, company_b, instance_b, pair):
    theirs = make_contact(company=company_b, instance=instance_b, identifier="5511933334444")
    url = f"/api/v1/contacts/{pair['ana'].public_id}/merge"
    for value in (str(pair["ana"].public_id), "5f0c6b2e-8a0e-4d4c-9a57-2f1d5b7e9c10", "not-an-id",
                  str(theirs.public_id)):
        response = api_a.post(url, {"merge": value}, format="json")
        assert response.status_code == 400 and response["Content-Type"] == PROBLEM, response.content
        assert "merge" in response.json()["errors"], response.json()
    assert api_a.post(url, {}, format="json").status_code == 400
    # Another company's contact in the path: 404, and nothing of either company changed.
    response = api_b.post(url, {"merge": str(theirs.public_id)}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    with company_scope(company_a):
        assert Contact.objects.count() == 2
    with company_scope(company_b):
        assert Contact.objects.count() == 1


# --- pages ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_merge_page_search_confirm_and_merge(client_a, company_a, pair):
    base = f"/c/{company_a.slug}/contacts/{pair['ana'].public_id}/merge/"
    detail = client_a.get(f"/c/{company_a.slug}/contacts/{pair['ana'].public_id}/")
    assert base in detail.content.decode()
    found = client_a.get(base, {"q": "duplicated"}, headers={"HX-Request": "true", "HX-Target": "merge-candidates"})
    assert found.status_code == 200
    assert str(pair["dup"].public_id) in found.content.decode() and "Ana Paula" not in found.content.decode()
    confirm = client_a.get(base, {"merge": str(pair["dup"].public_id)})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and 'data-testid="merge-confirm"' in page
    assert ANA_LID in page and "https://example.com/ana.png" in page
    assert "Its bot pause history." not in page  # it has none
    with company_scope(company_a):
        assert Contact.objects.count() == 2  # the confirmation step changes nothing
    response = client_a.post(base, {"merge": str(pair["dup"].public_id)})
    assert response.status_code == 302
    with company_scope(company_a):
        assert list(Contact.objects.all()) == [pair["ana"]]


@pytest.mark.django_db
def test_merge_page_search_with_a_nul_character_is_searched_without_it(client_a, client_b, company_a, pair):
    """PostgreSQL text cannot hold NUL: a pasted or tampered "q" drops it instead of answering 500."""
    base = f"/c/{company_a.slug}/contacts/{pair['ana'].public_id}/merge/"
    found = client_a.get(base, {"q": "dupli\x00cated"}, headers={"HX-Request": "true", "HX-Target": "merge-candidates"})
    assert found.status_code == 200 and str(pair["dup"].public_id) in found.content.decode()
    assert client_b.get(base, {"q": "dupli\x00cated"}).status_code == 404


@pytest.mark.django_db
def test_merge_page_errors_in_portuguese(client_a, company_a, pair, instance_a):
    other_line = make_instance(company=company_a, name="support")
    elsewhere = make_contact(company=company_a, instance=other_line, identifier="5511911112222")
    base = f"/c/{company_a.slug}/contacts/{pair['ana'].public_id}/merge/"
    response = client_a.post(base, {"merge": str(elsewhere.public_id)}, headers={"Accept-Language": "pt-br"})
    assert response.status_code == 400
    assert "Só é possível mesclar contatos da mesma instância" in response.content.decode()
    response = client_a.get(base, {"merge": str(pair["ana"].public_id)})
    assert response.status_code == 400 and "cannot be merged into itself" in response.content.decode()
    with company_scope(company_a):
        assert Contact.objects.count() == 3


@pytest.mark.django_db
def test_merge_pages_of_another_company_are_404_and_change_nothing(client_b, company_a, company_b, pair):
    base = f"/c/{company_a.slug}/contacts/{pair['ana'].public_id}/merge/"
    assert client_b.get(base).status_code == 404
    assert client_b.post(base, {"merge": str(pair["dup"].public_id)}).status_code == 404
    own = f"/c/{company_b.slug}/contacts/{pair['ana'].public_id}/merge/"
    assert client_b.get(own).status_code == 404
    assert client_b.post(own, {"merge": str(pair["dup"].public_id)}).status_code == 404
    with company_scope(company_a):
        assert Contact.objects.count() == 2


# --- live pages -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_open_inbox_pages_are_told_to_refetch_or_follow_the_kept_conversation(company_a, pair,
                                                                              django_capture_on_commit_callbacks):
    kept_conversation = conversation(company_a, pair["ana"], texts=["hello"])
    gone_conversation = conversation(company_a, pair["dup"], texts=["hi"])
    kept_page = Listener().join(company_a, realtime.topic_for("conversation", kept_conversation.public_id))
    gone_page = Listener().join(company_a, realtime.topic_for("conversation", gone_conversation.public_id))
    inbox = Listener().join(company_a, "inbox")
    with company_scope(company_a), django_capture_on_commit_callbacks(execute=True):
        services.contact_merge(company=company_a, contact=pair["ana"], other=pair["dup"])
    kept_html, gone_html, inbox_html = "".join(kept_page.drain()), "".join(gone_page.drain()), "".join(inbox.drain())
    assert 'hx-swap-oob="beforeend:#thread-messages-list"' in kept_html
    assert f"/inbox/{kept_conversation.public_id}/?fragment=messages" in kept_html
    assert 'hx-target="#thread-messages"' in kept_html
    assert f"/contacts/open-conversation/?contact={pair['ana'].public_id}" in gone_html
    assert 'id="inbox-signal"' in inbox_html and f"conversation-{kept_conversation.public_id.hex}-row" in inbox_html


@pytest.mark.django_db
def test_open_conversation_follows_the_contact_or_lands_on_the_inbox(client_a, client_b, company_a, company_b, pair):
    kept_conversation = conversation(company_a, pair["ana"], texts=["hello"])
    url = f"/c/{company_a.slug}/contacts/open-conversation/"
    response = client_a.get(url, {"contact": str(pair["ana"].public_id)}, headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == f"/c/{company_a.slug}/inbox/{kept_conversation.public_id}/"
    response = client_a.get(url, {"contact": str(pair["dup"].public_id)})  # no conversation: the inbox
    assert response.status_code == 302 and response["Location"] == f"/c/{company_a.slug}/inbox/"
    # Company B's user with A's contact id, on B's own prefix: the inbox, exactly as for an unknown id.
    response = client_b.get(f"/c/{company_b.slug}/contacts/open-conversation/",
                            {"contact": str(pair["ana"].public_id)}, headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == f"/c/{company_b.slug}/inbox/"
    assert client_b.get(url, {"contact": str(pair["ana"].public_id)}).status_code == 404


@pytest.mark.django_db
def test_the_documented_contact_events_are_what_is_sent(company_a, pair, endpoint_a):
    conversation(company_a, pair["ana"], texts=["hello"])
    conversation(company_a, pair["dup"], texts=["hi"])
    with company_scope(company_a):
        services.contact_set_tags(company=company_a, contact=pair["ana"], tags=[pair["late"]])
        services.contact_merge(company=company_a, contact=pair["ana"], other=pair["dup"])
        services.contact_delete(company=company_a, contact=pair["ana"])
    for heading, event_type in (("contact.created / contact.updated", "contact.updated"),
                                ("contact.merged", "contact.merged"), ("contact.deleted", "contact.deleted")):
        sent = event_data(company_a, event_type)[-1]
        assert paths(documented(heading)) == paths(sent), event_type
        assert paths(documented(heading)["contact"]["tags"][0]) == paths(sent["contact"]["tags"][0])
