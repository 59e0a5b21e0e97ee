"""Identity: one canonical key per person, whatever form the number arrives in; duplicates impossible."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from contacts import services
from contacts.identity import IdentityKind, parse_identifier
from contacts.models import Contact, ContactIdentifier
from tenants.scoping import company_scope
from tests.factories import make_instance
from tests.threads import run_side_by_side


@pytest.mark.parametrize("raw", [
    "5511987654321", "+55 (11) 98765-4321", "551187654321", "5511987654321@s.whatsapp.net",
    "551187654321:7@s.whatsapp.net", "5511987654321@c.us",
])
def test_brazilian_mobile_forms_share_one_canonical_key(raw):
    identity = parse_identifier(raw)
    assert identity.kind == IdentityKind.PHONE
    assert identity.value == "5511987654321"
    assert identity.variants == ("551187654321",)


def test_brazilian_landline_has_no_variant_and_other_countries_are_e164_digits():
    assert parse_identifier("55 11 3333-4444").keys == ("551133334444",)
    assert parse_identifier("+1 415 555 2671").keys == ("14155552671",)
    assert parse_identifier("351912345678").keys == ("351912345678",)


def test_groups_and_lids_are_kept_as_given():
    group = parse_identifier("120363025246125888@g.us")
    assert (group.kind, group.value, group.variants) == (IdentityKind.GROUP, "120363025246125888@g.us", ())
    assert parse_identifier("123456789012345@lid").value == "123456789012345@lid"
    assert parse_identifier("123456789012345:3@lid").value == "123456789012345@lid"


@pytest.mark.parametrize("raw", ["", "123", "abc", "5511123", "551112345678", "55 11 1234", "x@g.us", "a@lid", "+999"])
def test_invalid_identifiers_give_a_clear_message(raw):
    with pytest.raises(ValidationError) as error:
        parse_identifier(raw)
    message = " ".join(error.value.messages)
    assert "country code" in message or "group id" in message or "LID" in message


def test_a_number_parsed_before_gives_each_writing_its_own_answer_and_language():
    """A number's parse is kept per process (contacts.identity._phone_identity): the next writing of the same digits
    gets the same identity, and a refused one names what this caller wrote, in this caller's language."""
    from django.utils import translation

    assert parse_identifier("5511987654321") is parse_identifier("+55 (11) 98765-4321")
    with pytest.raises(ValidationError) as first:
        parse_identifier("551112345678")
    with translation.override("pt-br"), pytest.raises(ValidationError) as second:
        parse_identifier("+55 11 1234-5678")
    assert "“551112345678”" in first.value.messages[0] and "country code" in first.value.messages[0]
    assert "“+55 11 1234-5678”" in second.value.messages[0] and "country code" not in second.value.messages[0]


@pytest.mark.django_db
def test_either_9th_digit_form_reaches_the_same_contact(company_a, instance_a):
    with company_scope(company_a):
        first, created = services.contact_get_or_create_by_identity(
            company=company_a, instance=instance_a, identifier="551187654321@s.whatsapp.net", name="Maria")
        again, created_again = services.contact_get_or_create_by_identity(
            company=company_a, instance=instance_a, identifier="5511987654321")
        assert (created, created_again) == (True, False)
        assert again == first
        assert first.identifier == "5511987654321" and first.name == "Maria"
        assert sorted(ContactIdentifier.objects.filter(contact=first).values_list("identifier", "kind")) == [
            ("551187654321", "phone_variant"), ("5511987654321", "primary")]


@pytest.mark.django_db
def test_lid_plus_phone_is_one_contact_reached_from_either(company_a, instance_a):
    with company_scope(company_a):
        contact, _ = services.contact_get_or_create_by_identity(
            company=company_a, instance=instance_a, identifier="5511987654321", lid="99887766554433@lid")
        by_lid, created = services.contact_get_or_create_by_identity(
            company=company_a, instance=instance_a, identifier="99887766554433@lid")
        assert (by_lid, created) == (contact, False)
        # A LID seen later is attached to the contact found by phone.
        services.contact_get_or_create_by_identity(
            company=company_a, instance=instance_a, identifier="551187654321", lid="11122233344455@lid")
        assert ContactIdentifier.objects.filter(contact=contact, kind="lid").count() == 2
        assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_contacts_are_per_instance_and_per_company(company_a, instance_a, company_b, instance_b):
    other_line = make_instance(company=company_a, name="support")
    with company_scope(company_a):
        one, _ = services.contact_get_or_create_by_identity(company=company_a, instance=instance_a,
                                                            identifier="5511987654321")
        two, _ = services.contact_get_or_create_by_identity(company=company_a, instance=other_line,
                                                            identifier="5511987654321")
        assert one != two
    with company_scope(company_b):
        _three, created = services.contact_get_or_create_by_identity(company=company_b, instance=instance_b,
                                                                    identifier="5511987654321")
        assert created


@pytest.mark.django_db
def test_group_contact_gets_the_group_type(company_a, instance_a):
    with company_scope(company_a):
        group, _ = services.contact_get_or_create_by_identity(company=company_a, instance=instance_a,
                                                              identifier="120363025246125888@g.us")
    assert group.type == Contact.Type.GROUP


@pytest.mark.django_db(transaction=True)
def test_concurrent_creation_of_the_same_contact_gives_one_row(company_a, instance_a):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def create(identifier: str) -> None:
        try:
            with company_scope(company_a):
                barrier.wait(timeout=10)
                results.append(services.contact_get_or_create_by_identity(
                    company=company_a, instance=instance_a, identifier=identifier))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    # Both forms of the same number, at the same moment, from two connections.
    threads = [threading.Thread(target=create, args=(raw,)) for raw in ("5511987654321", "551187654321")]
    run_side_by_side(threads)
    assert errors == []
    assert len(results) == 2
    assert results[0][0].pk == results[1][0].pk
    assert sorted(created for _contact, created in results) == [False, True]
    with company_scope(company_a):
        assert Contact.objects.count() == 1
        assert ContactIdentifier.objects.count() == 2


@pytest.mark.django_db
def test_keys_of_two_contacts_resolve_to_the_oldest_registration(company_a, instance_a):
    """The sender's phone belongs to one contact and its LID to an older one: the older wins, whatever order
    the rows come back in (they are sorted in Python, not by an ORDER BY)."""
    with company_scope(company_a):
        by_lid, _ = services.contact_get_or_create_by_identity(company=company_a, instance=instance_a,
                                                               identifier="99887766554433@lid")
        by_phone, _ = services.contact_get_or_create_by_identity(company=company_a, instance=instance_a,
                                                                 identifier="5511987654321")
        found, created = services.contact_get_or_create_by_identity(
            company=company_a, instance=instance_a, identifier="5511987654321", lid="99887766554433@lid")
        assert (found, created) == (by_lid, False) and by_phone != by_lid


@pytest.mark.django_db
def test_an_unusable_sender_is_refused_every_time_in_the_active_language(company_a, instance_a):
    from django.utils import translation

    with company_scope(company_a):
        services.contact_get_or_create_by_identity(company=company_a, instance=instance_a, identifier="5511987654321")
        for language, words in (("en", "phone number"), ("pt-br", "telefone válido"), ("en", "phone number")):
            with translation.override(language), pytest.raises(ValidationError) as error:
                services.contact_get_or_create_by_identity(company=company_a, instance=instance_a, identifier="123")
            assert words in " ".join(error.value.messages)
