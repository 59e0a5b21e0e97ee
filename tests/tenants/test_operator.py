"""The operator area: staff only (404 for everyone else), companies, limits, suspension, first owners."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tenants.models import ApiKey, Company, Membership, User
from tests.conftest import _logged_in
from tests.factories import PASSWORD, make_api_key, make_company, make_instance, make_user

NEW_PASSWORD = "operator chosen passphrase 5"


@pytest.fixture
def operator(db):
    return make_user(email="root@recado.test", is_staff=True)


@pytest.fixture
def operator_client(operator):
    return _logged_in(operator)


def _companies():
    return sorted(Company.objects.values_list("slug", "name", "is_active", "max_instances", "max_members"))


def _operator_urls(company):
    return [
        ("get", reverse("operator:companies")),
        ("get", reverse("operator:company_create")),
        ("post", reverse("operator:company_create")),
        ("get", reverse("operator:company_edit", args=[company.public_id])),
        ("post", reverse("operator:company_edit", args=[company.public_id])),
        ("post", reverse("operator:company_suspend", args=[company.public_id])),
        ("post", reverse("operator:company_reactivate", args=[company.public_id])),
        ("get", reverse("operator:company_owner_create", args=[company.public_id])),
        ("post", reverse("operator:company_owner_create", args=[company.public_id])),
    ]


def test_every_operator_url_is_404_for_non_staff(client_a, agent_client_a, client_b, company_a):
    before = _companies()
    for client in (client_a, agent_client_a, client_b):
        for method, url in _operator_urls(company_a):
            data = {"name": "Hijack", "slug": "hijack", "max_instances": 99, "max_members": 99, "email": "x@x.test",
                    "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
            response = getattr(client, method)(url, data)
            assert response.status_code == 404, (method, url)
    assert _companies() == before
    assert not User.objects.filter(email="x@x.test").exists()


def test_anonymous_is_sent_to_login(client, company_a):
    response = client.get("/operator/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_list_shows_counts(operator_client, company_a, owner_a, member_a, api_key_a, company_b, owner_b):
    make_instance(company=company_a)
    revoked = make_api_key(company=company_a, name="revoked one").api_key
    ApiKey.all_companies.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    content = operator_client.get("/operator/").content.decode()
    row_a = content.split(f'id="company-{company_a.public_id}"')[1].split("</tr>")[0]
    assert '"member-count">2<' in row_a and '"api-key-count">1<' in row_a and '"instance-count">1<' in row_a
    row_b = content.split(f'id="company-{company_b.public_id}"')[1].split("</tr>")[0]
    assert '"member-count">1<' in row_b and '"api-key-count">0<' in row_b and '"instance-count">0<' in row_b


def test_company_page_counts_instances_against_the_limit_and_says_what_an_empty_slug_does(
        operator_client, company_a, company_b):
    """The usage card gave members as "n / max" but instances as the max alone; and the edit form promised that
    an empty slug is derived from the name, while there it keeps the current one."""
    make_instance(company=company_a)
    make_instance(company=company_b)
    make_instance(company=company_b)
    page = operator_client.get(f"/operator/companies/{company_a.public_id}/").content.decode()
    assert 'data-testid="instance-usage">1 / 5<' in page
    assert "leave it empty to keep it" in page and "derive it from the name" not in page
    assert "derive it from the name" in operator_client.get("/operator/companies/new/").content.decode()
    operator_client.post(f"/operator/companies/{company_a.public_id}/", {
        "name": "Alpha Foods", "slug": "", "max_instances": 5, "max_members": 20})
    company_a.refresh_from_db()
    assert company_a.slug == "alpha"
    operator_client.cookies["django_language"] = "pt-br"
    page = operator_client.get(f"/operator/companies/{company_a.public_id}/").content.decode()
    assert "Instâncias" in page and "deixe vazio para mantê-lo" in page


def test_list_query_count_is_pinned(operator_client, db, django_assert_max_num_queries):
    for number in range(5):
        make_api_key(company=make_company(name=f"Co {number}"), name="k")
    with django_assert_max_num_queries(6):
        assert operator_client.get("/operator/").status_code == 200


def test_create_company_then_its_first_owner_who_can_log_in(operator_client, client, db):
    response = operator_client.post("/operator/companies/new/", {
        "name": "Padaria Central", "slug": "", "max_instances": 2, "max_members": 3})
    company = Company.objects.get(slug="padaria-central")
    assert response["Location"] == f"/operator/companies/{company.public_id}/owner/"
    assert (company.max_instances, company.max_members) == (2, 3)
    response = operator_client.post(response["Location"], {
        "email": "dono@padaria.test", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response["Location"] == f"/operator/companies/{company.public_id}/"
    assert b"dono@padaria.test" in operator_client.get(response["Location"]).content
    assert client.post("/accounts/login/", {"username": "dono@padaria.test", "password": NEW_PASSWORD}
                       )["Location"] == "/"
    assert client.get("/").url == "/c/padaria-central/"
    assert Membership.all_companies.get(user__email="dono@padaria.test").role == "owner"


def test_create_company_with_a_taken_slug_is_a_form_error(operator_client, company_a):
    before = _companies()
    response = operator_client.post("/operator/companies/new/", {
        "name": "Other", "slug": company_a.slug, "max_instances": 1, "max_members": 1})
    assert response.status_code == 400
    assert b"already uses this slug" in response.content
    assert _companies() == before


def test_a_slug_differing_only_in_case_is_taken_and_slugs_are_stored_lowercase(operator_client, company_a,
                                                                              company_b, client_b):
    """"ALPHA" beside "alpha" made a second tenant whose address reads as the first one's."""
    before = _companies()
    response = operator_client.post("/operator/companies/new/", {
        "name": "Other", "slug": company_a.slug.upper(), "max_instances": 1, "max_members": 1})
    assert response.status_code == 400 and b"already uses this slug" in response.content
    response = operator_client.post(f"/operator/companies/{company_b.public_id}/", {
        "name": company_b.name, "slug": company_a.slug.upper(), "max_instances": 1, "max_members": 1})
    assert response.status_code == 400 and b"already uses this slug" in response.content
    assert _companies() == before
    operator_client.post("/operator/companies/new/", {"name": "Padaria", "slug": "Padaria-Central",
                                                      "max_instances": 1, "max_members": 1})
    assert Company.objects.filter(slug="padaria-central").exists()
    operator_client.post(f"/operator/companies/{company_b.public_id}/", {
        "name": company_b.name, "slug": "Bravo-SA", "max_instances": 1, "max_members": 1})
    company_b.refresh_from_db()
    assert company_b.slug == "bravo-sa" and client_b.get("/c/bravo-sa/").status_code == 200
    assert client_b.get(f"/c/{company_a.slug}/").status_code == 404


