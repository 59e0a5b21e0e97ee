"""WCAG 2.2 SC 2.5.8 Target Size (Minimum), measured in a real browser on the main pages at 320, 390 and 1280 px.

Every visible pointer target (links, buttons, checkboxes, radios, selects, summaries, inputs, the options of a
listbox) must be at least 24 x 24 CSS px, or be spaced: a 24 px circle centred on an undersized target's box must
not intersect another target's box nor another undersized target's circle. A link inside a sentence (display:
inline, with other text beside it) is exempt, as the SC says. A checkbox or radio counts together with its visible
label, which ticks it too. Popups (the emoji picker, the quick-reply menu, the shortcuts dialog, a dropdown) are
measured alone: while one is open it covers the targets under it. Players (audio, video) are the browser's own
controls, which the SC exempts.

Text must show whole too: none cut by a box that hides what overflows it (a control's text inside its padding), no
select's chosen option wider than its room, no page scrolling sideways; the inbox's headers and the pages of the
second test are read in English and in Portuguese, whose words are longer.

One browser context per test, one login per role, each page loaded once (per language) and measured at the three
widths. Company B's contact, tag, number, quick reply, import and webhook appear on none of company A's pages.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from instances.models import GatewayServer, Instance
from messaging.templatetags.messaging_tags import COMPOSER_EMOJI
from tenants.scoping import company_scope
from tests.browser.conftest import log_in  # the fixtures come from this directory's conftest
from tests.factories import PASSWORD, make_api_key, make_contact, make_instance, make_tag, make_user
from tests.messaging.test_pages import add_message, make_conversation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (320, 390, 1280)

# Returns the targets under `root` (a selector; the whole page without one) that break SC 2.5.8, each described.
UNDERSIZED = """(rootSelector) => {
  const MIN = 24, RADIUS = 12;
  const root = rootSelector ? document.querySelector(rootSelector) : document;
  const selector = 'a[href], button, [role=button], [role=link], [role=option], [role=menuitem], [role=tab], '
    + 'input:not([type=hidden]), textarea, select, summary';
  const isTarget = (element) => element.matches(selector);
  const shown = (element) => {
    if (element.closest('.visually-hidden, .visually-hidden-focusable:not(:focus-within)')) return false;
    // checkVisibility: not in a closed <details> (its content keeps a layout box in Chromium) nor hidden.
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && element.checkVisibility({ visibilityProperty: true });
  };
  const union = (a, b) => ({ left: Math.min(a.left, b.left), top: Math.min(a.top, b.top),
                             right: Math.max(a.right, b.right), bottom: Math.max(a.bottom, b.bottom) });
  // A checkbox's or radio's label ticks it too: the two are one target.
  const boxOf = (element) => {
    let box = element.getBoundingClientRect();
    box = { left: box.left, top: box.top, right: box.right, bottom: box.bottom };
    if (element.labels && /^(checkbox|radio)$/.test(element.type)) {
      for (const label of element.labels) if (shown(label)) box = union(box, label.getBoundingClientRect());
    }
    return box;
  };
  // "In a sentence": an inline element beside text of the same line that is no target itself.
  const inSentence = (element) => {
    if (getComputedStyle(element).display !== 'inline' || !element.parentElement) return false;
    for (const node of element.parentElement.childNodes) {
      if (node === element) continue;
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim()) return true;
      if (node.nodeType === Node.ELEMENT_NODE && !isTarget(node) && !node.querySelector(selector)
          && getComputedStyle(node).display === 'inline' && node.textContent.trim()) return true;
    }
    return false;
  };
  const describe = (element, box) => {
    const name = element.dataset.testid || element.getAttribute('aria-label')
      || (element.labels && element.labels[0] && element.labels[0].textContent.trim())
      || element.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40) || element.name || element.id;
    return `${element.tagName.toLowerCase()} "${name}" ${Math.round((box.right - box.left) * 10) / 10}x`
      + `${Math.round((box.bottom - box.top) * 10) / 10}`;
  };
  // What of a box shows through the boxes that clip it (a scrolled list, a thread): a target scrolled out of its
  // box lies, on screen, under the targets around that box, but cannot be hit there.
  const clipOf = (element) => {
    let clip = { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity };
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
      if (getComputedStyle(parent).overflow === 'visible') continue;
      const box = parent.getBoundingClientRect();
      clip = { left: Math.max(clip.left, box.left), top: Math.max(clip.top, box.top),
               right: Math.min(clip.right, box.right), bottom: Math.min(clip.bottom, box.bottom) };
    }
    return clip;
  };
  const inside = ([x, y], box) => x >= box.left && x <= box.right && y >= box.top && y <= box.bottom;
  const targets = [...root.querySelectorAll(selector)].filter(shown).map((element) => {
    const box = boxOf(element);
    const clip = clipOf(element);
    const seen = { left: Math.max(box.left, clip.left), top: Math.max(box.top, clip.top),
                   right: Math.min(box.right, clip.right), bottom: Math.min(box.bottom, clip.bottom) };
    return { element, box, seen, small: box.right - box.left < MIN - 0.01 || box.bottom - box.top < MIN - 0.01,
             center: [(box.left + box.right) / 2, (box.top + box.bottom) / 2] };
  }).filter((target) => target.seen.right > target.seen.left && target.seen.bottom > target.seen.top);
  const related = (a, b) => a.element.contains(b.element) || b.element.contains(a.element)
    || (a.element.labels && [...a.element.labels].some((label) => label.contains(b.element)))
    || (b.element.labels && [...b.element.labels].some((label) => label.contains(a.element)));
  const circleMeetsBox = ([x, y], box) => {
    const dx = x - Math.max(box.left, Math.min(x, box.right));
    const dy = y - Math.max(box.top, Math.min(y, box.bottom));
    return Math.hypot(dx, dy) < RADIUS - 0.01;
  };
  const circlesMeet = (a, b) => Math.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1]) < 2 * RADIUS - 0.01;
  const failures = [];
  for (const target of targets) {
    // Measured where it shows (the pages are measured scrolled to each end of their scrolling boxes).
    if (!target.small || inSentence(target.element) || !inside(target.center, target.seen)) continue;
    const crowding = targets.find((other) => other !== target && !related(target, other)
      && (circleMeetsBox(target.center, other.seen)
          || (other.small && !inSentence(other.element) && circlesMeet(target, other))));
    if (crowding) {
      failures.push(`${describe(target.element, target.box)}, too near ${describe(crowding.element, crowding.box)}`);
    }
  }
  return failures;
}"""

# Returns the text under `root` (a selector; the whole page without one) that does not show whole, each described:
# a text cut by a box that hides what overflows it (a button clips its content; so does overflow: hidden), the
# chosen option of a select wider than the room its arrow leaves, and a page that scrolls sideways (the viewport
# itself cutting everything). A box that scrolls (a wide table) hides nothing for good; an ellipsis (a long name
# in a list row, truncated on purpose and whole on its own page) is not counted.
CUT_TEXT = """(rootSelector) => {
  const roots = rootSelector ? [...document.querySelectorAll(rootSelector)] : [document.body];
  const cuts = roots.length ? [] : [`nothing matches ${rootSelector}`];
  const page = document.documentElement;
  if (!rootSelector && page.scrollWidth > page.clientWidth + 1) {
    cuts.push(`the page scrolls sideways: ${page.scrollWidth} px wide in a ${page.clientWidth} px window`);
  }
  const clips = (element, axis) => element.matches('button, select, input, textarea')
    || /^(hidden|clip)$/.test(getComputedStyle(element)[axis]);
  const clipOf = (element) => {
    let clip = { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity, by: null };
    for (let box = element; box && box !== page; box = box.parentElement) {
      const [clipsX, clipsY] = [clips(box, 'overflowX'), clips(box, 'overflowY')];
      if (!clipsX && !clipsY) continue;
      const rect = box.getBoundingClientRect();
      // Inside its borders; a control's text inside its padding too: "Filter" ran over the button's padding to
      // its very border, its "r" cut.
      const style = getComputedStyle(box), control = box.matches('button, select, input, textarea');
      const [padLeft, padRight, padTop, padBottom] = control ? ['Left', 'Right', 'Top', 'Bottom'].map(
        (side) => parseFloat(style[`padding${side}`])) : [0, 0, 0, 0];
      const left = rect.left + box.clientLeft + padLeft, top = rect.top + box.clientTop + padTop;
      const right = rect.left + box.clientLeft + box.clientWidth - padRight;
      const bottom = rect.top + box.clientTop + box.clientHeight - padBottom;
      const narrowed = { ...clip };
      if (clipsX) { narrowed.left = Math.max(clip.left, left); narrowed.right = Math.min(clip.right, right); }
      if (clipsY) { narrowed.top = Math.max(clip.top, top); narrowed.bottom = Math.min(clip.bottom, bottom); }
      if (narrowed.left > clip.left || narrowed.right < clip.right || narrowed.top > clip.top
          || narrowed.bottom < clip.bottom) narrowed.by = box;
      clip = narrowed;
    }
    return clip;
  };
  const name = (element) => element.tagName.toLowerCase()
    + (element.dataset.testid ? `[${element.dataset.testid}]` : '');
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!node.textContent.trim() || !parent.checkVisibility({ visibilityProperty: true })
          || parent.closest('select, option, script, style, template, .visually-hidden, '
                            + '.visually-hidden-focusable:not(:focus-within)')) continue;
      let ellipsis = false;
      for (let box = parent; box && box !== page; box = box.parentElement) {
        if (getComputedStyle(box).textOverflow === 'ellipsis') { ellipsis = true; break; }
      }
      if (ellipsis) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const clip = clipOf(parent);
      for (const rect of range.getClientRects()) {
        if (!rect.width) continue;
        if (rect.left < clip.left - 1 || rect.right > clip.right + 1 || rect.top < clip.top - 1
            || rect.bottom > clip.bottom + 1) {
          const text = node.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40);
          const shown = Math.min(clip.right, rect.right) - Math.max(clip.left, rect.left);
          cuts.push(`"${text}" in ${name(parent)} is cut by ${name(clip.by)}`
                    + ` (${Math.round(rect.right - rect.left)} px of text, ${Math.round(shown)} px shown)`);
          break;
        }
      }
    }
    for (const select of root.querySelectorAll('select')) {
      if (!select.checkVisibility() || !select.selectedOptions.length) continue;
      const style = getComputedStyle(select);
      const context = document.createElement('canvas').getContext('2d');
      context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const text = select.selectedOptions[0].text.trim();
      const width = context.measureText(text).width;
      const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (width > room + 1) {
        cuts.push(`select "${text}" (#${select.id || select.name}) needs ${Math.round(width)} px,`
                  + ` has ${Math.round(room)}`);
      }
    }
  }
  return cuts;
}"""

# The inbox's list header (title, links, tabs, search and filters) and an open conversation's header.
INBOX_HEADERS = ".inbox-list > :not(#conversation-list):not(#inbox-signal), .inbox-back, [data-testid=thread-header]"


def choose_language(page, base_url: str, language: str) -> None:
    """The person's own language, chosen in their profile as they would."""
    page.goto(f"{base_url}/accounts/profile/")
    page.locator("#main select[name=language]").select_option(language)
    page.locator("#main form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/accounts/profile/")
    page.locator(f"html[lang={language}]").wait_for()


