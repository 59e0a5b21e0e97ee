"""A tag change is a contact change: every way of tagging one contact (or many) emits contact.updated with the
contact's tags, only when a link really came or went, and never for another company."""

from __future__ import annotations

import pytest

from contacts.models import Contact
from integrations import services as integration_services
from integrations.models import WebhookDelivery, WebhookEvent
from messaging.models import Conversation
from tenants.scoping import company_scope
from tests.factories import make_contact, make_tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(company_a, company_b, instance_a, instance_b):
    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")
    with company_scope(company_b):
        integration_services.endpoint_create(company=company_b, url="http://127.0.0.1:9/erp-b")
    vip, late = make_tag(company=company_a, name="VIP"), make_tag(company=company_a, name="Late")
    ana = make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Ana", tags=[vip])
    bia = make_contact(company=company_a, instance=instance_a, identifier="5511911112222", name="Bia")
    theirs = make_contact(company=company_b, instance=instance_b, identifier="5511987654321", name="Ana B")
    return {"vip": vip, "late": late, "ana": ana, "bia": bia, "theirs": theirs}


def updates(company) -> list[tuple[str, list[str]]]:
    """(contact name, its tag names) of every contact.updated so far."""
    with company_scope(company):
        return [(event.payload["data"]["contact"]["name"], [tag["name"] for tag in event.payload["data"]["contact"]
                                                            ["tags"]])
                for event in WebhookEvent.objects.filter(type="contact.updated").order_by("pk")]


def test_api_tag_routes_emit_contact_updated_only_on_a_change(api_a, company_a, company_b, world):
    url = f"/api/v1/contacts/{world['ana'].public_id}/tags"
    late, vip = str(world["late"].public_id), str(world["vip"].public_id)
    assert api_a.post(url, {"tags": [late]}, format="json").status_code == 200
    assert api_a.post(url, {"tags": [late]}, format="json").status_code == 200  # already there: nothing
    assert api_a.put(url, {"tags": [late]}, format="json").status_code == 200
    assert api_a.put(url, {"tags": [late]}, format="json").status_code == 200  # the same set: nothing
    assert api_a.delete(url, {"tags": [late]}, format="json").status_code == 200
    assert api_a.delete(f"{url}?tags={vip}").status_code == 200  # not on it: nothing
    assert updates(company_a) == [("Ana", ["Late", "VIP"]), ("Ana", ["Late"]), ("Ana", [])]
    with company_scope(company_a):
        ana = Contact.objects.get(pk=world["ana"].pk)
    assert ana.updated_at > world["ana"].updated_at
    assert updates(company_b) == []


def test_api_get_of_a_contact_lists_its_tags_with_ids_and_names(api_a, world):
    body = api_a.get(f"/api/v1/contacts/{world['ana'].public_id}").json()
    assert body["tags"] == [{"id": str(world["vip"].public_id), "name": "VIP", "color": world["vip"].color}]


def test_contact_page_and_inbox_panel_tag_edits_emit_contact_updated(client_a, company_a, company_b, world):
    detail = f"/c/{company_a.slug}/contacts/{world['ana'].public_id}/"
    response = client_a.post(detail, {"custom_name": "", "tags": [str(world["late"].public_id)]})
    assert response.status_code == 302
    client_a.post(detail, {"custom_name": "", "tags": [str(world["late"].public_id)]})  # unchanged: nothing
    with company_scope(company_a):
        conversation = Conversation.objects.create(company=company_a, instance=world["ana"].instance,
                                                   contact=world["ana"])
    panel = f"/c/{company_a.slug}/inbox/{conversation.public_id}/tags/"
    assert client_a.post(panel, {"tags": [str(world["vip"].public_id)]}).status_code == 200
    assert updates(company_a) == [("Ana", ["Late"]), ("Ana", ["VIP"])]
    assert updates(company_b) == []


