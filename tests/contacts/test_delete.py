"""Deleting a contact (privacy requests): what goes with it, who may, the event, and the other company untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from contacts import services
from contacts.models import Contact, ContactIdentifier, ContactTag, Tag
from integrations import bots
from integrations import services as integration_services
from integrations.models import BotPauseChange, WebhookEvent
from messaging.models import Conversation, Message
from tenants import realtime
from tenants.scoping import company_scope
from tests.factories import make_contact, make_tag
from tests.realtime_listener import Listener

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _media_in_a_throwaway_directory(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def with_conversation(company, contact, texts: list[str], files: list[str] = ()) -> Conversation:
    """A conversation whose messages are written straight to the database; `files` become stored media."""
    with company_scope(company):
        row = Conversation.objects.create(company=company, instance=contact.instance, contact=contact)
        for index, text in enumerate(texts):
            Message.objects.create(company=company, conversation=row, instance=contact.instance, direction="in",
                                   text=text, status="delivered", gateway_message_id=f"{row.pk}-{index}")
        for index, name in enumerate(files):
            message = Message(company=company, conversation=row, instance=contact.instance, direction="in",
                              kind="image", status="delivered", gateway_message_id=f"{row.pk}-file-{index}")
            message.media_file.save(name, ContentFile(b"\x89PNG fake"), save=False)
            message.save()
    return row


def stored(message_files) -> list[bool]:
    return [default_storage.exists(name) for name in message_files]


@pytest.fixture
def world(company_a, company_b, instance_a, instance_b):
    vip = make_tag(company=company_a, name="VIP")
    ana = make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Ana", tags=[vip],
                       extra_identifiers=["99887766554433@lid"])
    bia = make_contact(company=company_a, instance=instance_a, identifier="5511911112222", name="Bia", tags=[vip])
    theirs = make_contact(company=company_b, instance=instance_b, identifier="5511987654321", name="Ana B")
    with_conversation(company_a, ana, ["oi", "tudo bem?"], files=["ana-photo.png"])
    with_conversation(company_a, bia, ["olá"], files=["bia-photo.png"])
    with_conversation(company_b, theirs, ["hello"], files=["b-photo.png"])
    with company_scope(company_a):
        bots.bot_pause(company=company_a, contact=ana, reason=BotPauseChange.Reason.API, actor="ERP")
    return {"ana": ana, "bia": bia, "theirs": theirs, "vip": vip}


def files_of(company) -> list[str]:
    with company_scope(company):
        return sorted(Message.objects.exclude(media_file="").values_list("media_file", flat=True))


def test_delete_takes_the_conversation_messages_and_stored_files(company_a, company_b, world,
                                                                 django_capture_on_commit_callbacks):
    ana_files = [name for name in files_of(company_a) if "ana" in name]
    others = [name for name in files_of(company_a) + files_of(company_b) if "ana" not in name]
    assert stored(ana_files + others) == [True] * 3
    with company_scope(company_a):
        assert services.contact_deletion_summary(company=company_a, contact=world["ana"]) == (
            services.DeletionSummary(conversations=1, messages=3, media_files=1))
        with django_capture_on_commit_callbacks(execute=True):
            summary = services.contact_delete(company=company_a, contact=world["ana"])
        assert summary == services.DeletionSummary(conversations=1, messages=3, media_files=1)
        assert list(Contact.objects.values_list("name", flat=True)) == ["Bia"]
        assert not ContactIdentifier.objects.filter(identifier__in=["5511987654321", "99887766554433@lid"]).exists()
        assert ContactTag.objects.count() == 1 and Tag.objects.count() == 1  # the tag itself stays
        assert Conversation.objects.count() == 1 and Message.objects.count() == 2
        assert not BotPauseChange.objects.exists()
        with pytest.raises(services.ContactGone):
            services.contact_delete(company=company_a, contact=world["ana"])
    assert stored(ana_files) == [False]
    assert stored(others) == [True, True]
    with company_scope(company_b):
        assert Contact.objects.count() == 1 and Message.objects.count() == 2


def test_delete_emits_contact_deleted_and_tells_open_pages(company_a, world, django_capture_on_commit_callbacks):
    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")
        conversation = Conversation.objects.get(contact=world["ana"])
    page = Listener().join(company_a, realtime.topic_for("conversation", conversation.public_id))
    inbox = Listener().join(company_a, "inbox")
    with company_scope(company_a), django_capture_on_commit_callbacks(execute=True):
        services.contact_delete(company=company_a, contact=world["ana"])
        [event] = WebhookEvent.objects.filter(type="contact.deleted")
    data = event.payload["data"]
    assert data["contact"]["id"] == str(world["ana"].public_id)
    assert data["contact"]["tags"] == [{"id": str(world["vip"].public_id), "name": "VIP"}]
    assert data["deleted"] == {"conversations": [str(conversation.public_id)], "messages": 3, "media_files": 1}
    assert f"/contacts/open-conversation/?contact={world['ana'].public_id}" in "".join(page.drain())
    assert 'id="inbox-signal"' in "".join(inbox.drain())


def test_delete_page_confirms_with_what_goes_and_only_admins_delete(client_a, agent_client_a, company_a, world):
    url = f"/c/{company_a.slug}/contacts/{world['ana'].public_id}/delete/"
    detail = f"/c/{company_a.slug}/contacts/{world['ana'].public_id}/"
    assert url in client_a.get(detail).content.decode()
    assert url not in agent_client_a.get(detail).content.decode()
    page = client_a.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "1 conversation;" in text and "3 messages, private notes included;" in text
    assert "1 stored media file" in text
    assert agent_client_a.get(url).status_code == 403
    assert agent_client_a.post(url).status_code == 403
    response = client_a.post(url)
    assert response.status_code == 302 and response["Location"] == f"/c/{company_a.slug}/contacts/"
    with company_scope(company_a):
        assert not Contact.objects.filter(pk=world["ana"].pk).exists()


def test_delete_page_in_portuguese(client_a, company_a, world):
    page = client_a.get(f"/c/{company_a.slug}/contacts/{world['ana'].public_id}/delete/",
                        headers={"Accept-Language": "pt-br"})
    assert "3 mensagens, incluindo notas privadas;" in page.content.decode()


def test_another_companys_contact_is_404_on_pages_and_api(client_b, api_b, company_a, company_b, world):
    for prefix in (company_a.slug, company_b.slug):
        url = f"/c/{prefix}/contacts/{world['ana'].public_id}/delete/"
        assert client_b.get(url).status_code == 404
        assert client_b.post(url).status_code == 404
    response = api_b.delete(f"/api/v1/contacts/{world['ana'].public_id}")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    with company_scope(company_a):
        assert Contact.objects.count() == 2 and Message.objects.count() == 5
    assert len(files_of(company_a)) == 2


def test_api_delete(api_a, company_a, world, django_capture_on_commit_callbacks):
    [ana_file] = [name for name in files_of(company_a) if "ana" in name]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.delete(f"/api/v1/contacts/{world['ana'].public_id}")
    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(world["ana"].public_id),
                               "deleted": {"conversations": 1, "messages": 3, "media_files": 1}}
    assert api_a.get(f"/api/v1/contacts/{world['ana'].public_id}").status_code == 404
    assert api_a.delete(f"/api/v1/contacts/{world['ana'].public_id}").status_code == 404
    assert not Path(default_storage.path(ana_file)).exists()