# Controls an audit found about 21 px high, and the message actions: they met the SC by their spacing alone (the
# reactions not even that), and are now 24 x 24 px themselves, so a tighter layout cannot undo it. So are the small
# links alone on their line of the logged-out pages and a webhook's page (16 px high).
OWN_SIZE = {
    "inbox": "[data-testid=shortcuts-open], [data-testid=quick-replies-link]",
    "thread": "[data-testid=inbox-back], [data-testid=shortcuts-open-thread], .message-actions button, "
              "[data-testid=open-contact]",
    "tags": "[data-testid=tag-contacts]",
    "log in": "[data-testid=forgot-password]",
    "password reset": "[data-testid=back-to-login]",
    "password reset sent": "[data-testid=back-to-login]",
    "webhook": "[data-testid=endpoint-back]",
}
SMALLER_THAN_24 = """(selector) => [...document.querySelectorAll(selector)]
  .filter((element) => element.checkVisibility())
  .map((element) => [element.dataset.testid || element.getAttribute('aria-label') || element.textContent.trim(),
                     element.getBoundingClientRect()])
  .filter(([_name, box]) => box.width < 23.99 || box.height < 23.99)
  .map(([name, box]) => `"${name}" ${Math.round(box.width * 10) / 10}x${Math.round(box.height * 10) / 10}`)"""

