"""Quick replies: saved answers agents insert in the composer with "/" and a shortcut; managed on a page and
through the API, each company's its own."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError

from messaging import services
from messaging.models import QuickReply
from tenants.models import ApiKey
from tenants.scoping import company_scope
from tests.factories import make_api_key, make_instance
from tests.messaging.test_pages import make_conversation
from tests.realtime_listener import Listener

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
PAGE = "/c/{slug}/inbox/quick-replies/"


def replies(company) -> list[tuple[str, str]]:
    with company_scope(company):
        return list(QuickReply.objects.order_by("shortcut").values_list("shortcut", "text"))


def create(company, shortcut: str, text: str) -> QuickReply:
    with company_scope(company):
        return services.quick_reply_create(company=company, shortcut=shortcut, text=text)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


# --- services -----------------------------------------------------------------------------------------------

def test_a_shortcut_is_cleaned_unique_per_company_and_checked(company_a, company_b):
    create(company_a, "/PIX", "  Nossa chave Pix é o CNPJ.  ")
    create(company_b, "pix", "B's own")  # the same shortcut in another company is another reply
    assert replies(company_a) == [("pix", "Nossa chave Pix é o CNPJ.")]
    with pytest.raises(services.QuickReplyShortcutTaken):
        create(company_a, "Pix", "again")
    for shortcut, text, field in (("", "x", "shortcut"), ("com espaço", "x", "shortcut"), ("é", "x", "shortcut"),
                                  ("-x", "x", "shortcut"), ("a" * 41, "x", "shortcut"), ("ok", "   ", "text"),
                                  ("ok", "x" * 4097, "text"), ("ok", "a\x00b", "text")):
        with pytest.raises(ValidationError) as caught:
            create(company_a, shortcut, text)
        assert list(caught.value.message_dict) == [field], (shortcut, text)
    assert replies(company_a) == [("pix", "Nossa chave Pix é o CNPJ.")]
    assert replies(company_b) == [("pix", "B's own")]


# --- pages --------------------------------------------------------------------------------------------------

def test_members_add_and_edit_admins_delete_and_other_companies_see_nothing(
        client_a, agent_client_a, client_b, company_a, company_b):
    page = PAGE.format(slug=company_a.slug)
    response = agent_client_a.post(page, {"shortcut": "horario", "text": "Abrimos das 8h às 18h."})
    assert response.status_code == 302
    response = agent_client_a.post(page, {"shortcut": "Horario", "text": "outra"})
    assert response.status_code == 400 and "já existe" not in response.content.decode()  # English by default
    assert "A quick reply “/horario” already exists." in response.content.decode()
    response = agent_client_a.post(page, {"shortcut": "com espaço", "text": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Use up to 40 letters" in body and "This field is required." in body
    [reply] = QuickReply.all_companies.filter(company=company_a)
    prefix = f"r{reply.public_id.hex}"
    edit = f"{page}{reply.public_id}/"
    edited = agent_client_a.post(edit, {f"{prefix}-shortcut": "horario", f"{prefix}-text": "8h às 19h"})
    assert edited.status_code == 302
    assert replies(company_a) == [("horario", "8h às 19h")]
    listed = client_a.get(page, {"q": "19H"})
    assert listed.status_code == 200 and 'data-shortcut="horario"' in listed.content.decode()
    assert listed.content.decode().count("e.g. “pix” for /pix.") == 1  # the new reply's form says it; rows do not
    assert 'data-shortcut="horario"' not in client_a.get(page, {"q": "pix"}).content.decode()

    assert agent_client_a.post(f"{edit}delete/").status_code == 403
    # Company B's owner: A's reply does not exist for them, to read, edit or delete.
    assert client_b.post(edit, {f"{prefix}-shortcut": "x", f"{prefix}-text": "y"}).status_code == 404
    assert client_b.post(f"{edit}delete/").status_code == 404
    assert 'data-shortcut="horario"' not in client_b.get(PAGE.format(slug=company_b.slug)).content.decode()
    assert client_b.get(page).status_code == 404
    assert client_a.get(f"{edit}delete/").status_code == 200
    assert client_a.post(f"{edit}delete/").status_code == 302
    assert replies(company_a) == []


def test_a_search_with_a_nul_character_is_searched_without_it(client_a, client_b, company_a):
    """PostgreSQL text cannot hold NUL: a pasted or tampered "q" drops it instead of answering 500."""
    create(company_a, "pix", "Nossa chave Pix é o CNPJ.")
    listed = client_a.get(PAGE.format(slug=company_a.slug), {"q": "p\x00ix"})
    assert listed.status_code == 200 and 'data-shortcut="pix"' in listed.content.decode()
    assert client_b.get(PAGE.format(slug=company_a.slug), {"q": "p\x00ix"}).status_code == 404


def test_the_page_speaks_portuguese(client_a, company_a):
    client_a.cookies["django_language"] = "pt-br"
    body = client_a.get(PAGE.format(slug=company_a.slug)).content.decode()
    assert "Respostas rápidas" in body and "Nova resposta rápida" in body


def test_the_composer_carries_the_company_s_replies_and_the_names_they_fill_in(client_a, company_a, company_b):
    create(company_a, "pix", "Olá {{contact.first_name}}, a chave é o CNPJ.")
    create(company_b, "segredo", "B only")
    conversation = make_conversation(company_a, make_instance(company=company_a), "5511955554444", "Maria Souza")
    body = client_a.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").content.decode()
    assert composer_replies(body) == [("pix", "Olá {{contact.first_name}}, a chave é o CNPJ.")]
    assert 'data-contact-name="Maria Souza"' in body and 'data-agent-name="Alice"' in body
    # The same list alone, as the page re-fetches it after a reconnect; company B's is B's alone.
    fragment = client_a.get(PAGE.format(slug=company_a.slug), {"fragment": "composer"}).content.decode()
    assert fragment.lstrip().startswith('<ul id="quick-replies"') and composer_replies(fragment) == [
        ("pix", "Olá {{contact.first_name}}, a chave é o CNPJ.")]


def composer_replies(html: str) -> list[tuple[str, str]]:
    """The (shortcut, text) pairs of the composer's hidden list (#quick-replies) in a page or a fragment."""
    listed = html.split('<ul id="quick-replies"', 1)[1].split("</ul>", 1)[0]
    return [(shortcut, unescape(text)) for shortcut, text in
            re.findall(r'<li data-shortcut="([^"]*)">(.*?)</li>', listed, flags=re.DOTALL)]


