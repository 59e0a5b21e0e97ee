"""The contact list: name and number sorts start A→Z, the bulk tag keeps its choice after an error, and "select
all N matching" applies a bulk tag to every contact matching the filters in one request (capped)."""

from __future__ import annotations

import pytest

from contacts.models import ContactTag
from tenants.scoping import company_scope
from tests.factories import make_contact, make_tag

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true", "HX-Target": "contact-results"}


def url(company, suffix: str = "") -> str:
    return f"/c/{company.slug}/contacts/{suffix}"


def names(response) -> list[str]:
    html = response.content.decode()
    return [part.split("</a>", 1)[0].split(">", 1)[1] for part in html.split('data-testid="contact-name"')[1:]]


@pytest.fixture
def book(company_a, company_b, instance_a, instance_b):
    """60 shop customers (more than a page) and 3 others in A; B has shop customers of its own."""
    for number in range(60):
        make_contact(company=company_a, instance=instance_a, identifier=f"55119{number:08d}",
                     name=f"Loja cliente {number:02d}")
    for name, number in (("Bia", "5521999998888"), ("Ana", "5511987654321"), ("Caio", "5531988887777")):
        make_contact(company=company_a, instance=instance_a, identifier=number, name=name)
    for number in range(3):
        make_contact(company=company_b, instance=instance_b, identifier=f"55119{number:08d}", name=f"Loja B {number}")
    return {"vip": make_tag(company=company_a, name="VIP"), "late": make_tag(company=company_a, name="Late")}


def test_sorting_by_name_or_number_starts_a_to_z_and_the_date_newest_first(client_a, company_a, book):
    assert names(client_a.get(url(company_a), {"sort": "name"}))[:3] == ["Ana", "Bia", "Caio"]
    assert names(client_a.get(url(company_a), {"sort": "name", "order": ""}))[:3] == ["Ana", "Bia", "Caio"]
    assert names(client_a.get(url(company_a), {"sort": "name", "order": "desc"}))[0] == "Loja cliente 59"
    assert names(client_a.get(url(company_a), {"sort": "identifier"}))[0] == "Loja cliente 00"
    assert names(client_a.get(url(company_a)))[0] == "Caio"  # the newest
    assert names(client_a.get(url(company_a), {"order": "asc"}))[0] == "Loja cliente 00"


def test_the_bulk_tag_stays_chosen_after_an_error(client_a, company_a, book):
    late = str(book["late"].public_id)
    html = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": late},
                         headers=HX).content.decode()
    assert "Select at least one contact." in html
    assert f'<option value="{late}" selected>Late</option>' in html
    assert f'<option value="{book["vip"].public_id}">VIP</option>' in html


def test_select_all_matching_is_offered_only_when_the_filters_match_more_than_the_page(client_a, company_a, book):
    html = client_a.get(url(company_a), {"q": "loja"}).content.decode()
    assert 'data-testid="select-matching"' in html and "Select all 60 contacts matching these filters" in html
    html = client_a.get(url(company_a), {"q": "bia"}).content.decode()
    assert 'data-testid="select-matching"' not in html
    html = client_a.get(url(company_a), {"q": "loja"}, headers={"Accept-Language": "pt-br"}).content.decode()
    assert "Selecionar todos os 60 contatos destes filtros" in html


def test_a_bulk_tag_on_every_contact_matching_the_filters(client_a, company_a, company_b, book):
    vip = str(book["vip"].public_id)
    response = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": vip, "all_matching": "on",
                                                            "q": "loja", "sort": "name"}, headers=HX)
    notice = response.content.decode()
    assert "Tag “VIP” added to 60 contacts. 60 contacts matched the filters." in notice
    assert "all_matching" not in notice.split('data-testid="export-link"', 1)[0].rsplit("<a", 1)[1]  # not kept
    with company_scope(company_a):
        tagged = set(ContactTag.objects.filter(tag=book["vip"]).values_list("contact__name", flat=True))
    assert len(tagged) == 60 and all(name.startswith("Loja cliente") for name in tagged)
    with company_scope(company_b):
        assert not ContactTag.objects.exists()
    response = client_a.post(url(company_a, "bulk-tag/"), {"action": "remove", "bulk_tag": vip,
                                                            "all_matching": "on", "q": "cliente 1"}, headers=HX)
    assert "removed from 10 contacts" in response.content.decode()  # 10 to 19
    with company_scope(company_a):
        assert ContactTag.objects.filter(tag=book["vip"]).count() == 50


def test_select_all_matching_is_capped_and_then_changes_nothing(client_a, company_a, book, monkeypatch):
    monkeypatch.setattr("contacts.forms.BULK_LIMIT", 50)
    response = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": str(book["vip"].public_id),
                                                            "all_matching": "on", "q": "loja"}, headers=HX)
    assert "More than 50 contacts match these filters" in response.content.decode()
    with company_scope(company_a):
        assert not ContactTag.objects.exists()
