"""REST API /api/v1/contacts and /api/v1/tags: every operation, every error, and company B's view of A's ids."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, ContactTag, Tag
from tenants.scoping import company_scope
from tests.factories import make_contact, make_instance, make_platform, make_tag

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def state(company) -> dict:
    with company_scope(company):
        return {
            "contacts": sorted(Contact.objects.values_list("identifier", "custom_name", "platform", "is_ignored")),
            "tags": sorted(Tag.objects.values_list("name", "color")),
            "links": sorted(ContactTag.objects.values_list("contact__identifier", "tag__name")),
        }


@pytest.fixture
def world(company_a, instance_a):
    vip = make_tag(company=company_a, name="VIP")
    late = make_tag(company=company_a, name="Late", color="#cc0000")
    make_platform(company=company_a, instance=instance_a, slug="sales-bot")
    ana = make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Ana", tags=[vip],
                       platform="sales-bot")
    return {"vip": vip, "late": late, "ana": ana, "instance": instance_a}


# --- contacts -----------------------------------------------------------------------------------

def test_create_get_and_list_a_contact(api_a, world):
    response = api_a.post("/api/v1/contacts", {
        "channel": str(world["instance"].public_id), "identifier": "+55 21 9999-8888", "name": "Bia",
        "custom_name": "Beatriz", "tags": [str(world["late"].public_id)], "is_ignored": True,
        "extra_identifiers": ["778899001122@lid"],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["identifier"] == "5521999998888"
    assert body["extra_identifiers"] == ["552199998888", "778899001122@lid"]
    assert body["type"] == "individual" and body["is_ignored"] is True
    assert [t["name"] for t in body["tags"]] == ["Late"]
    assert body["channel"] == str(world["instance"].public_id)
    got = api_a.get(f"/api/v1/contacts/{body['id']}").json()
    assert got == body
    listed = api_a.get("/api/v1/contacts").json()
    assert listed["count"] == 2
    assert [c["name"] for c in listed["results"]] == ["Bia", "Ana"]


def test_create_group(api_a, world):
    response = api_a.post("/api/v1/contacts", {"channel": str(world["instance"].public_id),
                                               "identifier": "120363025246125888@g.us", "type": "group"},
                          format="json")
    assert response.status_code == 201
    assert response.json()["type"] == "group"


def test_create_existing_contact_in_another_form_is_409_with_its_id(api_a, company_a, world):
    before = state(company_a)
    body = problem(api_a.post("/api/v1/contacts", {"channel": str(world["instance"].public_id),
                                                   "identifier": "551187654321"}, format="json"), 409)
    assert body["id"] == str(world["ana"].public_id)
    assert state(company_a) == before


@pytest.mark.parametrize(("payload", "field"), [
    ({"identifier": "123"}, "identifier"),
    ({"identifier": "5511987650000", "type": "group"}, "type"),
    ({"identifier": "5511987650000", "photo_url": "nope"}, "photo_url"),
    ({"identifier": "5511987650000", "tags": ["not-a-uuid"]}, "tags"),
    ({"identifier": "5511987650000", "channel": "7d1e2f3a-0000-4000-8000-000000000000"}, "channel"),
    ({}, "identifier"),
])
def test_create_bad_input_is_400_and_creates_nothing(api_a, company_a, world, payload, field):
    before = state(company_a)
    body = problem(api_a.post("/api/v1/contacts", {"channel": str(world["instance"].public_id), **payload},
                              format="json"), 400)
    assert field in body["errors"], body
    assert state(company_a) == before


def test_create_with_a_foreign_channel_or_tag_is_400(api_a, company_a, company_b, world):
    foreign_instance = make_instance(company=company_b)
    foreign_tag = make_tag(company=company_b, name="B")
    body = problem(api_a.post("/api/v1/contacts", {"channel": str(foreign_instance.public_id),
                                                   "identifier": "5511900001111"}, format="json"), 400)
    assert "channel" in body["errors"]
    body = problem(api_a.post("/api/v1/contacts", {
        "channel": str(world["instance"].public_id), "identifier": "5511900001111",
        "tags": [str(world["vip"].public_id), str(foreign_tag.public_id)]}, format="json"), 400)
    assert str(foreign_tag.public_id) in body["detail"]
    with company_scope(company_a):
        assert Contact.objects.count() == 1


def test_edit_replaces_fields_and_tags(api_a, world):
    response = api_a.patch(f"/api/v1/contacts/{world['ana'].public_id}", {
        "custom_name": "Dona Ana", "bot_paused": True, "tags": [str(world["late"].public_id)]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["custom_name"], body["bot_paused"], body["name"]) == ("Dona Ana", True, "Ana")
    assert [t["name"] for t in body["tags"]] == ["Late"]


def test_edit_with_unknown_tag_applies_nothing(api_a, company_a, world):
    before = state(company_a)
    problem(api_a.patch(f"/api/v1/contacts/{world['ana'].public_id}", {
        "custom_name": "X", "tags": ["7d1e2f3a-0000-4000-8000-000000000000"]}, format="json"), 400)
    problem(api_a.patch(f"/api/v1/contacts/{world['ana'].public_id}", {"platform": "bad slug!"}, format="json"), 400)
    assert state(company_a) == before


def test_remove_platform(api_a, world):
    response = api_a.delete(f"/api/v1/contacts/{world['ana'].public_id}/platform")
    assert response.status_code == 200
    assert response.json()["platform"] == ""


def test_list_add_set_and_remove_tags_of_a_contact(api_a, world):
    url = f"/api/v1/contacts/{world['ana'].public_id}/tags"
    assert [t["name"] for t in api_a.get(url).json()] == ["VIP"]
    late = str(world["late"].public_id)
    assert [t["name"] for t in api_a.post(url, {"tags": [late]}, format="json").json()] == ["Late", "VIP"]
    assert [t["name"] for t in api_a.delete(url, {"tags": [str(world["vip"].public_id)]}, format="json").json()] == [
        "Late"]
    assert api_a.delete(f"{url}?tags={late}").json() == []
    assert [t["name"] for t in api_a.put(url, {"tags": [late]}, format="json").json()] == ["Late"]
    assert api_a.put(url, {"tags": []}, format="json").json() == []


def test_adding_unknown_or_foreign_tags_applies_none(api_a, company_a, company_b, world):
    foreign = make_tag(company=company_b, name="Foreign")
    before = state(company_a)
    url = f"/api/v1/contacts/{world['ana'].public_id}/tags"
    body = problem(api_a.post(url, {"tags": [str(world["late"].public_id), str(foreign.public_id)]},
                              format="json"), 400)
    assert str(foreign.public_id) in body["detail"]
    problem(api_a.post(url, {"tags": []}, format="json"), 400)
    problem(api_a.delete(url, {"tags": ["zzz"]}, format="json"), 400)
    assert state(company_a) == before


def test_pagination_limits_and_edges(api_a, company_a, instance_a):
    with company_scope(company_a):
        for number in range(105):
            Contact.objects.create(company=company_a, instance=instance_a, identifier=f"55119{number:08d}")
    first = api_a.get("/api/v1/contacts").json()
    assert first["count"] == 105 and len(first["results"]) == 30 and first["previous"] is None
    assert len(api_a.get("/api/v1/contacts?limit=500").json()["results"]) == 100
    assert len(api_a.get("/api/v1/contacts?limit=10&page=11").json()["results"]) == 5
    problem(api_a.get("/api/v1/contacts?limit=10&page=12"), 404)
    asc = [c["identifier"] for c in api_a.get("/api/v1/contacts?order=asc&limit=100").json()["results"]]
    desc = [c["identifier"] for c in api_a.get("/api/v1/contacts?order=desc&limit=100&page=2").json()["results"]]
    assert asc[0] == "5511900000000" and desc[-1] == "5511900000000"
    problem(api_a.get("/api/v1/contacts?order=sideways"), 400)


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "limit=1.5", "limit=null", "page=0",
                                   "page=-616", "page=abc", "page=%00"])
def test_malformed_limit_or_page_is_400_naming_it(api_a, world, query):
    """Found by Schemathesis: a bad `limit` was silently the default and a bad `page` a 404."""
    body = problem(api_a.get(f"/api/v1/contacts?{query}"), 400)
    assert list(body["errors"]) == [query.split("=")[0]]
    assert api_a.get("/api/v1/contacts?limit=1&page=last").status_code == 200


def test_empty_channel_filter_means_any_and_a_bad_one_is_400(api_a, world):
    assert api_a.get("/api/v1/contacts?channel=").json()["count"] == 1
    problem(api_a.get("/api/v1/contacts?channel=nope"), 400)


def test_put_of_tags_without_a_body_is_400_and_keeps_them(api_a, company_a, world):
    """Found by Schemathesis: a PUT with no body fell back to `?tags=` and cleared the contact's tags."""
    url = f"/api/v1/contacts/{world['ana'].public_id}/tags"
    before = state(company_a)
    assert problem(api_a.put(url), 400)["errors"]["tags"]
    problem(api_a.post(url), 400)
    assert state(company_a) == before
    assert api_a.delete(f"{url}?tags={world['vip'].public_id}").json() == []  # DELETE keeps its query form


