"""The UI shell in a real browser: login, language, one company per tab, the live socket."""

from __future__ import annotations

import re

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


def test_the_instances_badge_is_fetched_once_per_page_and_stays_live(app_url, browser, browser_context, company_a,
                                                                     owner_a, company_b, owner_b):
    """The navigation's badge was fetched twice on every company page: on load, and again by the re-fetch every
    live region makes once the socket's subscriptions are confirmed. It is now fetched by that re-fetch alone, and
    a push still updates it. Company B's page hears nothing of A's instance."""
    from instances import events
    from instances.models import Instance
    from tenants.scoping import company_scope
    from tests.factories import make_instance

    instance = make_instance(company=company_a)

    def company_page(context, user, company):
        """A company page whose socket's subscriptions reach the server only a second after the page loaded (as on
        a slow link: the badge's own fetch is long done by then), and the badge fetches it made."""
        page = context.new_page()
        fetched: list[str] = []
        frames: list[str] = []
        held: list[str] = []
        gate: dict = {"open": False}

        def route(socket) -> None:
            server = socket.connect_to_server()
            socket.on_message(lambda message: server.send(message) if gate["open"] else held.append(message))
            server.on_message(lambda message: (frames.append(str(message)), socket.send(message)))
            gate["server"] = server

        page.on("request", lambda request: "fragment=nav-badge" in request.url and fetched.append(request.url))
        log_in(page, app_url, user.email)
        page.goto("about:blank")  # the login's landing page fetches its badge too: measure one page load alone
        fetched.clear()
        page.route_web_socket(re.compile(r"/ws/$"), route)
        page.goto(f"{app_url}/c/{company.slug}/")
        page.wait_for_timeout(1000)
        gate["open"] = True
        for message in held:
            gate["server"].send(message)
        for _tick in range(150):
            if any('"subscribed"' in frame and "instances_nav" in frame for frame in frames):
                break
            page.wait_for_timeout(100)
        page.wait_for_timeout(1000)  # time for any other fetch to show up
        return page, fetched, frames

    page, fetched, _frames = company_page(browser_context, owner_a, company_a)
    assert len(fetched) == 1, fetched
    assert page.locator("[data-testid=nav-instances-attention]").count() == 0
    context_b = browser.new_context(locale="en-US")
    page_b, fetched_b, frames_b = company_page(context_b, owner_b, company_b)
    assert len(fetched_b) == 1, fetched_b

    Instance.all_companies.filter(pk=instance.pk).update(state="close")
    with company_scope(company_a):
        events.instance_changed(company=company_a, instance=Instance.objects.get(pk=instance.pk))
    page.locator("[data-testid=nav-instances-attention]").wait_for()
    assert page.locator("[data-testid=nav-instances-attention]").inner_text() == "1"
    assert len(fetched) == 1  # pushed, not fetched
    page_b.wait_for_timeout(500)
    assert page_b.locator("[data-testid=nav-instances-attention]").count() == 0
    assert not any("nav-instances-attention" in frame for frame in frames_b)
    context_b.close()


# Each label of the top navigation: how many lines its words take (the line boxes of its text, spaces aside).
_NAV_LABEL_LINES = """() => [...document.querySelectorAll('#main-nav .navbar-nav > .nav-item > .nav-link')]
    .filter((link) => link.getClientRects().length)
    .map((link) => {
        const tops = new Set();
        const walker = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (!node.textContent.trim()) continue;
            const range = document.createRange();
            range.selectNodeContents(node);
            [...range.getClientRects()].forEach((rect) => tops.add(Math.round(rect.top)));
        }
        return [link.textContent.trim().replace(/\\s+/g, ' '), tops.size];
    })"""


def test_no_navigation_label_wraps_in_portuguese_at_tablet_and_desktop_widths(app_url, browser, company_a, owner_a,
                                                                               company_b):
    """At 768 px in Portuguese the expanded navigation had no room: "Caixa de entrada" took three lines (and at
    992 px, beside a company named like the demo's, two). It folds behind its button below 1200 px now, and from
    there on the company's and the user's names are capped, so every label stays on one line, a long company name
    too. Company B's name is in no menu of A's owner."""
    owner_a.language = "pt-br"
    owner_a.save(update_fields=["language"])
    company_a.name = "Supermercado e Padaria Exemplo do Bairro Ltda"
    company_a.save(update_fields=["name"])
    context = browser.new_context(locale="pt-BR", viewport={"width": 768, "height": 800})
    page = context.new_page()
    log_in(page, app_url, owner_a.email)
    assert page.locator("html").get_attribute("lang") == "pt-br"
    for width in (768, 992, 1024, 1199, 1200, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        toggler = page.get_by_role("button", name="Menu")
        folded = toggler.is_visible()
        if folded:
            toggler.click()
            page.locator("#main-nav.show").wait_for()
        labels = page.evaluate(_NAV_LABEL_LINES)
        assert "Caixa de entrada" in [label for label, _lines in labels], (width, labels)
        assert [(label, lines) for label, lines in labels if lines != 1] == [], width
        if folded:
            toggler.click()
            page.locator("#main-nav:not(.show):not(.collapsing)").wait_for(state="attached")
    switcher = page.get_by_test_id("company-switcher")
    assert switcher.get_attribute("title") == company_a.name  # capped on the bar, whole in its title
    assert switcher.inner_text().strip() == company_a.name
    assert company_b.name not in page.content()
    context.close()
