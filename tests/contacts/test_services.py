"""Contact and tag services and selectors on the real database."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contacts import selectors, services
from contacts.models import Contact, ContactTag, Tag
from contacts.selectors import ContactFilters
from tests.factories import make_instance, make_platform

pytestmark = pytest.mark.django_db


def test_create_rejects_a_contact_existing_under_another_form(scope_a, instance_a):
    contact = services.contact_create(company=scope_a, instance=instance_a, identifier="5511987654321", name="Ana")
    with pytest.raises(services.ContactExists) as error:
        services.contact_create(company=scope_a, instance=instance_a, identifier="+55 11 8765-4321")
    assert error.value.contact == contact
    assert Contact.objects.count() == 1


def test_create_with_extra_lid_blocks_a_second_contact_with_that_lid(scope_a, instance_a):
    services.contact_create(company=scope_a, instance=instance_a, identifier="5511987654321",
                            extra_identifiers=["1234567890123@lid"])
    with pytest.raises(services.ContactExists):
        services.contact_create(company=scope_a, instance=instance_a, identifier="1234567890123@lid")


def test_create_validates_fields_type_and_identifier(scope_a, instance_a):
    with pytest.raises(ValidationError) as error:
        services.contact_create(company=scope_a, instance=instance_a, identifier="12")
    assert "identifier" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.contact_create(company=scope_a, instance=instance_a, identifier="5511987654321", type="group")
    assert "type" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.contact_create(company=scope_a, instance=instance_a, identifier="5511987654321",
                                photo_url="not a url", platform="has spaces")
    assert set(error.value.message_dict) == {"photo_url", "platform"}
    assert Contact.objects.count() == 0


def test_update_remove_platform_and_tags(scope_a, instance_a):
    vip, late = (services.tag_create(company=scope_a, name=n) for n in ("VIP", "Late"))
    make_platform(company=scope_a, instance=instance_a, slug="sales-bot")
    contact = services.contact_create(company=scope_a, instance=instance_a, identifier="5511987654321",
                                      platform="sales-bot", tags=[vip])
    services.contact_update(company=scope_a, contact=contact, custom_name="Dona Ana", bot_paused=True, tags=[late])
    contact.refresh_from_db()
    assert (contact.custom_name, contact.bot_paused) == ("Dona Ana", True)
    assert list(contact.tags.all()) == [late]
    services.contact_add_tags(company=scope_a, contact=contact, tags=[vip, late])
    assert sorted(t.name for t in contact.tags.all()) == ["Late", "VIP"]
    services.contact_remove_tags(company=scope_a, contact=contact, tags=[late])
    assert list(contact.tags.all()) == [vip]
    services.contact_remove_platform(company=scope_a, contact=contact)
    contact.refresh_from_db()
    assert contact.platform == ""


def test_tag_names_are_unique_case_insensitively_and_colors_validated(scope_a):
    tag = services.tag_create(company=scope_a, name="  VIP  ", color="#AABBCC")
    assert (tag.name, tag.color) == ("VIP", "#aabbcc")
    with pytest.raises(services.TagNameTaken):
        services.tag_create(company=scope_a, name="vip")
    with pytest.raises(ValidationError) as error:
        services.tag_create(company=scope_a, name="Other", color="red")
    assert "color" in error.value.message_dict
    other = services.tag_create(company=scope_a, name="Other")
    with pytest.raises(services.TagNameTaken):
        services.tag_update(company=scope_a, tag=other, name="Vip")
    services.tag_update(company=scope_a, tag=tag, name="vip", color="#000000")  # its own name in another case
    assert Tag.objects.get(pk=tag.pk).name == "vip"


def test_tag_names_can_repeat_across_companies(scope_a, company_b):
    from tenants.scoping import company_scope

    services.tag_create(company=scope_a, name="VIP")
    with company_scope(company_b):
        assert services.tag_create(company=company_b, name="VIP").company == company_b


def test_tag_delete_returns_affected_contacts(scope_a, instance_a):
    tag = services.tag_create(company=scope_a, name="VIP")
    for number in ("5511987654321", "5511987654322"):
        services.contact_create(company=scope_a, instance=instance_a, identifier=number, tags=[tag])
    assert services.tag_delete(company=scope_a, tag=tag) == 2
    assert ContactTag.objects.count() == 0
    assert Contact.objects.count() == 2


def test_bulk_tag_add_and_remove_count_only_changes(scope_a, instance_a):
    tag = services.tag_create(company=scope_a, name="VIP")
    contacts = [services.contact_create(company=scope_a, instance=instance_a, identifier=f"551198765432{i}")
                for i in range(3)]
    assert services.contacts_add_tag(company=scope_a, contacts=contacts[:2], tag=tag) == 2
    assert services.contacts_add_tag(company=scope_a, contacts=contacts, tag=tag) == 1
    assert services.contacts_remove_tag(company=scope_a, contacts=contacts[1:], tag=tag) == 2
    assert [c.pk for c in selectors.contact_list(company=scope_a, filters=ContactFilters(tags=[tag]))] == [
        contacts[0].pk]


def test_contact_list_search_filters_and_ordering(scope_a, instance_a):
    support = make_instance(company=scope_a, name="support")
    vip = services.tag_create(company=scope_a, name="VIP")
    ana = services.contact_create(company=scope_a, instance=instance_a, identifier="5511987654321", name="Ana",
                                  tags=[vip])
    bia = services.contact_create(company=scope_a, instance=support, identifier="5521999998888",
                                  custom_name="Beatriz", is_ignored=True)
    group = services.contact_create(company=scope_a, instance=instance_a, identifier="120363025246125888@g.us",
                                    name="Equipe", bot_paused=True)

    def names(**filters):
        return [c.display_name for c in selectors.contact_list(company=scope_a, filters=ContactFilters(**filters))]

    assert names() == ["Equipe", "Beatriz", "Ana"]
    assert names(descending=False) == ["Ana", "Beatriz", "Equipe"]
    assert names(sort="name") == ["Equipe", "Beatriz", "Ana"]
    assert names(sort="name", descending=False) == ["Ana", "Beatriz", "Equipe"]
    assert names(search="beat") == ["Beatriz"]
    assert names(search="(21) 99999") == ["Beatriz"]
    assert names(search="98765") == ["Ana"]
    assert names(search="+55 11 8765-4321") == ["Ana"]  # the old 8-digit form finds her too
    assert names(search="120363025246125888@g.us") == ["Equipe"]
    assert names(instance=instance_a) == ["Equipe", "Ana"]
    assert names(type="group") == ["Equipe"]
    assert names(tags=[vip]) == ["Ana"]
    assert names(is_ignored=True) == ["Beatriz"]
    assert names(bot_paused=False, instance=instance_a) == ["Ana"]
    assert names(identifier="5521") == ["Beatriz"]
    assert names(name="an") == ["Ana"]
    assert {ana.pk, bia.pk, group.pk} == set(Contact.objects.values_list("pk", flat=True))


def test_tag_list_counts_contacts_and_resolves_ids(scope_a, instance_a, company_b):
    from tenants.scoping import company_scope

    vip, _late = (services.tag_create(company=scope_a, name=n) for n in ("VIP", "late"))
    services.contact_create(company=scope_a, instance=instance_a, identifier="5511987654321", tags=[vip])
    assert [(t.name, t.contact_count) for t in selectors.tag_list(company=scope_a)] == [("late", 0), ("VIP", 1)]
    assert [t.name for t in selectors.tag_list(company=scope_a, name="vi")] == ["VIP"]
    with company_scope(company_b):
        foreign = services.tag_create(company=company_b, name="B")
    tags, missing = selectors.tags_by_ids(company=scope_a, public_ids=[vip.public_id, str(foreign.public_id), "x"])
    assert tags == [vip]
    assert missing == [str(foreign.public_id), "x"]