def test_empty_photo_url_and_platform_are_described_as_plain_strings(client):
    contact = client.get("/api/schema/?format=json").json()["components"]["schemas"]["Contact"]["properties"]
    assert contact["photo_url"] == {"type": "string", "readOnly": True, "description": "A URL, or empty."}
    assert "pattern" not in contact["platform"]


def test_filters_combined(api_a, company_a, world):
    support = make_instance(company=company_a, name="support")
    make_contact(company=company_a, instance=support, identifier="5511987654322", name="Ana Clara",
                 tags=[world["vip"]], is_ignored=True)
    make_contact(company=company_a, instance=world["instance"], identifier="120363025246125888@g.us",
                 name="Ana's group", tags=[world["late"]], bot_paused=True)

    def names(query: str) -> list[str]:
        response = api_a.get(f"/api/v1/contacts?{query}")
        assert response.status_code == 200, response.content
        return [c["name"] for c in response.json()["results"]]

    vip, late = world["vip"].public_id, world["late"].public_id
    assert names("name=ana&order=asc") == ["Ana", "Ana Clara", "Ana's group"]
    assert names(f"tags={vip}&channel={world['instance'].public_id}") == ["Ana"]
    assert names(f"tags={vip},{late}&type=individual") == ["Ana Clara", "Ana"]
    assert names("type=group&bot_paused=true") == ["Ana's group"]
    assert names("identifier=551187654321") == ["Ana"]  # the other 9th-digit form finds her
    assert names(f"identifier=5511987654322&is_ignored=true&channel={support.public_id}") == ["Ana Clara"]
    assert names("search=clara&is_ignored=false") == []
    problem(api_a.get("/api/v1/contacts?type=robot"), 400)
    problem(api_a.get("/api/v1/contacts?is_ignored=maybe"), 400)
    problem(api_a.get("/api/v1/contacts?tags=7d1e2f3a-0000-4000-8000-000000000000"), 400)


