"""Contact and tag pages: list, search, filters, bulk tags, detail, identifiers, tags; bad input and roles."""

from __future__ import annotations

import html
import re

import pytest

from contacts import services
from contacts.models import Contact, ContactIdentifier, ContactTag, Tag
from integrations import bots
from tenants.scoping import company_scope
from tests.factories import make_contact, make_instance, make_platform, make_tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(company_a, instance_a):
    vip = make_tag(company=company_a, name="VIP")
    make_platform(company=company_a, instance=instance_a, slug="sales-bot")
    ana = make_contact(company=company_a, instance=instance_a, identifier="5511987654321", name="Ana", tags=[vip])
    bia = make_contact(company=company_a, instance=instance_a, identifier="5521999998888", name="Bia")
    return {"vip": vip, "ana": ana, "bia": bia, "instance": instance_a}


def url(company, suffix: str = "") -> str:
    return f"/c/{company.slug}/contacts/{suffix}"


def snapshot(company) -> dict:
    with company_scope(company):
        return {
            "contacts": sorted(Contact.objects.values_list("identifier", "custom_name", "platform", "bot_paused")),
            "tags": sorted(Tag.objects.values_list("name", "color")),
            "links": sorted(ContactTag.objects.values_list("contact__identifier", "tag__name")),
            "identifiers": sorted(ContactIdentifier.objects.values_list("identifier", flat=True)),
        }


def test_list_shows_contacts_with_tags(client_a, company_a, world):
    response = client_a.get(url(company_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ana" in html and "Bia" in html and "+5511987654321" in html
    assert 'fill="#1a7f37"' in html  # the tag color, as an SVG fill (no style attributes under the CSP)
    assert "style=" not in html


def test_list_search_filters_and_sorting_as_htmx_fragment(client_a, company_a, world):
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "contact-results"}
    response = client_a.get(url(company_a), {"q": "bia"}, **htmx)
    html = response.content.decode()
    assert "HX-Request" in response["Vary"]
    assert "<nav class=\"navbar" not in html and 'id="contact-results"' in html
    assert "Bia" in html and "Ana" not in html
    html = client_a.get(url(company_a), {"tag": str(world["vip"].public_id)}, **htmx).content.decode()
    assert "Ana" in html and "Bia" not in html
    html = client_a.get(url(company_a), {"sort": "name", "order": "asc"}, **htmx).content.decode()
    assert html.index("Ana") < html.index("Bia")
    html = client_a.get(url(company_a), {"sort": "name", "order": "desc"}, **htmx).content.decode()
    assert html.index("Bia") < html.index("Ana")
    html = client_a.get(url(company_a), {"q": "nobody"}, **htmx).content.decode()
    assert "No contacts match these filters" in html
    # Garbage in the query string is ignored, not a crash.
    garbage = {"tag": "nope", "type": "robot", "instance": "x", "page": "999"}
    assert client_a.get(url(company_a), garbage).status_code == 200


def test_list_paginates(client_a, company_a, instance_a):
    with company_scope(company_a):
        for number in range(120):
            Contact.objects.create(company=company_a, instance=instance_a, identifier=f"55119{number:08d}")
    html = client_a.get(url(company_a)).content.decode()
    assert "Page 1 of 3" in html and html.count('data-testid="contact-row"') == 50
    html = client_a.get(url(company_a), {"page": 3}).content.decode()
    assert html.count('data-testid="contact-row"') == 20


def test_list_page_query_count_is_pinned(client_a, company_a, instance_a, django_assert_max_num_queries):
    tags = [make_tag(company=company_a, name=f"t{n}") for n in range(3)]
    for number in range(50):
        make_contact(company=company_a, instance=instance_a, identifier=f"55119000{number:05d}", tags=tags)
    client_a.get(url(company_a))
    # session, user, company, membership, switcher memberships, instances and tags (filters), count, page,
    # tags (one prefetch for all rows), the create form's instance choices.
    with django_assert_max_num_queries(11):
        response = client_a.get(url(company_a))
    assert response.content.decode().count('data-testid="contact-row"') == 50


def test_bulk_add_and_remove_tag(client_a, company_a, world):
    late = make_tag(company=company_a, name="Late")
    ids = [str(world["ana"].public_id), str(world["bia"].public_id)]
    response = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": str(late.public_id),
                                                           "contacts": ids}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "added to 2 contacts" in response.content.decode()
    with company_scope(company_a):
        assert ContactTag.objects.filter(tag=late).count() == 2
    response = client_a.post(url(company_a, "bulk-tag/"), {"action": "remove", "bulk_tag": str(late.public_id),
                                                           "contacts": ids[:1], "query": "q=a"})
    assert response.status_code == 302 and response["Location"].endswith("?q=a")
    with company_scope(company_a):
        assert ContactTag.objects.filter(tag=late).count() == 1


