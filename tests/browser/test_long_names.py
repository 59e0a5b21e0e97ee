"""A long unbroken instance label or contact name (80 characters without a space, as people type them) wraps in
the headings and list rows that show it instead of pushing the page sideways on a phone."""

from __future__ import annotations

import pytest

from instances.models import Instance
from tests.browser.conftest import log_in  # the fixtures come from this directory's conftest
from tests.browser.test_target_size import CUT_TEXT
from tests.factories import make_instance
from tests.messaging.test_pages import make_conversation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LABEL = "LojaCentralDeAtendimentoAoClienteDaMerceariaSaoJoaoUnidadeVilaMarianaSaoPaulo-SP"[:80]
NAME = "MariaDasGracasFigueiredoDeAlbuquerqueCavalcantiPessoaDeMeloSaoPauloBrasil-Cliente"[:80]

# Each piece of text holding one of the long names that runs on one line wider than the window (inside a box that
# scrolls sideways, such as a table, as much as on the page). An ellipsis on purpose (a list row's name, whole on
# its own page) is not counted, as in CUT_TEXT.
UNWRAPPED = """(names) => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!names.some((name) => node.textContent.includes(name)) || !parent.checkVisibility()) continue;
    let ellipsis = false;
    for (let box = parent; box; box = box.parentElement) {
      if (getComputedStyle(box).textOverflow === 'ellipsis') { ellipsis = true; break; }
    }
    if (ellipsis) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const widest = Math.max(...[...range.getClientRects()].map((rect) => rect.width));
    if (widest > window.innerWidth) {
      const name = `${parent.tagName.toLowerCase()}.${[...parent.classList].join('.')}`;
      found.push(`${name}: a line ${Math.round(widest)} px wide`);
    }
  }
  return found;
}"""


def test_long_unbroken_names_wrap_at_320_px(app_url, browser_context, company_a, owner_a, company_b,
                                           client_b):
    instance = make_instance(company=company_a, name="loja")
    Instance.all_companies.filter(pk=instance.pk).update(label=LABEL)
    conversation = make_conversation(company_a, instance, name=NAME)
    make_conversation(company_b, make_instance(company=company_b, name="numero-da-b"), number="5521977776666",
                      name="Cliente da B")
    base = f"/c/{company_a.slug}"
    pages = {"instances": f"{base}/instances/", "instance": f"{base}/instances/{instance.public_id}/",
             "contacts": f"{base}/contacts/", "contact": f"{base}/contacts/{conversation.contact.public_id}/",
             "inbox": f"{base}/inbox/", "thread": f"{base}/inbox/{conversation.public_id}/"}
    page = browser_context.new_page()
    page.set_viewport_size({"width": 320, "height": 700})
    log_in(page, app_url, owner_a.email)
    failures: list[str] = []
    for name, path in pages.items():
        page.goto(f"{app_url}{path}")
        assert "Cliente da B" not in page.content()
        failures.extend(f"{name}: {cut}" for cut in page.evaluate(CUT_TEXT, None))
        failures.extend(f"{name}: {past}" for past in page.evaluate(UNWRAPPED, [LABEL, NAME]))
    assert failures == [], "\n".join(failures)
    for path in pages.values():
        assert client_b.get(path).status_code == 404
