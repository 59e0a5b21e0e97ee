"""The UI shell in a real browser: login, language, one company per tab, the live socket."""

from __future__ import annotations

import pytest

from tenants.models import Role
from tests.browser.conftest import log_in
from tests.factories import make_company, make_member

pytestmark = pytest.mark.browser

# Set before any page script runs: records htmx's "socket open" event (it bubbles up to document).
_WATCH_SOCKET = (
    "window.__wsOpened = false; document.addEventListener('htmx:wsOpen', () => { window.__wsOpened = true; });"
)


@pytest.fixture
def two_company_owner(transactional_db, company_a, owner_a):
    """Alice owns Alpha Foods and is an admin of a second company, so her switcher lists two."""
    second = make_company(name="Charlie Bakery", slug="charlie")
    make_member(company=second, user=owner_a, role=Role.ADMIN)
    return owner_a, company_a, second


def nav_prefixes(page) -> set[str]:
    hrefs = page.locator("[data-testid=company-nav] a").evaluate_all("links => links.map(link => link.pathname)")
    assert len(hrefs) >= 5, hrefs
    return {"/".join(href.split("/")[:3]) + "/" for href in hrefs}


def test_owner_logs_in_switches_language_and_keeps_one_company_per_tab(app_url, browser_context, two_company_owner):
    owner, company_a, company_c = two_company_owner
    browser_context.add_init_script(_WATCH_SOCKET)
    sockets = []
    page = browser_context.new_page()
    page.on("websocket", lambda socket: sockets.append(socket))

    log_in(page, app_url, owner.email)
    assert page.url == f"{app_url}/c/{company_a.slug}/"
    # The one WebSocket per tab opened, on /ws/, authenticated by the session.
    page.wait_for_function("() => window.__wsOpened === true")
    assert [socket.url for socket in sockets] == [f"ws://127.0.0.1:{app_url.rsplit(':', 1)[1]}/ws/"]
    assert not sockets[0].is_closed()

    page.goto(f"{app_url}/accounts/profile/")
    page.select_option("select[name=language]", "pt-br")
    page.click("main form button[type=submit]")
    page.goto(f"{app_url}/c/{company_a.slug}/")
    nav = page.locator("[data-testid=company-nav]")
    assert nav.get_by_role("link", name="Contatos").is_visible()
    assert page.locator("html").get_attribute("lang") == "pt-br"

    second_tab = browser_context.new_page()
    second_tab.goto(f"{app_url}/c/{company_c.slug}/")
    assert second_tab.get_by_test_id("company-switcher").inner_text().strip() == company_c.name
    assert nav_prefixes(second_tab) == {f"/c/{company_c.slug}/"}
    second_tab.wait_for_function("() => window.__wsOpened === true")

    # The first tab still belongs to its own company, before and after a reload: no "current company" in the session.
    for _ in range(2):
        assert page.get_by_test_id("company-switcher").inner_text().strip() == company_a.name
        assert nav_prefixes(page) == {f"/c/{company_a.slug}/"}
        page.reload()

    page.screenshot(path="/tmp/recado-shell.png", full_page=True)


def test_settings_and_contact_pages_fit_a_phone(app_url, browser, company_a, owner_a, member_a, settings):
    """At 390 px no page scrolls sideways (a wide table or a select sized by a long tag name did), and a
    checkbox of a long list stays on the line of its label's first words."""
    from contacts.models import Tag
    from integrations import services as integration_services
    from tenants import services as tenant_services
    from tenants.scoping import company_scope
    from tests.factories import make_api_key

    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # no DNS here: the endpoint's URL is an address
    make_api_key(company=company_a, name="ERP")
    tenant_services.invitation_create(company=company_a, invited_by=owner_a, role="agent",
                                      email="maria.aparecida.oliveira@supermercados-exemplo-do-brasil.com.br")
    with company_scope(company_a):
        Tag.objects.create(company=company_a, name="Pagamento atrasado desde o mês passado")
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/hooks/recado")
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, app_url, owner_a.email)
    for path in ("settings/members/", "settings/api-keys/", "settings/webhooks/", "contacts/"):
        page.goto(f"{app_url}/c/{company_a.slug}/{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto(f"{app_url}/c/{company_a.slug}/settings/webhooks/")
    checkbox = page.locator("input[name=event_types]").first
    label = page.locator(f"label[for={checkbox.get_attribute('id')}]")
    first_line = label.evaluate("label => label.getClientRects()[0].top")
    assert abs(checkbox.bounding_box()["y"] - first_line) < 12
    context.close()
