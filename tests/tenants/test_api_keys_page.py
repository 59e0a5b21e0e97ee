"""The API keys page: create (secret shown once), list, revoke; admins and owners only."""

from tenants.models import ApiKey
from tests.factories import make_api_key

URL = "/c/{slug}/settings/api-keys/"


def _keys():
    return sorted(ApiKey.all_companies.values_list("company__slug", "name", "revoked_at"))


def test_empty_state_tells_what_to_do(client_a, company_a):
    response = client_a.get(URL.format(slug=company_a.slug))
    assert response.status_code == 200
    assert b"No API keys yet" in response.content and b"Create key" in response.content


def test_create_shows_the_secret_once_and_it_works(client_a, company_a, owner_a):
    response = client_a.post(URL.format(slug=company_a.slug), {"name": "ERP", "scopes": ["read", "write"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    content = response.content.decode()
    key = ApiKey.all_companies.get(name="ERP")
    secret = content.split('id="new-api-key-secret" type="text" readonly value="')[1].split('"')[0]
    assert secret.startswith(key.prefix + "_")
    assert "only time Recado shows it" in content
    assert key.scopes == ["read", "write"] and key.created_by == owner_a
    assert secret not in client_a.get(URL.format(slug=company_a.slug)).content.decode()  # never again
    response = client_a.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert key.prefix in client_a.get(URL.format(slug=company_a.slug)).content.decode()


def test_the_list_says_what_each_key_may_do(client_a, client_b, company_a, company_b):
    """A read-only key and a full one looked the same in the list: nothing told which one can send messages."""
    reader = make_api_key(company=company_a, name="Reports", scopes=["read"]).api_key
    full = make_api_key(company=company_a, name="ERP", scopes=["messages", "read", "write"]).api_key
    make_api_key(company=company_b, name="Bravo's", scopes=["read"])
    page = client_a.get(URL.format(slug=company_a.slug)).content.decode()
    scopes = page.split(f'id="api-key-{reader.public_id}"')[1].split("</tr>")[0]
    assert 'data-testid="api-key-scopes">Read</td>' in scopes
    scopes = page.split(f'id="api-key-{full.public_id}"')[1].split("</tr>")[0]
    assert 'data-testid="api-key-scopes">Read, Write, Send messages</td>' in scopes
    assert "Bravo&#x27;s" not in page and "Bravo's" not in page
    client_a.cookies["django_language"] = "pt-br"
    page = client_a.get(URL.format(slug=company_a.slug)).content.decode()
    assert "Permissões" in page and ">Leitura, Escrita, Enviar mensagens</td>" in page
    assert "Reports" not in client_b.get(URL.format(slug=company_b.slug)).content.decode()


def test_create_without_a_name_is_a_form_error(client_a, company_a):
    response = client_a.post(URL.format(slug=company_a.slug), {"name": "  ", "scopes": ["read"]})
    assert response.status_code == 400
    assert b"invalid-feedback" in response.content
    assert _keys() == []


def test_revoke_makes_the_key_fail(client_a, company_a):
    issued = make_api_key(company=company_a)
    response = client_a.post(f"/c/{company_a.slug}/settings/api-keys/{issued.api_key.public_id}/revoke/")
    assert response.status_code == 302
    assert b"Revoked" in client_a.get(response["Location"]).content
    assert client_a.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {issued.secret}").status_code == 401


def test_agent_gets_403_and_nothing_changes(agent_client_a, company_a):
    issued = make_api_key(company=company_a)
    before = _keys()
    assert agent_client_a.get(URL.format(slug=company_a.slug)).status_code == 403
    assert agent_client_a.post(URL.format(slug=company_a.slug), {"name": "Mine", "scopes": ["read"]}).status_code == 403
    revoke = f"/c/{company_a.slug}/settings/api-keys/{issued.api_key.public_id}/revoke/"
    assert agent_client_a.post(revoke).status_code == 403
    assert _keys() == before


def test_cross_company_key_ids_are_404_and_nothing_changes(client_b, company_a, company_b, api_key_a):
    before = _keys()
    key_id = api_key_a.api_key.public_id
    assert client_b.post(f"/c/{company_b.slug}/settings/api-keys/{key_id}/revoke/").status_code == 404
    assert client_b.post(f"/c/{company_a.slug}/settings/api-keys/{key_id}/revoke/").status_code == 404
    assert client_b.post(URL.format(slug=company_a.slug), {"name": "Spy", "scopes": ["read"]}).status_code == 404
    assert api_key_a.api_key.prefix not in client_b.get(URL.format(slug=company_b.slug)).content.decode()
    assert _keys() == before


def test_list_query_count_is_pinned(client_a, company_a, django_assert_max_num_queries):
    for number in range(5):
        make_api_key(company=company_a, name=f"Key {number}")
    with django_assert_max_num_queries(8):
        assert client_a.get(URL.format(slug=company_a.slug)).status_code == 200


def test_copy_hint_shows_the_header_placeholder(client_a, company_a):
    response = client_a.post(URL.format(slug=company_a.slug), {"name": "ERP", "scopes": ["read"]})
    assert "Bearer &lt;key&gt;" in response.content.decode()


def test_the_settings_hub_links_only_pages_the_member_may_open(client_a, agent_client_a, client_b, company_a):
    """An agent is not shown the API keys and webhooks links (those pages answer 403 to agents)."""
    hub = f"/c/{company_a.slug}/settings/"
    owner = client_a.get(hub).content.decode()
    agent = agent_client_a.get(hub).content.decode()
    for link in (URL.format(slug=company_a.slug), f"/c/{company_a.slug}/settings/webhooks/"):
        assert f'href="{link}"' in owner and f'href="{link}"' not in agent
        assert agent_client_a.get(link).status_code == 403
    assert f'href="/c/{company_a.slug}/settings/members/"' in agent
    # Quick replies: every member may add them, so everyone finds them here (and from the inbox).
    quick = f"/c/{company_a.slug}/inbox/quick-replies/"
    assert f'href="{quick}"' in owner and f'href="{quick}"' in agent and agent_client_a.get(quick).status_code == 200
    assert f'href="{quick}"' in agent_client_a.get(f"/c/{company_a.slug}/inbox/").content.decode()
    assert client_b.get(hub).status_code == 404


def test_revoking_asks_first(client_a, company_a):
    """One click would cut an integration off for good: the form carries the question recado.js asks."""
    issued = make_api_key(company=company_a, name="ERP")
    html = client_a.get(f"/c/{company_a.slug}/settings/api-keys/").content.decode()
    revoke = f'action="/c/{company_a.slug}/settings/api-keys/{issued.api_key.public_id}/revoke/" data-confirm="'
    assert revoke + "Revoke the key “ERP”?" in html


def test_the_not_allowed_page_keeps_the_company_navigation(agent_client_a, company_a):
    """An agent who follows a link to an admin page is still in their company: the menu takes them back to work."""
    response = agent_client_a.get(f"/c/{company_a.slug}/settings/api-keys/")
    html = response.content.decode()
    assert response.status_code == 403 and "Not allowed" in html
    assert f'href="/c/{company_a.slug}/inbox/"' in html