def test_names_and_tags_are_searched_without_accents_or_letter_case(api_a, company_a, company_b, world):
    """"joao" finds João and "conceicao" finds Conceição, in the search, the name filter and the tag filter;
    company B's João and its "Promoção" tag are never found by A."""
    make_contact(company=company_a, instance=world["instance"], identifier="5511911112222", name="João Pedro",
                 custom_name="Maria da Conceição")
    make_tag(company=company_a, name="Promoção")
    foreign = make_instance(company=company_b, name="theirs")
    make_contact(company=company_b, instance=foreign, identifier="5511911112222", name="João")
    make_tag(company=company_b, name="Promoção de B")

    def names(query: str) -> list[str]:
        response = api_a.get(f"/api/v1/contacts?{query}")
        assert response.status_code == 200, response.content
        return [c["name"] for c in response.json()["results"]]

    for query in ("search=joao", "search=JOÃO", "name=joão pedro", "search=conceicao", "name=CONCEICAO"):
        assert names(query) == ["João Pedro"], query
    assert names("search=jõão") == ["João Pedro"] and names("search=joana") == []  # accents, not letters
    for term in ("promocao", "PROMOÇÃO", "moç"):
        assert [t["name"] for t in api_a.get(f"/api/v1/tags?name={term}").json()["results"]] == ["Promoção"], term