COMPANY_B_NAMES = ("Cliente da B", "5521977776666", "Etiqueta da B", "numero-da-b", "so-da-b", "Resposta da B")


def world(company_a, owner_a, company_b):
    """Company A's conversation (messages in and out, a failed send, a note, tags, quick replies), enough contacts
    for a second page, an identifier that can be removed, an agent, an invitation, an API key and a webhook;
    company B's own contact, tag, number and quick reply."""
    from contacts import services as contact_services
    from integrations import services as integration_services
    from messaging import services
    from tenants import services as tenant_services

    instance = make_instance(company=company_a, name="loja")
    Instance.all_companies.filter(pk=instance.pk).update(state="open")
    conversation = make_conversation(company_a, instance, name="Maria")
    for number in range(4):
        add_message(company_a, conversation, direction="in" if number % 2 == 0 else "out", text=f"Mensagem {number}",
                    gateway_message_id=f"a-{number}")
    add_message(company_a, conversation, direction="out", text="falhou", status="failed", status_rank=25,
                error="This number is not on WhatsApp.")
    add_message(company_a, conversation, direction="out", kind="note", text="Ligar amanhã")
    with company_scope(company_a):
        tags = [make_tag(company=company_a, name=name) for name in ("VIP", "Atacado", "Pagamento atrasado")]
        contact_services.contact_set_tags(company=company_a, contact=conversation.contact, tags=tags[:2])
        contact_services.contact_add_identifier(company=company_a, contact=conversation.contact,
                                                identifier="123456789012345@lid")
        services.quick_reply_create(company=company_a, shortcut="pix", text="Chave: CNPJ")
        services.quick_reply_create(company=company_a, shortcut="endereco", text="Rua das Flores, 10")
    make_api_key(company=company_a, name="ERP")
    tenant_services.invitation_create(company=company_a, invited_by=owner_a, role="agent", email="nova@alpha.example")
    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/hooks/recado")
    for number in range(50):  # with Maria, 51: a second page of contacts
        make_contact(company=company_a, instance=instance, identifier=f"55119400{number:05d}", name=f"Cliente {number}")

    instance_b = make_instance(company=company_b, name="numero-da-b")
    make_conversation(company_b, instance_b, number="5521977776666", name="Cliente da B")
    with company_scope(company_b):
        make_tag(company=company_b, name="Etiqueta da B")
        services.quick_reply_create(company=company_b, shortcut="so-da-b", text="Resposta da B")
    return instance, conversation