def test_bulk_with_bad_input_explains_and_changes_nothing(client_a, company_a, company_b, world):
    with company_scope(company_b):
        foreign = make_contact(company=company_b, instance=make_instance(company=company_b), identifier="5511911112222")
    before = snapshot(company_a)
    hx = {"HTTP_HX_REQUEST": "true"}
    tag = str(world["vip"].public_id)
    html = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": tag}, **hx).content.decode()
    assert "Select at least one contact." in html
    bia = str(world["bia"].public_id)
    html = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": "", "contacts": [bia]},
                         **hx).content.decode()
    assert "Choose a tag." in html
    html = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": tag,
                                                       "contacts": [str(foreign.public_id)]}, **hx).content.decode()
    assert "Select at least one contact." in html
    assert snapshot(company_a) == before


def test_all_matching_and_export_refuse_filters_naming_what_no_longer_exists(client_a, company_a, company_b, world):
    """The list drops a filter naming a tag deleted since (a bookmark), and so did "every matching contact" and the
    export: with the list filtered by a tag someone deleted meanwhile, tagging every match tagged the whole book,
    and the export link exported every contact. Another company's tag is as unknown as a deleted one."""
    promo = make_tag(company=company_a, name="Promo")
    with company_scope(company_a):
        services.contact_add_tags(company=company_a, contact=Contact.objects.get(pk=world["bia"].pk), tags=[promo])
    late = make_tag(company=company_a, name="Late")
    stale = str(promo.public_id)
    with company_scope(company_a):
        services.tag_delete(company=company_a, tag=Tag.objects.get(pk=promo.pk))  # by someone else, meanwhile
    foreign = str(make_tag(company=company_b, name="Promo").public_id)
    before = snapshot(company_a)
    for gone in (stale, foreign):
        html = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": str(late.public_id),
                                                           "all_matching": "on", "tag": gone},
                             HTTP_HX_REQUEST="true").content.decode()
        assert "no longer exists" in html
        response = client_a.get(url(company_a, "export.csv"), {"tag": gone})
        assert response.status_code == 302 and response["Location"] == url(company_a)
        assert "no longer exists" in client_a.get(response["Location"]).content.decode()
    assert snapshot(company_a) == before  # nobody tagged
    client_a.cookies["django_language"] = "pt-br"
    html = client_a.post(url(company_a, "bulk-tag/"), {"action": "add", "bulk_tag": str(late.public_id),
                                                       "all_matching": "on", "tag": stale},
                         HTTP_HX_REQUEST="true").content.decode()
    assert "que não existe mais: nada foi feito" in html
    response = client_a.get(url(company_a, "export.csv"), {"tag": str(world["vip"].public_id)})
    assert response.status_code == 200 and b"5511987654321" in b"".join(response.streaming_content)


def test_create_contact_from_the_list(client_a, company_a, world):
    form = {"instance": str(world["instance"].public_id), "identifier": "+1 415 555 2671", "custom_name": "Joe"}
    response = client_a.post(url(company_a, "new/"), form)
    assert response.status_code == 302
    with company_scope(company_a):
        joe = Contact.objects.get(identifier="14155552671")
    assert response["Location"] == url(company_a, f"{joe.public_id}/")
    # The same number in another form leads to the existing contact instead of a duplicate.
    response = client_a.post(url(company_a, "new/"), {**form, "identifier": "551187654321"})
    assert response["Location"] == url(company_a, f"{world['ana'].public_id}/")
    response = client_a.post(url(company_a, "new/"), {**form, "identifier": "12"})
    assert response.status_code == 400
    assert "not a valid phone number" in response.content.decode()
    with company_scope(company_a):
        assert Contact.objects.count() == 3