def test_contact_list_query_count_does_not_grow_with_rows(api_a, company_a, world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api_a.get("/api/v1/contacts?limit=100").status_code == 200
        return len(captured)

    queries()  # the key's first use is recorded once
    baseline = queries()
    tags = [world["vip"], world["late"]]
    for number in range(40):
        make_contact(company=company_a, instance=world["instance"], identifier=f"55119000{number:05d}", tags=tags,
                     extra_identifiers=[f"1000{number:08d}@lid"])
    assert queries() == baseline


def test_contact_list_query_count_is_pinned(api_a, company_a, world, django_assert_max_num_queries):
    for number in range(20):
        make_contact(company=company_a, instance=world["instance"], identifier=f"55119000{number:05d}",
                     tags=[world["vip"]])
    # key lookup + last-used touch, count, page, tags, identifiers.
    with django_assert_max_num_queries(6):
        assert len(api_a.get("/api/v1/contacts").json()["results"]) == 21


# --- tags ---------------------------------------------------------------------------------------

def test_tag_create_list_get_update_delete_and_contacts(api_a, company_a, world):
    created = api_a.post("/api/v1/tags", {"name": "Wholesale", "color": "#0A58CA"}, format="json")
    assert created.status_code == 201, created.content
    tag = created.json()
    assert (tag["name"], tag["color"], tag["contact_count"]) == ("Wholesale", "#0a58ca", 0)
    assert [t["name"] for t in api_a.get("/api/v1/tags").json()["results"]] == ["Late", "VIP", "Wholesale"]
    assert [t["name"] for t in api_a.get("/api/v1/tags?name=wHo").json()["results"]] == ["Wholesale"]
    vip = api_a.get(f"/api/v1/tags/{world['vip'].public_id}").json()
    assert vip["contact_count"] == 1
    renamed = api_a.patch(f"/api/v1/tags/{tag['id']}", {"color": "#111111"}, format="json").json()
    assert (renamed["name"], renamed["color"]) == ("Wholesale", "#111111")
    contacts = api_a.get(f"/api/v1/tags/{world['vip'].public_id}/contacts").json()
    assert [c["name"] for c in contacts["results"]] == ["Ana"]
    deleted = api_a.delete(f"/api/v1/tags/{world['vip'].public_id}")
    assert deleted.json() == {"id": str(world["vip"].public_id), "affected_contacts": 1}
    with company_scope(company_a):
        assert not Tag.objects.filter(name="VIP").exists()
        assert Contact.objects.count() == 1


def test_tag_errors(api_a, company_a, world):
    before = state(company_a)
    body = problem(api_a.post("/api/v1/tags", {"name": "Blue", "color": "blue"}, format="json"), 400)
    assert "color" in body["errors"]
    body = problem(api_a.post("/api/v1/tags", {"name": "vip", "color": "#000000"}, format="json"), 409)
    assert "vip" in body["detail"]
    problem(api_a.patch(f"/api/v1/tags/{world['late'].public_id}", {"name": "VIP"}, format="json"), 409)
    problem(api_a.patch(f"/api/v1/tags/{world['late'].public_id}", {"color": "#12345"}, format="json"), 400)
    problem(api_a.post("/api/v1/tags", {"color": "#000000"}, format="json"), 400)
    problem(api_a.get("/api/v1/tags/not-a-uuid"), 404)
    assert state(company_a) == before


# --- company B against company A's ids ------------------------------------------------------------

def test_every_route_answers_404_to_another_company_and_changes_nothing(api_b, company_a, world):
    contact, tag = world["ana"].public_id, world["vip"].public_id
    before = state(company_a)
    requests = [
        ("get", f"/api/v1/contacts/{contact}", None),
        ("patch", f"/api/v1/contacts/{contact}", {"custom_name": "pwned"}),
        ("delete", f"/api/v1/contacts/{contact}/platform", None),
        ("get", f"/api/v1/contacts/{contact}/tags", None),
        ("post", f"/api/v1/contacts/{contact}/tags", {"tags": [str(tag)]}),
        ("put", f"/api/v1/contacts/{contact}/tags", {"tags": []}),
        ("delete", f"/api/v1/contacts/{contact}/tags", {"tags": [str(tag)]}),
        ("get", f"/api/v1/tags/{tag}", None),
        ("patch", f"/api/v1/tags/{tag}", {"name": "pwned"}),
        ("delete", f"/api/v1/tags/{tag}", None),
        ("get", f"/api/v1/tags/{tag}/contacts", None),
    ]
    for method, url, payload in requests:
        problem(getattr(api_b, method)(url, payload, format="json"), 404)
    # Lists and filters never show A's rows; A's ids in filters are unknown to B.
    assert api_b.get("/api/v1/contacts").json()["count"] == 0
    assert api_b.get("/api/v1/tags").json()["count"] == 0
    problem(api_b.get(f"/api/v1/contacts?tags={tag}"), 400)
    problem(api_b.get(f"/api/v1/contacts?channel={world['instance'].public_id}"), 400)
    problem(api_b.post("/api/v1/contacts", {"channel": str(world["instance"].public_id),
                                            "identifier": "5511987654321"}, format="json"), 400)
    assert state(company_a) == before


def test_missing_key_is_401(client, world):
    assert client.get("/api/v1/contacts").status_code == 401


@pytest.mark.parametrize("url", ["/api/v1/contacts?search=%00", "/api/v1/contacts?name=a%00b",
                                 "/api/v1/contacts?identifier=%00", "/api/v1/tags?name=%00"])
def test_nul_in_a_text_filter_is_400_not_500(api_a, world, url):
    """PostgreSQL text cannot hold NUL: the filter is refused up front instead of failing the query."""
    body = problem(api_a.get(url), 400)
    assert list(body["errors"]) == [url.split("?")[1].split("=")[0]]