def test_every_pointer_target_is_24_px_or_spaced_and_no_text_is_cut_on_the_main_pages(
    app_url, browser_context, company_a, owner_a, member_a, company_b, client_b, settings,
):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # no DNS here: the endpoint's URL is an address
    instance, conversation = world(company_a, owner_a, company_b)
    slug = company_a.slug
    page = browser_context.new_page()
    page.add_init_script("""document.addEventListener('htmx:afterSettle', (event) => {
        if (event.detail.target && event.detail.target.id === 'thread-messages') window.__threadFetched = true; });""")
    log_in(page, app_url, owner_a.email)
    failures: list[str] = []

    def measure(where: str, root: str | None = None) -> None:
        failures.extend(f"{where}: {failure}" for failure in page.evaluate(UNDERSIZED, root))

    pages = {
        "inbox": f"/c/{slug}/inbox/",
        "thread": f"/c/{slug}/inbox/{conversation.public_id}/",
        "contacts": f"/c/{slug}/contacts/",
        "contact": f"/c/{slug}/contacts/{conversation.contact.public_id}/",
        "instances": f"/c/{slug}/instances/",
        "instance": f"/c/{slug}/instances/{instance.public_id}/",
        "quick replies": f"/c/{slug}/inbox/quick-replies/",
        "tags": f"/c/{slug}/contacts/tags/",
        "overview": f"/c/{slug}/",
        "settings": f"/c/{slug}/settings/",
        "members": f"/c/{slug}/settings/members/",
        "api keys": f"/c/{slug}/settings/api-keys/",
        "webhooks": f"/c/{slug}/settings/webhooks/",
        "automatic replies": f"/c/{slug}/instances/{instance.public_id}/automatic-replies/",
        "profile": "/accounts/profile/",
    }
    for name, path in pages.items():
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{app_url}{path}")
        if name == "thread":
            page.wait_for_function("() => window.__threadFetched === true")
        html = page.content()  # with the options of the selects and the quick replies the composer offers
        assert not [foreign for foreign in COMPANY_B_NAMES if foreign in html], name
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            measure(f"{name} @{width}")
            failures.extend(f"{name} @{width}: {cut}" for cut in page.evaluate(CUT_TEXT, None))
            if name in OWN_SIZE:
                failures.extend(f"{name} @{width}: {found} is under 24 px"
                                for found in page.evaluate(SMALLER_THAN_24, OWN_SIZE[name]))
            if name in ("inbox", "thread"):  # the older messages and conversations, scrolled out of view
                page.evaluate("() => document.querySelectorAll('.thread-messages, .conversation-list')"
                              ".forEach((box) => { box.scrollTop = 0; })")
                measure(f"{name} @{width}, scrolled to the top")
                page.evaluate("() => document.querySelectorAll('.thread-messages, .conversation-list')"
                              ".forEach((box) => { box.scrollTop = box.scrollHeight; })")
            if name == "thread":
                popups(page, width, measure)
            if name == "profile" and width < 1200:  # the navigation folded behind its button
                page.get_by_role("button", name="Menu").click()
                page.locator("#main-nav.show").wait_for()
                measure(f"{name} @{width}, menu open")
                page.get_by_role("button", name="Menu").click()
                page.locator("#main-nav:not(.show):not(.collapsing)").wait_for(state="attached")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("company-switcher").click()
    page.locator(".dropdown-menu.show").wait_for()
    measure("profile @1280, company menu", ".dropdown-menu.show")

    assert failures == [], "\n".join(failures)
    assert client_b.get(f"/c/{slug}/inbox/{conversation.public_id}/").status_code == 404
    assert client_b.get(f"/c/{slug}/contacts/{conversation.contact.public_id}/").status_code == 404