def test_every_open_thread_of_the_company_hears_a_reply_added_edited_or_deleted_and_no_other_company_does(
        client_a, agent_client_a, client_b, company_a, company_b, django_capture_on_commit_callbacks):
    """The composer's list is pushed whenever it changes (page, API or service), so "/" offers it without a reload;
    company B's threads hear nothing of A's, and B's own change is pushed to B only."""

    def pushed(company, change) -> list[list[tuple[str, str]]]:
        """What the company's open threads hear of `change` (a listener hears one drain: a fresh one each time)."""
        ear = Listener().join(company, "quick_replies")
        with django_capture_on_commit_callbacks(execute=True):
            change()
        return [composer_replies(html) for html in ear.drain()]

    page = PAGE.format(slug=company_a.slug)
    assert pushed(company_a, lambda: agent_client_a.post(page, {"shortcut": "pix", "text": "Chave: CNPJ"})) == [
        [("pix", "Chave: CNPJ")]]
    [reply] = QuickReply.all_companies.filter(company=company_a)
    prefix = f"r{reply.public_id.hex}"
    edit = {f"{prefix}-shortcut": "pix", f"{prefix}-text": "Chave: e-mail"}
    assert pushed(company_a, lambda: agent_client_a.post(f"{page}{reply.public_id}/", edit)) == [
        [("pix", "Chave: e-mail")]]
    # Company B cannot change or read A's replies (404): nothing changes, nothing is pushed to anyone.
    refused = []
    assert pushed(company_a, lambda: refused.extend([
        client_b.post(f"{page}{reply.public_id}/delete/"), client_b.post(f"{page}{reply.public_id}/", edit),
        client_b.get(page, {"fragment": "composer"})])) == []
    assert [response.status_code for response in refused] == [404, 404, 404]
    assert replies(company_a) == [("pix", "Chave: e-mail")]
    assert pushed(company_a, lambda: client_a.post(f"{page}{reply.public_id}/delete/")) == [[]]
    assert pushed(company_a, lambda: create(company_b, "pix", "B's own")) == []
    assert pushed(company_b, lambda: create(company_b, "boleto", "B's boleto")) == [
        [("boleto", "B's boleto"), ("pix", "B's own")]]


# --- API ----------------------------------------------------------------------------------------------------

def test_api_create_list_update_delete_with_problems_and_scopes(api_a, api_b, company_a):
    created = api_a.post("/api/v1/quick-replies", {"shortcut": "/Entrega", "text": "Entregamos em 2 dias."},
                         format="json")
    assert created.status_code == 201, created.content
    reply = created.json()
    assert (reply["shortcut"], reply["text"]) == ("entrega", "Entregamos em 2 dias.")
    assert problem(api_a.post("/api/v1/quick-replies", {"shortcut": "entrega", "text": "x"}, format="json"),
                   409)["detail"] == "A quick reply “/entrega” already exists."
    body = problem(api_a.post("/api/v1/quick-replies", {"shortcut": "a b", "text": ""}, format="json"), 400)
    assert set(body["errors"]) == {"shortcut", "text"}
    assert problem(api_a.post("/api/v1/quick-replies", {"shortcut": "ok", "text": "a\x00b"}, format="json"),
                   400)["errors"]["text"]
    url = f"/api/v1/quick-replies/{reply['id']}"
    assert api_a.patch(url, {"text": "Entregamos em 1 dia."}, format="json").json()["text"] == "Entregamos em 1 dia."
    assert [r["shortcut"] for r in api_a.get("/api/v1/quick-replies", {"search": "1 DIA"}).json()["results"]] == [
        "entrega"]
    assert api_a.get("/api/v1/quick-replies", {"search": "nada"}).json()["results"] == []
    # Company B's key: A's reply does not exist.
    for response in (api_b.get(url), api_b.patch(url, {"text": "x"}, format="json"), api_b.delete(url)):
        problem(response, 404)
    assert api_b.get("/api/v1/quick-replies").json()["results"] == []
    # A read-only key reads but does not write.
    reader = make_api_key(company=company_a, scopes=[ApiKey.Scope.READ])
    api_a.credentials(HTTP_AUTHORIZATION=f"Bearer {reader.secret}")
    assert api_a.get(url).status_code == 200
    problem(api_a.delete(url), 403)
    problem(api_a.post("/api/v1/quick-replies", {"shortcut": "x", "text": "y"}, format="json"), 403)
    assert replies(company_a) == [("entrega", "Entregamos em 1 dia.")]