def test_owner_with_weak_password_or_taken_username_is_refused(operator_client, company_a, owner_b):
    url = f"/operator/companies/{company_a.public_id}/owner/"
    response = operator_client.post(url, {"email": "new@alpha.test", "password1": "123", "password2": "123"})
    assert response.status_code == 400
    response = operator_client.post(url, {"email": "new@alpha.test", "username": owner_b.username,
                                          "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 400 and b"username is taken" in response.content
    assert not User.objects.filter(email="new@alpha.test").exists()


def test_existing_user_becomes_owner_and_keeps_their_password(operator_client, company_a, owner_b):
    operator_client.post(f"/operator/companies/{company_a.public_id}/owner/", {
        "email": owner_b.email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    owner_b.refresh_from_db()
    assert owner_b.check_password(PASSWORD)
    assert Membership.all_companies.get(user=owner_b, company=company_a).role == "owner"


def test_edit_limits_and_slug(operator_client, company_a, company_b):
    url = f"/operator/companies/{company_a.public_id}/"
    response = operator_client.post(url, {"name": "Alpha Foods SA", "slug": "alpha-sa", "max_instances": 9,
                                          "max_members": 40})
    assert response.status_code == 302
    company_a.refresh_from_db()
    assert (company_a.name, company_a.slug, company_a.max_instances, company_a.max_members) == (
        "Alpha Foods SA", "alpha-sa", 9, 40)
    response = operator_client.post(url, {"name": "x", "slug": company_b.slug, "max_instances": 1, "max_members": 1})
    assert response.status_code == 400
    company_a.refresh_from_db()
    assert company_a.slug == "alpha-sa"


def test_suspend_blocks_pages_login_and_api_then_reactivate_restores(
        operator_client, client, client_a, company_a, owner_a, api_a):
    response = operator_client.post(f"/operator/companies/{company_a.public_id}/suspend/", {"reason": "unpaid"})
    assert response.status_code == 302
    company_a.refresh_from_db()
    assert not company_a.is_active and company_a.suspended_reason == "unpaid"
    page = client_a.get(f"/c/{company_a.slug}/")
    assert page.status_code == 403 and b"is suspended" in page.content
    assert client.post("/accounts/login/", {"username": owner_a.email, "password": PASSWORD}).status_code == 200
    api = api_a.get("/api/v1/me")
    assert api.status_code == 403 and api["Content-Type"].startswith("application/problem+json")
    assert api.json()["status"] == 403
    operator_client.post(f"/operator/companies/{company_a.public_id}/reactivate/")
    assert client_a.get(f"/c/{company_a.slug}/").status_code == 200
    assert api_a.get("/api/v1/me").status_code == 200


def test_unknown_company_id_is_404(operator_client, db):
    assert operator_client.get("/operator/companies/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_operator_who_is_not_a_member_gets_404_on_company_pages(operator_client, company_a):
    """Staff manage companies from the operator area; they are not silently members of every company."""
    assert operator_client.get(f"/c/{company_a.slug}/").status_code == 404


def test_staff_with_no_company_can_always_log_in(client, operator):
    response = client.post("/accounts/login/", {"username": operator.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").url == "/operator/"


def test_owner_address_too_long_to_store_is_a_form_error(operator_client, company_a):
    response = operator_client.post(f"/operator/companies/{company_a.public_id}/owner/", {
        "email": "a" * 250 + "@alpha.test", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 400 and b"at most 150 characters" in response.content
    assert not User.objects.filter(email__startswith="aaaa").exists()


def test_existing_user_becomes_owner_without_typing_a_password_for_nothing(operator_client, company_a, owner_b):
    """Their password is kept, so none is asked for; a new account still needs one."""
    url = f"/operator/companies/{company_a.public_id}/owner/"
    response = operator_client.post(url, {"email": owner_b.email.upper()})
    assert response.status_code == 302
    assert Membership.all_companies.get(user=owner_b, company=company_a).role == "owner"
    response = operator_client.post(url, {"email": "new@alpha.test"})
    assert response.status_code == 400 and b"A new account needs a password." in response.content
    response = operator_client.post(url, {"email": "new@alpha.test", "password1": NEW_PASSWORD})
    assert response.status_code == 400 and b"The two passwords do not match." in response.content
    assert not User.objects.filter(email="new@alpha.test").exists()
