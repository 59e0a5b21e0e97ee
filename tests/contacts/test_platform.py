"""A contact's bot platform is chosen among its instance's platforms: a select on the page, a 400 naming
`platform` in the API, a rejected row in an import; a binding to a platform deleted since is kept as it is."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contacts import imports, services
from contacts.models import Contact
from integrations import bots
from tenants.scoping import company_scope
from tests.factories import make_contact, make_instance, make_platform

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def world(company_a, company_b, instance_a, instance_b):
    support = make_instance(company=company_a, name="support")
    make_platform(company=company_a, instance=instance_a, slug="sales-bot")
    make_platform(company=company_a, instance=support, slug="support-bot")  # another instance's
    make_platform(company=company_b, instance=instance_b, slug="bravo-bot")  # another company's
    with company_scope(company_a):
        bots.instance_set_starting_platform(company=company_a, instance=instance_a, slug="sales-bot")
    ana = make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Ana")
    return {"ana": ana, "support": support}


def platform_of(company, contact) -> str:
    with company_scope(company):
        return Contact.objects.get(pk=contact.pk).platform


def test_the_service_refuses_a_slug_the_instance_has_no_platform_for(company_a, instance_a, world):
    with company_scope(company_a):
        for slug in ("nope", "support-bot", "bravo-bot"):
            with pytest.raises(ValidationError) as error:
                services.contact_update(company=company_a, contact=world["ana"], platform=slug)
            assert list(error.value.message_dict) == ["platform"]
            with pytest.raises(ValidationError):
                services.contact_create(company=company_a, instance=instance_a, identifier="5521999998888",
                                        platform=slug)
        services.contact_update(company=company_a, contact=world["ana"], platform="Sales-Bot")
        assert Contact.objects.count() == 1
    assert platform_of(company_a, world["ana"]) == "sales-bot"


def test_api_platform_errors_name_the_field(api_a, api_b, company_a, instance_a, world):
    url = f"/api/v1/contacts/{world['ana'].public_id}"
    for slug in ("nope", "support-bot", "bravo-bot"):
        response = api_a.patch(url, {"platform": slug, "custom_name": "Changed"}, format="json")
        assert response.status_code == 400 and response["Content-Type"] == PROBLEM
        assert "has no bot platform" in response.json()["errors"]["platform"][0]
    response = api_a.post("/api/v1/contacts", {"channel": str(instance_a.public_id), "identifier": "5521999998888",
                                               "platform": "nope"}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["platform"]
    assert api_a.patch(url, {"platform": "sales-bot"}, format="json").json()["platform"] == "sales-bot"
    assert api_b.patch(url, {"platform": "bravo-bot"}, format="json").status_code == 404
    with company_scope(company_a):
        assert list(Contact.objects.values_list("custom_name", "platform")) == [("", "sales-bot")]


def test_the_page_offers_the_instances_platforms_and_keeps_a_deleted_binding(client_a, client_b, company_a, world):
    detail = f"/c/{company_a.slug}/contacts/{world['ana'].public_id}/"
    html = client_a.get(detail).content.decode()
    assert '<select name="platform"' in html and '<option value="sales-bot">sales-bot</option>' in html
    assert "support-bot" not in html and "bravo-bot" not in html
    assert "Default (sales-bot)" in html
    response = client_a.post(detail, {"platform": "support-bot"})
    assert response.status_code == 400
    assert "support-bot is not one of the available choices" in response.content.decode()
    assert client_a.post(detail, {"platform": "sales-bot"}).status_code == 302
    assert platform_of(company_a, world["ana"]) == "sales-bot"
    # The platform is deleted: the contact keeps the binding (it falls back to the starting one) and can be saved.
    with company_scope(company_a):
        bots.platform_delete(company=company_a, platform=bots.platform_get(
            company=company_a, instance=world["ana"].instance, slug="sales-bot"))
    html = client_a.get(detail).content.decode()
    assert '<option value="sales-bot" selected>sales-bot (deleted platform)</option>' in html
    assert client_a.post(detail, {"platform": "sales-bot", "custom_name": "Dona Ana"}).status_code == 302
    assert platform_of(company_a, world["ana"]) == "sales-bot"
    assert client_b.post(detail, {"platform": ""}).status_code == 404


def test_the_page_in_portuguese(client_a, company_a, instance_a, world):
    with company_scope(company_a):
        bots.instance_set_starting_platform(company=company_a, instance=instance_a, slug="")
    html = client_a.get(f"/c/{company_a.slug}/contacts/{world['ana'].public_id}/",
                        headers={"Accept-Language": "pt-br"}).content.decode()
    assert "Nenhuma (sem bot padrão)" in html


def test_an_import_row_with_an_unknown_platform_is_rejected_with_the_reason(company_a, instance_a, world):
    raw = b"number,name,platform\n5521999998888,Bia,nope\n5531988887777,Caio,sales-bot\n"
    with company_scope(company_a):
        contact_import = imports.contact_import_create(company=company_a, instance=instance_a, filename="p.csv",
                                                       raw=raw)
        imports.contact_import_start(company=company_a, contact_import=contact_import,
                                     mapping={"0": "identifier", "1": "name", "2": "platform"}, has_header=True)
        imports.contact_import_run(company=company_a, contact_import=contact_import)
        contact_import.refresh_from_db()
        assert (contact_import.created_count, contact_import.rejected_count) == (1, 1)
        assert "has no bot platform “nope”" in contact_import.rejected[0]["reason"]
        assert Contact.objects.filter(platform="sales-bot").count() == 1