def popups(page, width: int, measure) -> None:
    """The thread's emoji picker, quick-reply menu and shortcuts dialog, each measured alone while it is open."""
    page.get_by_test_id("emoji-toggle").click()
    page.get_by_test_id("emoji-grid").wait_for()
    assert page.locator("[data-testid=emoji-grid] button").count() == len(COMPOSER_EMOJI)
    measure(f"thread @{width}, emoji picker", "[data-testid=emoji-grid]")
    page.get_by_test_id("emoji-toggle").click()
    page.get_by_test_id("emoji-grid").wait_for(state="hidden")

    page.get_by_test_id("composer-text").fill("")
    page.get_by_test_id("composer-text").type("/")
    page.get_by_test_id("quick-reply-menu").wait_for()
    assert page.locator("[data-testid=quick-reply-menu] [role=option]").count() == 2  # company A's two, not B's
    measure(f"thread @{width}, quick replies", "[data-testid=quick-reply-menu]")
    page.keyboard.press("Escape")
    page.get_by_test_id("composer-text").fill("")
    page.get_by_test_id("quick-reply-menu").wait_for(state="hidden")

    opener = "shortcuts-open" if width >= 992 else "shortcuts-open-thread"
    page.get_by_test_id(opener).click()
    dialog = page.get_by_test_id("shortcuts-dialog")
    dialog.wait_for()
    measure(f"thread @{width}, shortcuts", "[data-testid=shortcuts-dialog]")
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden")


