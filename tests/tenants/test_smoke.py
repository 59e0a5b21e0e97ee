def test_overview_renders_for_member(client_a, company_a):
    response = client_a.get(f"/c/{company_a.slug}/")
    assert response.status_code == 200
    assert b"Alpha Foods" in response.content


def test_overview_is_404_for_other_company(client_b, company_a):
    assert client_b.get(f"/c/{company_a.slug}/").status_code == 404


def test_me(api_a, company_a):
    response = api_a.get("/api/v1/me")
    assert response.status_code == 200, response.content
    assert response.json()["company"]["slug"] == "alpha"


def test_the_favicon_is_linked_and_served_without_login(client, client_a, client_b, company_a):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/recado/favicon.svg")
    assert finders.find("recado/favicon.svg") is not None
    page = client_a.get(f"/c/{company_a.slug}/").content.decode()
    assert 'rel="icon" href="/static/recado/favicon.svg"' in page
    assert "{#" not in page and "{% comment" not in page  # the base template's comments stay comments
    assert client_b.get(f"/c/{company_a.slug}/").status_code == 404


def test_overview_offers_agents_the_inbox_and_not_the_admins_chores(client_a, agent_client_a, company_a):
    """An agent cannot add numbers, invite people or create API keys: the overview does not send them there."""
    agent_page = agent_client_a.get(f"/c/{company_a.slug}/").content.decode()
    owner_page = client_a.get(f"/c/{company_a.slug}/").content.decode()
    inbox = f'href="/c/{company_a.slug}/inbox/"'
    assert 'data-testid="overview-inbox"' in agent_page and inbox in agent_page
    assert "Connect a WhatsApp number" not in agent_page and "Invite your team" not in agent_page
    assert "Create an API key" not in agent_page
    assert "Connect a WhatsApp number" in owner_page and "Invite your team" in owner_page
    assert 'data-testid="overview-inbox"' in owner_page


def test_every_page_starts_with_a_way_past_the_menu(client, client_a, client_b, company_a):
    """Keyboard and screen-reader users skip the navigation: the first link of the body goes to #main, which
    exists, in the page's language; the login page too. Company B's owner still gets A's pages as 404s."""
    for response in (client.get("/accounts/login/"), client_a.get(f"/c/{company_a.slug}/")):
        body = response.content.decode().split("<body", 1)[1]
        first_link = body[body.index("<a "):][:300]
        assert 'href="#main"' in first_link and "Skip to content" in first_link and 'id="main"' in body
    client_a.cookies["django_language"] = "pt-br"
    assert "Pular para o conteúdo" in client_a.get(f"/c/{company_a.slug}/").content.decode()
    assert client_b.get(f"/c/{company_a.slug}/").status_code == 404