def test_detail_edit_and_errors(agent_client_a, company_a, world):
    detail = url(company_a, f"{world['ana'].public_id}/")
    assert "Ana" in agent_client_a.get(detail).content.decode()
    response = agent_client_a.post(detail, {"custom_name": "Dona Ana", "platform": "sales-bot", "bot_paused": "on",
                                            "tags": []})
    assert response.status_code == 302
    with company_scope(company_a):
        ana = Contact.objects.get(pk=world["ana"].pk)
        assert (ana.custom_name, ana.platform, ana.bot_paused, ana.is_ignored) == ("Dona Ana", "sales-bot", True, False)
        assert not ana.tags.exists()
    before = snapshot(company_a)
    response = agent_client_a.post(detail, {"platform": "not a slug", "photo_url": "nope",
                                            "tags": ["7d1e2f3a-0000-4000-8000-000000000000"]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "not a slug is not one of the available choices" in html and "Enter a valid URL." in html
    assert "7d1e2f3a-0000-4000-8000-000000000000 is not one of the available choices" in html
    assert snapshot(company_a) == before


def _posted_as_the_page_would(page: str, **changes) -> dict:
    """The contact form's data as the browser sends it: its hidden inputs, the visible values as drawn, changes."""
    form = page.split('data-testid="contact-form"')[1].split("</form>")[0]
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if name is None or (kind and kind.group(1) == "checkbox" and " checked" not in tag):
            continue
        checkbox = kind is not None and kind.group(1) == "checkbox"
        data.setdefault(name.group(1), []).append(html.unescape(value.group(1)) if value else
                                                  ("on" if checkbox else ""))
    for name, value in changes.items():
        data[name] = value if isinstance(value, list) else [value]
    return data


def test_saving_the_form_keeps_what_others_changed_since_the_page_was_drawn(agent_client_a, client_b, company_a,
                                                                            world):
    """The form posted every field as drawn: tags added and a bot paused (by an agent's reply, another tab, the
    API) after the page was opened were undone by saving an unrelated change. Now only what the person changed
    on the page is changed."""
    late = make_tag(company=company_a, name="Late")
    detail = url(company_a, f"{world['ana'].public_id}/")
    page = agent_client_a.get(detail).content.decode()  # Ana has VIP; her bot is not paused
    with company_scope(company_a):  # meanwhile, elsewhere
        ana = Contact.objects.get(pk=world["ana"].pk)
        services.contact_add_tags(company=company_a, contact=ana, tags=[late])
        bots.bot_set_paused(company=company_a, contact=ana, paused=True, reason="agent_reply", actor="Adam")
    data = _posted_as_the_page_would(page, custom_name="Dona Ana")
    assert data["tags"] == [str(world["vip"].public_id)] and "bot_paused" not in data  # as drawn
    assert agent_client_a.post(detail, data).status_code == 302
    with company_scope(company_a):
        ana = Contact.objects.get(pk=world["ana"].pk)
        assert (ana.custom_name, ana.bot_paused) == ("Dona Ana", True)
        assert sorted(ana.tags.values_list("name", flat=True)) == ["Late", "VIP"]
    # What the person did change is changed: VIP unticked, the bot resumed, both seen as they are now.
    page = agent_client_a.get(detail).content.decode()
    data = _posted_as_the_page_would(page, tags=[str(late.public_id)])
    data.pop("bot_paused")
    assert agent_client_a.post(detail, data).status_code == 302
    with company_scope(company_a):
        ana = Contact.objects.get(pk=world["ana"].pk)
        assert ana.bot_paused is False and list(ana.tags.values_list("name", flat=True)) == ["Late"]
    # A tag the page drew ticked and someone removed meanwhile is not put back by a save that left it ticked.
    page = agent_client_a.get(detail).content.decode()
    with company_scope(company_a):
        services.contact_remove_tags(company=company_a, contact=Contact.objects.get(pk=world["ana"].pk), tags=[late])
    assert agent_client_a.post(detail, _posted_as_the_page_would(page, custom_name="Ana")).status_code == 302
    with company_scope(company_a):
        ana = Contact.objects.get(pk=world["ana"].pk)
        assert (ana.custom_name, list(ana.tags.values_list("name", flat=True))) == ("Ana", [])
    before = snapshot(company_a)
    assert client_b.post(detail, data).status_code == 404
    assert snapshot(company_a) == before


def test_identifiers_add_and_remove(client_a, company_a, world):
    base = url(company_a, f"{world['ana'].public_id}/identifiers/")
    assert client_a.post(base, {"identifier": "99887766554433@lid"}).status_code == 302
    response = client_a.post(base, {"identifier": "5521999998888"})
    assert response.status_code == 400 and "Already used by Bia" in response.content.decode()
    response = client_a.post(base, {"identifier": "bogus"})
    assert response.status_code == 400 and "not a valid phone number" in response.content.decode()
    with company_scope(company_a):
        lid = ContactIdentifier.objects.get(identifier="99887766554433@lid")
        primary = ContactIdentifier.objects.get(identifier="5511987654321")
    assert client_a.post(f"{base}{primary.public_id}/remove/").status_code == 302
    assert client_a.post(f"{base}{lid.public_id}/remove/").status_code == 302
    with company_scope(company_a):
        assert list(ContactIdentifier.objects.filter(contact=world["ana"]).values_list("identifier", flat=True)) == [
            "5511987654321", "551187654321"]


def test_tags_page_create_rename_recolor_and_errors(agent_client_a, company_a, world):
    tags = url(company_a, "tags/")
    assert agent_client_a.post(tags, {"name": "Wholesale", "color": "#0a58ca"}).status_code == 302
    response = agent_client_a.post(tags, {"name": "vip", "color": "#000000"})
    assert response.status_code == 400 and "already exists" in response.content.decode()
    response = agent_client_a.post(tags, {"name": "", "color": "blue"})
    html = response.content.decode()
    assert response.status_code == 400 and "This field is required." in html and "#rrggbb" in html
    vip = world["vip"]
    assert agent_client_a.post(url(company_a, f"tags/{vip.public_id}/"),
                               {"name": "Gold", "color": "#ffd700"}).status_code == 302
    response = agent_client_a.post(url(company_a, f"tags/{vip.public_id}/"), {"name": "wholesale", "color": "#ffd700"})
    assert response.status_code == 400 and "already exists" in response.content.decode()
    with company_scope(company_a):
        assert sorted(Tag.objects.values_list("name", "color")) == [("Gold", "#ffd700"), ("Wholesale", "#0a58ca")]
    html = agent_client_a.get(tags).content.decode()
    assert "1 contact" in html and f"?tag={vip.public_id}" in html


def test_deleting_a_tag_shows_the_count_and_needs_an_admin(client_a, agent_client_a, company_a, world):
    delete = url(company_a, f"tags/{world['vip'].public_id}/delete/")
    assert agent_client_a.get(delete).status_code == 403
    assert agent_client_a.post(delete).status_code == 403
    assert "1 contact will lose this tag." in client_a.get(delete).content.decode()
    response = client_a.post(delete, follow=True)
    assert "1 contact lost it" in response.content.decode()
    with company_scope(company_a):
        assert not Tag.objects.exists() and Contact.objects.count() == 2


def test_another_company_gets_404_and_changes_nothing(client_b, company_a, world):
    before = snapshot(company_a)
    ana, vip = world["ana"].public_id, world["vip"].public_id
    for path, data in [
        (f"{ana}/", {"custom_name": "pwned"}),
        (f"{ana}/identifiers/", {"identifier": "99887766554433@lid"}),
        (f"tags/{vip}/", {"name": "pwned", "color": "#000000"}),
        (f"tags/{vip}/delete/", {}),
        ("bulk-tag/", {"action": "add", "bulk_tag": str(vip), "contacts": [str(ana)]}),
    ]:
        assert client_b.post(url(company_a, path), data).status_code == 404
    # Company B's own pages never show A's rows, even when asked for A's ids.
    html = client_b.get(f"/c/bravo/contacts/?tag={vip}").content.decode()
    assert "Ana" not in html
    assert client_b.get(f"/c/bravo/contacts/{ana}/").status_code == 404
    assert snapshot(company_a) == before


def test_forms_validate_live_without_saving(client_a, company_a, world):
    before = snapshot(company_a)
    hx = {"HTTP_HX_REQUEST": "true"}
    response = client_a.post(url(company_a, "tags/"), {"name": "vip", "color": "#000000", "validate_only": "1"}, **hx)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="tag-create-form"' in html and "<nav" not in html
    assert "already exists" in html
    html = client_a.post(url(company_a, "tags/"), {"name": "", "color": "red", "validate_only": "1"},
                         **hx).content.decode()
    assert "#rrggbb" in html and "This field is required." not in html  # the empty name is not reached yet
    new = {"instance": str(world["instance"].public_id), "validate_only": "1"}
    html = client_a.post(url(company_a, "new/"), {**new, "identifier": "551187654321"}, **hx).content.decode()
    assert "This contact already exists (Ana)." in html and f"{world['ana'].public_id}/" in html
    html = client_a.post(url(company_a, "new/"), {**new, "identifier": "12"}, **hx).content.decode()
    assert "not a valid phone number" in html
    html = client_a.post(url(company_a, "new/"), {**new, "identifier": "5511955554444"}, **hx).content.decode()
    assert "invalid-feedback" not in html
    assert snapshot(company_a) == before


def test_pages_speak_brazilian_portuguese(client_a, owner_a, company_a, world):
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    html = client_a.get(url(company_a)).content.decode()
    assert "Adicionar etiqueta aos selecionados" in html and "2 contatos" in html
    html = client_a.post(url(company_a, "tags/"), {"name": "vip", "color": "#000000"}).content.decode()
    assert "Já existe uma etiqueta chamada “vip”." in html
    html = client_a.post(url(company_a, "new/"), {"instance": str(world["instance"].public_id),
                                                  "identifier": "12"}).content.decode()
    assert "não é um telefone válido" in html


def test_the_bot_card_says_which_bot_answers_or_that_none_does(client_a, client_b, company_a, world):
    """A platform existing is not a platform answering: only the contact's own or the instance's starting one does."""
    from integrations import bots

    ana = world["ana"]
    page = client_a.get(url(company_a, f"{ana.public_id}/")).content.decode()
    assert "No bot answers this contact." in page and "The bot answers this contact" not in page
    with company_scope(company_a):
        bots.instance_set_starting_platform(company=company_a, instance=world["instance"], slug="sales-bot")
    page = client_a.get(url(company_a, f"{ana.public_id}/"), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "sales-bot" in page.split('data-testid="bot-status"', 1)[1].split("</p>", 1)[0]
    assert client_b.get(url(company_a, f"{ana.public_id}/")).status_code == 404


def test_a_contact_without_a_name_has_its_number_shown_once_at_the_top(client_a, client_b, company_a, world):
    """Without a name the title is the number: the line under it no longer repeats it (the identifiers card still
    lists it), nor does the delete page or the merge page's list of candidates. A named contact keeps its number
    under the name."""
    nameless = make_contact(company=company_a, instance=world["instance"], identifier="5531977776666")

    def top(contact) -> str:
        content = client_a.get(url(company_a, f"{contact.public_id}/")).content.decode()
        return content.split('data-testid="contact-title"', 1)[1].split('class="row g-4"', 1)[0]

    assert top(nameless).count("+5531977776666") == 1
    assert top(world["ana"]).count("+5511987654321") == 1 and "Ana" in top(world["ana"])
    # Nor twice on its delete page, or as a candidate to merge into another contact.
    deleting = client_a.get(url(company_a, f"{nameless.public_id}/delete/")).content.decode()
    assert deleting.split("<h1", 1)[1].split('data-testid="delete-summary"', 1)[0].count("+5531977776666") == 1
    candidates = client_a.get(url(company_a, f"{world['ana'].public_id}/merge/")).content.decode()
    candidate = next(part for part in candidates.split('data-testid="merge-candidate"')[1:] if "+5531977776666" in part)
    assert candidate.split("</a>", 1)[0].count("+5531977776666") == 1
    assert client_b.get(url(company_a, f"{nameless.public_id}/")).status_code == 404