def test_the_measure_applies_the_spacing_and_inline_exceptions(browser):
    """The measuring script itself, on a page of known boxes: 20 px buttons whose centres are 24 px apart pass (the
    circles touch, they do not intersect), 20 px apart fail; a 20 px button 1 px from a big one fails; a small link
    in a sentence is exempt beside a big button, a link alone in its paragraph is not; a checkbox counts with its
    label (24 px high together), two bare ones side by side fail."""
    context = browser.new_context(viewport={"width": 600, "height": 400})
    page = context.new_page()
    page.set_content("""<style>body { margin: 0; font: 16px/1.5 sans-serif; }
        button { position: absolute; width: 20px; height: 20px; padding: 0; border: 0; }
        button.big { width: 60px; height: 60px; } p, label, div { position: absolute; margin: 0; }
        p { font-size: 10px; }</style>
      <button style="left: 10px; top: 10px" aria-label="apart-1"></button>
      <button style="left: 34px; top: 10px" aria-label="apart-2"></button>
      <button style="left: 10px; top: 60px" aria-label="close-1"></button>
      <button style="left: 30px; top: 60px" aria-label="close-2"></button>
      <button style="left: 10px; top: 110px" aria-label="by-big"></button>
      <button class="big" style="left: 31px; top: 110px" aria-label="big-1"></button>
      <p style="left: 200px; top: 10px">Read <a href="#" aria-label="in-sentence">this</a> first.</p>
      <button class="big" style="left: 200px; top: 27px" aria-label="big-2"></button>
      <p style="left: 300px; top: 10px"><a href="#" aria-label="alone">alone</a></p>
      <button class="big" style="left: 300px; top: 27px" aria-label="big-3"></button>
      <label style="left: 200px; top: 150px"><input type="checkbox" aria-label="labelled"> A label</label>
      <div style="left: 200px; top: 250px"><input type="checkbox" aria-label="bare-1"><input type="checkbox"
        aria-label="bare-2"></div>""")
    found = page.evaluate(UNDERSIZED, None)
    assert {failure.split('"')[1] for failure in found} == {"close-1", "close-2", "by-big", "alone", "bare-1",
                                                             "bare-2"}, found
    context.close()


def test_no_text_is_cut_in_the_inbox_headers_in_english_and_portuguese(
    app_url, browser_context, company_a, owner_a, company_b, client_b,
):
    """At 320 px the "Filter" button showed "Filte", and the number and tag filters cut "All numbers" ("Todos os nu"
    in Portuguese): every word of the list's header and the thread's header shows whole at every width."""
    instance = make_instance(company=company_a, name="loja")
    conversation = make_conversation(company_a, instance, name="Maria")
    make_tag(company=company_a, name="VIP")
    make_conversation(company_b, make_instance(company=company_b, name="numero-da-b"), number="5521977776666",
                      name="Cliente da B")
    page = browser_context.new_page()
    log_in(page, app_url, owner_a.email)
    cuts: list[str] = []
    for language in ("en", "pt-br"):
        if language == "pt-br":
            choose_language(page, app_url, language)
        for name, path in (("inbox", f"/c/{company_a.slug}/inbox/"),
                           ("thread", f"/c/{company_a.slug}/inbox/{conversation.public_id}/")):
            page.set_viewport_size({"width": 1280, "height": 800})
            page.goto(f"{app_url}{path}")
            assert "Cliente da B" not in page.content() and "numero-da-b" not in page.content()
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                cuts.extend(f"{name} {language} @{width}: {cut}" for cut in page.evaluate(CUT_TEXT, INBOX_HEADERS))
    assert cuts == [], "\n".join(cuts)
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