def test_the_bulk_action_emits_one_contact_updated_per_contact_changed(client_a, company_a, company_b, world):
    bulk = f"/c/{company_a.slug}/contacts/bulk-tag/"
    ids = [str(world["ana"].public_id), str(world["bia"].public_id)]
    client_a.post(bulk, {"action": "add", "bulk_tag": str(world["vip"].public_id), "contacts": ids})
    assert updates(company_a) == [("Bia", ["VIP"])]  # Ana had it already
    client_a.post(bulk, {"action": "remove", "bulk_tag": str(world["vip"].public_id), "contacts": ids})
    assert updates(company_a)[1:] == [("Ana", []), ("Bia", [])]
    # Another company's contact id in the bulk form is ignored: nothing of B changes or is announced.
    client_a.post(bulk, {"action": "add", "bulk_tag": str(world["vip"].public_id),
                         "contacts": [str(world["theirs"].public_id)]})
    assert len(updates(company_a)) == 3 and updates(company_b) == []


def test_a_large_bulk_action_announces_its_contacts_from_a_task_after_commit(
        client_a, company_a, instance_a, world, django_capture_on_commit_callbacks, monkeypatch):
    """Each event is two inserts: thousands of them would hold the request for seconds, so past BULK_EVENTS_INLINE
    changed contacts they go out from a task after the commit, in batches of BULK_EVENTS_BATCH."""
    from config.celery import app

    monkeypatch.setattr("contacts.services.BULK_EVENTS_BATCH", 40)
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the task runs here when the commit enqueues it
    with company_scope(company_a):
        Contact.objects.bulk_create([Contact(company=company_a, instance=instance_a, identifier=f"55119{n:08d}",
                                             name=f"Loja {n:03d}") for n in range(101)])
    bulk = f"/c/{company_a.slug}/contacts/bulk-tag/"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_a.post(bulk, {"action": "add", "bulk_tag": str(world["late"].public_id),
                                        "all_matching": "on", "q": "loja"}, headers={"HX-Request": "true"})
    assert "added to 101 contacts" in response.content.decode()
    assert updates(company_a) == []  # nothing announced inside the request's transaction
    for callback in callbacks:  # the commit
        callback()
    announced = updates(company_a)
    assert len(announced) == 101 and all(tags == ["Late"] for _name, tags in announced)
    assert sorted(name for name, _tags in announced) == [f"Loja {n:03d}" for n in range(101)]


def test_a_redelivered_announce_task_sends_no_second_delivery_but_a_new_change_is_announced(
        client_a, company_a, company_b, instance_a, world, django_capture_on_commit_callbacks, monkeypatch):
    """The broker may hand the same `announce_updated` task out twice (a worker lost after its commit): the second
    run finds its batch's events under their dedupe keys and records no event and no delivery. A later bulk action
    on the same contacts is a new change and is announced again; company B's endpoint never hears of any of it."""
    from config.celery import app

    monkeypatch.setattr("contacts.services.BULK_EVENTS_BATCH", 40)
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with company_scope(company_a):
        Contact.objects.bulk_create([Contact(company=company_a, instance=instance_a, identifier=f"55119{n:08d}",
                                             name=f"Loja {n:03d}") for n in range(101)])
    bulk = f"/c/{company_a.slug}/contacts/bulk-tag/"

    def bulk_tag(action: str) -> list:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            client_a.post(bulk, {"action": action, "bulk_tag": str(world["late"].public_id), "all_matching": "on",
                                 "q": "loja"}, headers={"HX-Request": "true"})
        return callbacks

    def deliveries() -> int:
        with company_scope(company_a):
            return WebhookDelivery.objects.filter(event__type="contact.updated").count()

    callbacks = bulk_tag("add")
    assert len(callbacks) == 3  # three batches of at most 40
    for callback in callbacks:
        callback()
    assert (len(updates(company_a)), deliveries()) == (101, 101)
    for callback in callbacks:  # every batch's task delivered again
        callback()
    assert (len(updates(company_a)), deliveries()) == (101, 101)
    for callback in bulk_tag("remove"):  # a real change of the same contacts: announced
        callback()
    announced = updates(company_a)
    assert len(announced) == 202 and deliveries() == 202 and all(tags == [] for _name, tags in announced[101:])
    with company_scope(company_b):
        assert not WebhookDelivery.objects.filter(event__type="contact.updated").exists()