def other_pages_world(company_a, owner_a, company_b):
    """Company A's contacts (a second page of them, a duplicate with a conversation), imports waiting for their
    mapping, running, done with rejected rows and failed, and a webhook endpoint whose log holds a failed delivery
    with its response; a checked gateway server; company B's own contact, import and endpoint."""
    from contacts.imports import contact_import_create
    from contacts.models import ContactImport
    from integrations import services as integration_services
    from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent

    instance = make_instance(company=company_a, name="loja")
    GatewayServer.objects.filter(pk=instance.server_id).update(
        last_check_at=timezone.now(), last_check_ok=False, last_check_message="Connection refused.")
    kept = make_contact(company=company_a, instance=instance, identifier="5511987654321", custom_name="Ana Paula")
    duplicate = make_contact(company=company_a, instance=instance, identifier="99887766554433@lid", name="Ana Zap")
    conversation = make_conversation(company_a, instance, number="99887766554433@lid", name="Ana Zap")
    add_message(company_a, conversation, direction="in", text="Oi", gateway_message_id="dup-1")
    for number in range(50):  # with Ana and her duplicate, 52: more than a page, so "Select all 52" is offered
        make_contact(company=company_a, instance=instance, identifier=f"55119400{number:05d}", name=f"Cliente {number}")
    csv = ("telefone,nome completo,etiquetas,observações do atendimento\n"
           "5511955554444,Dora Maria da Silva Santos,VIP;Atacado,Prefere ser chamada à tarde\nnot-a-number,Bad,,\n")
    imports = {}
    with company_scope(company_a):
        for status in ("preview", "running", "done", "failed"):
            imports[status] = contact_import_create(company=company_a, instance=instance, filename=f"{status}.csv",
                                                    raw=csv.encode(), created_by=owner_a)
        ContactImport.objects.filter(pk=imports["running"].pk).update(status="running", total_rows=2,
                                                                       processed_rows=1, created_count=1)
        ContactImport.objects.filter(pk=imports["done"].pk).update(
            status="done", total_rows=2, processed_rows=2, created_count=1, rejected_count=1,
            finished_at=timezone.now(),
            rejected=[{"line": 3, "values": ["not-a-number", "Bad", "", ""], "reason": "Not a phone number."}])
        ContactImport.objects.filter(pk=imports["failed"].pk).update(
            status="failed", error="The file could not be read.", finished_at=timezone.now())
        endpoint = integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/hooks/recado").endpoint
        event = WebhookEvent.objects.create(company=company_a, event_id="evt_" + "1" * 32, type="message.received",
                                            payload={})
        delivery = WebhookDelivery.objects.create(company=company_a, endpoint=endpoint, event=event, status="failed",
                                                  attempts=1, last_status_code=500)
        WebhookAttempt.objects.create(company=company_a, delivery=delivery, number=1, status_code=500, duration_ms=41,
                                      response_excerpt="Internal Server Error", error="The receiver answered 500.")

    instance_b = make_instance(company=company_b, name="numero-da-b")
    make_contact(company=company_b, instance=instance_b, identifier="5521977776666", name="Cliente da B")
    with company_scope(company_b):
        contact_import_create(company=company_b, instance=instance_b, filename="so-da-b.csv",
                              raw=b"phone\n5521977776666\n")
        integration_services.endpoint_create(company=company_b, url="http://127.0.0.1:9/hooks/da-b")
    return {"kept": kept, "duplicate": duplicate, "imports": imports, "endpoint": endpoint}


def test_every_pointer_target_is_24_px_or_spaced_and_no_text_is_cut_on_the_other_pages(
    app_url, browser_context, company_a, owner_a, company_b, client_b, settings,
):
    """The pages the first test leaves out: logged out (log in, password reset), the operator's (companies, gateway
    servers), CSV import (upload, mapping, progress, result, failure), merging and deleting a contact, a webhook's
    log and the contacts' "Select all N matching". Each at 1280, 390 and 320 px, in English and then in Portuguese
    (chosen in the profile; logged out, by the language cookie), for target size and for text cut."""
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # no DNS here: the endpoints' URLs are addresses
    found = other_pages_world(company_a, owner_a, company_b)
    operator = make_user(email="root@recado.test", is_staff=True)
    slug, imports = company_a.slug, found["imports"]
    page = browser_context.new_page()
    failures: list[str] = []

    def measure(where: str) -> None:
        failures.extend(f"{where}: {failure}" for failure in page.evaluate(UNDERSIZED, None))
        failures.extend(f"{where}: {failure}" for failure in page.evaluate(CUT_TEXT, None))

    def visit(pages: dict[str, str], language: str, after_load=None) -> None:
        for name, path in pages.items():
            page.set_viewport_size({"width": 1280, "height": 800})
            page.goto(f"{app_url}{path}")
            assert page.locator("html").get_attribute("lang") == language, name
            html = page.content()
            assert not [foreign for foreign in ("Cliente da B", "so-da-b", "hooks/da-b") if foreign in html], name
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                measure(f"{name} {language} @{width}")
                if name in OWN_SIZE:
                    assert page.locator(OWN_SIZE[name]).count(), name
                    failures.extend(f"{name} {language} @{width}: {small} is under 24 px"
                                    for small in page.evaluate(SMALLER_THAN_24, OWN_SIZE[name]))
            if after_load:
                after_load(name, language)

    reset_link = (f"/accounts/reset/{urlsafe_base64_encode(force_bytes(owner_a.pk))}/"
                  f"{default_token_generator.make_token(owner_a)}/")
    logged_out = {"log in": "/accounts/login/", "password reset": "/accounts/password_reset/",
                  "password reset sent": "/accounts/password_reset/done/", "new password": reset_link,
                  "reset link used": "/accounts/reset/MQ/used-link/", "password set": "/accounts/reset/done/"}
    visit(logged_out, "en")
    browser_context.add_cookies([{"name": django_settings.LANGUAGE_COOKIE_NAME, "value": "pt-br", "url": app_url}])
    visit(logged_out, "pt-br")
    browser_context.clear_cookies()

    def select_matching(name: str, language: str) -> None:
        if name != "contacts":
            return
        page.locator("[data-select-all]").check()
        page.get_by_test_id("select-matching").wait_for()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            measure(f"contacts {language} @{width}, every row ticked")
        page.get_by_test_id("select-all-matching").click()
        page.get_by_test_id("clear-selection").wait_for()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            measure(f"contacts {language} @{width}, every match selected")

    owner_pages = {
        "contacts": f"/c/{slug}/contacts/",
        "import": f"/c/{slug}/contacts/import/",
        **{f"import {status}": f"/c/{slug}/contacts/import/{imports[status].public_id}/" for status in imports},
        "merge": f"/c/{slug}/contacts/{found['kept'].public_id}/merge/",
        "merge confirm": f"/c/{slug}/contacts/{found['kept'].public_id}/merge/?merge={found['duplicate'].public_id}",
        "delete": f"/c/{slug}/contacts/{found['duplicate'].public_id}/delete/",
        "webhook": f"/c/{slug}/settings/webhooks/{found['endpoint'].public_id}/",
    }
    log_in(page, app_url, owner_a.email)
    visit(owner_pages, "en", select_matching)
    choose_language(page, app_url, "pt-br")
    visit(owner_pages, "pt-br", select_matching)
    browser_context.clear_cookies()

    server = GatewayServer.objects.order_by("pk").first()  # company A's number's
    operator_pages = {
        "companies": "/operator/", "new company": "/operator/companies/new/",
        "company": f"/operator/companies/{company_a.public_id}/",
        "first owner": f"/operator/companies/{company_a.public_id}/owner/",
        "servers": "/operator/servers/", "new server": "/operator/servers/new/",
        "server": f"/operator/servers/{server.public_id}/",
    }
    page.goto(f"{app_url}/accounts/login/")
    page.fill("input[name=username]", operator.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{app_url}/operator/")
    visit(operator_pages, "en")
    choose_language(page, app_url, "pt-br")
    visit(operator_pages, "pt-br")

    assert failures == [], "\n".join(failures)
    for path in ("merge", "merge confirm", "delete", "webhook", "import done"):
        assert client_b.get(owner_pages[path]).status_code == 404, path


def test_the_cut_text_measure_on_known_boxes(browser):
    """The cut-text script itself: a word running into a button's padding, a select narrower than its chosen option and
    a line cut by overflow: hidden are found; a word that fits, an ellipsis on purpose, a wide table in a box that
    scrolls and a text inside a sentence's link are not; a page wider than the window is."""
    context = browser.new_context(viewport={"width": 400, "height": 400})
    page = context.new_page()
    page.set_content("""<style>body { margin: 0; font: 16px/1.5 sans-serif; } button { padding: 0 8px; }
        .narrow { width: 40px; } .hidden { width: 60px; overflow: hidden; white-space: nowrap; }
        .ellipsis { width: 60px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
        .scrolls { width: 100px; overflow-x: auto; } .scrolls table { width: 600px; }</style>
      <button class="narrow">Filter</button> <button>Fits</button>
      <select class="narrow"><option>All numbers</option></select> <select><option>Wide enough</option></select>
      <div class="hidden">Cut by its box</div> <div class="ellipsis">Cut on purpose</div>
      <div class="scrolls"><table><tr><td>A wide table that scrolls sideways</td></tr></table></div>
      <p>Read <a href="#">the link</a> first.</p>""")
    found = page.evaluate(CUT_TEXT, None)
    assert [cut.split('"')[1] for cut in found] == ["Filter", "Cut by its box", "All numbers"], found
    page.set_viewport_size({"width": 300, "height": 400})
    page.evaluate("() => document.body.insertAdjacentHTML('beforeend', '<div style=\"width: 500px\">wide</div>')")
    assert page.evaluate(CUT_TEXT, None)[0].startswith("the page scrolls sideways: 500 px wide in a 300 px window")
    assert page.evaluate(CUT_TEXT, "nav") == ["nothing matches nav"]
    context.close()
