"""The thread by keyboard and by eye, in a real browser: the messages are one Tab stop walked with the arrows, a
message's actions are reached from it and left with Escape, Alt+Shift+C goes to the message box, "?" lists the
shortcuts ("/" and "?" can be turned off in the profile; on a phone the thread has a button for the list), the
actions under the bubbles can be read (WCAG AA contrast) without being loud, and on a phone or at 200 % zoom the
composer's controls stay on the screen.

uvicorn (HTTP and WebSocket) on the test database and chromium; no gateway is needed (nothing is sent)."""

from __future__ import annotations

import pytest

from instances.models import Instance
from messaging import events
from tenants.scoping import company_scope
from tests.browser.conftest import (  # noqa: F401 (fixtures)
    _orm_beside_playwright,
    app_url,
    browser,
    browser_context,
    log_in,
)
from tests.factories import make_instance
from tests.messaging.test_pages import add_message, make_conversation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => { const element = document.activeElement;
    return element.dataset.message || element.dataset.testid || element.getAttribute('aria-label') || element.id
        || element.textContent.trim(); }"""


def connected_instance(company):
    """An instance row of `company` in the `open` state (else the thread shows a notice, with a link, above the
    messages), on no gateway: nothing is sent here."""
    instance = make_instance(company=company)
    Instance.all_companies.filter(pk=instance.pk).update(state="open")
    instance.state = "open"
    return instance


def thread_with_messages(company, count: int = 4):
    """A conversation of `company` with `count` messages, alternately from the customer and ours, all known to
    WhatsApp (so each offers Reply, four reactions and, ours, Delete): (conversation, [messages, oldest first])."""
    conversation = make_conversation(company, connected_instance(company))
    shown = []
    for number in range(count):
        direction = "in" if number % 2 == 0 else "out"
        shown.append(add_message(company, conversation, direction=direction, text=f"Mensagem {number}",
                                 gateway_message_id=f"{company.slug}-{number}"))
    return conversation, shown


def opened(context, url: str, user, conversation):
    """The thread's page, once its socket listens to the conversation and the thread has re-fetched itself (which
    the page does once subscribed: its answer, read before a change made meanwhile, could undo that change)."""
    page = context.new_page()
    page.add_init_script("""document.addEventListener('htmx:afterSettle', (event) => {
        if (event.detail.target && event.detail.target.id === 'thread-messages') window.__threadFetched = true; });""")
    log_in(page, url, user.email)
    page.goto(f"{url}/c/{conversation.company.slug}/inbox/{conversation.public_id}/")
    page.wait_for_function("() => window.__threadFetched === true")
    return page


def stops_from_header_to_composer(page) -> list[str]:
    """What Tab crosses from the header's last button to the message box."""
    page.get_by_test_id("close").focus()
    crossed = []
    for _step in range(60):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        if now == "composer-text":
            return crossed
        crossed.append(now)
    raise AssertionError(f"Tab never reached the message box: {crossed}")


def test_the_messages_are_one_tab_stop_walked_with_the_arrows_and_their_actions_reached_with_enter(
    app_url, browser_context, company_a, owner_a, company_b, client_b,  # noqa: F811
):
    conversation, shown = thread_with_messages(company_a)
    theirs, _their_messages = thread_with_messages(company_b, count=1)
    ids = [str(message.public_id) for message in shown]
    page = opened(browser_context, app_url, owner_a, conversation)

    # Before: Tab crossed Reply, four reactions (and Delete) on every bubble. Now the newest message, once.
    assert stops_from_header_to_composer(page) == [ids[-1]]
    assert page.locator("#thread-messages-list").get_attribute("role") == "log"  # still announced as it grows

    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED) == ids[-1]
    page.keyboard.press("ArrowUp")
    assert page.evaluate(FOCUSED) == ids[-2]
    page.keyboard.press("Home")
    assert page.evaluate(FOCUSED) == ids[0]
    page.keyboard.press("ArrowUp")  # the first stays
    assert page.evaluate(FOCUSED) == ids[0]
    page.keyboard.press("End")
    page.keyboard.press("ArrowUp")
    assert page.evaluate(FOCUSED) == ids[-2]
    # The message moved to is the one Tab comes back to; the others stay out of the way.
    assert stops_from_header_to_composer(page) == [ids[-2]]

    # Enter goes into the message's actions, Tab walks them, Escape comes back to the message.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED) == "Reply"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "React with 👍"
    page.keyboard.press("Escape")
    assert page.evaluate(FOCUSED) == ids[-2]
    page.keyboard.press("Tab")  # the actions are out of the Tab order again
    assert page.evaluate(FOCUSED) == "composer-text"

    # Reply from the keyboard: the message box, quoting that message.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED) == "composer-text"
    assert page.locator("[data-reply-input]").input_value() == ids[-2]
    page.keyboard.press("Escape")  # the reply dropped (its "Cancel reply" button is a Tab stop while it shows)

    # A message pushed live joins the thread without adding Tab stops; the message moved to keeps its place.
    with company_scope(company_a):
        pushed = add_message(company_a, conversation, text="Chegou agora", gateway_message_id="a-pushed")
        events.message_changed(company=company_a, message=pushed, created=True)
    page.locator("[data-testid=message]", has_text="Chegou agora").wait_for()
    assert stops_from_header_to_composer(page) == [ids[-2]]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("End")
    assert page.evaluate(FOCUSED) == str(pushed.public_id)
    # The focused message redrawn by a push (its ticks, a reaction) keeps the focus itself, not its first control.
    page.keyboard.press("ArrowUp")
    from messaging.models import Message

    Message.all_companies.filter(pk=shown[-1].pk).update(status="read", status_rank=50)
    with company_scope(company_a):
        events.message_changed(company=company_a, message=Message.objects.get(pk=shown[-1].pk))
    page.locator(f"[data-message='{ids[-1]}'] [data-testid=ticks][data-status=read]").wait_for()
    assert page.evaluate(FOCUSED) == ids[-1]
    page.keyboard.press("ArrowDown")
    assert page.evaluate(FOCUSED) == str(pushed.public_id)
    assert page.locator("[data-testid=message]", has_text="Mensagem 0").count() == 1
    assert page.locator("[data-testid=message]", has_text=theirs.contact.display_name).count() == 0
    # Company B's owner cannot open A's thread.
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


def test_players_and_links_in_the_messages_are_no_extra_tab_stops(
    app_url, browser_context, company_a, owner_a, client_b,  # noqa: F811
):
    """A video's and an audio's players, a document's link and a link in a text are reached from their message
    (Enter), not on the way from the header to the composer."""
    conversation = make_conversation(company_a, connected_instance(company_a))
    for kind, address in (("video", "v.mp4"), ("audio", "a.ogg"), ("document", "d.pdf")):
        add_message(company_a, conversation, kind=kind, media_url=f"http://127.0.0.1:9/{address}",
                    gateway_message_id=address)
    last = add_message(company_a, conversation, text="Veja https://exemplo.com.br/x", gateway_message_id="text")
    page = opened(browser_context, app_url, owner_a, conversation)
    assert stops_from_header_to_composer(page) == [str(last.public_id)]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")  # the audio message: its player first
    assert page.evaluate("document.activeElement.tagName") == "AUDIO"
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


def test_a_note_deleted_from_the_keyboard_leaves_the_focus_on_it(
    app_url, browser_context, company_a, owner_a, client_b,  # noqa: F811
):
    """Its Delete button goes with it (a deleted note has no actions): the focus went to the page's body, and the
    next arrow scrolled the page. It stays on the message, and the arrows go on from there."""
    from messaging.models import Message

    conversation, shown = thread_with_messages(company_a, count=1)
    with company_scope(company_a):
        note = add_message(company_a, conversation, direction="out", kind="note", text="Ligar amanhã")
    page = opened(browser_context, app_url, owner_a, conversation)
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete this note?"
    page.locator(f"[data-message='{note.public_id}']").focus()
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED) == "delete"
    page.keyboard.press("Enter")
    page.locator(f"[data-message='{note.public_id}'] [data-testid=deleted]").wait_for()
    page.wait_for_timeout(300)  # the push that follows the answer redraws it again
    assert page.evaluate(FOCUSED) == str(note.public_id)
    page.keyboard.press("ArrowUp")
    assert page.evaluate(FOCUSED) == str(shown[0].public_id)
    assert Message.all_companies.get(pk=note.pk).is_deleted
    assert client_b.post(f"/c/{company_a.slug}/inbox/messages/{shown[0].public_id}/delete/").status_code == 404


def test_alt_shift_c_goes_to_the_message_box_and_question_mark_lists_the_shortcuts(
    app_url, browser_context, company_a, owner_a, client_b,  # noqa: F811
):
    conversation, _shown = thread_with_messages(company_a, count=2)
    page = opened(browser_context, app_url, owner_a, conversation)
    dialog = page.get_by_test_id("shortcuts-dialog")

    page.get_by_test_id("assign-me").focus()
    page.keyboard.press("Alt+Shift+C")
    assert page.evaluate(FOCUSED) == "composer-text"

    page.keyboard.type("?")  # in the message box a "?" is only a character
    assert page.get_by_test_id("composer-text").input_value() == "?"
    assert not dialog.is_visible()
    page.get_by_test_id("assign-me").focus()
    page.keyboard.press("?")
    dialog.wait_for()
    assert "Alt+Shift+C" in dialog.inner_text().replace(" ", "") and "Esc" in dialog.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate(FOCUSED) == "assign-me"  # back where it was

    page.get_by_test_id("shortcuts-open").click()  # the same list from a button, for those who do not know "?"
    dialog.wait_for()
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden")
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


def test_single_key_shortcuts_turned_off_in_the_profile_do_nothing_and_alt_shift_c_still_works(
    app_url, browser_context, company_a, owner_a, client_b,  # noqa: F811
):
    """WCAG 2.1.4: "/" and "?" alone can be turned off. Off, they do nothing (the search is not focused, the list does
    not open) while Alt+Shift+C still reaches the message box; the list, opened by its button, marks them off and
    links to the profile, where ticking the box turns them back on, and then they work."""
    from tenants.models import User

    User.objects.filter(pk=owner_a.pk).update(single_key_shortcuts=False)
    conversation, _shown = thread_with_messages(company_a, count=2)
    page = opened(browser_context, app_url, owner_a, conversation)
    dialog = page.get_by_test_id("shortcuts-dialog")
    search = page.locator("#inbox-q")

    page.get_by_test_id("assign-me").focus()
    page.keyboard.press("/")
    assert page.evaluate(FOCUSED) == "assign-me" and search.input_value() == ""
    page.keyboard.press("?")
    assert not dialog.is_visible() and page.evaluate(FOCUSED) == "assign-me"
    page.keyboard.press("Alt+Shift+C")
    assert page.evaluate(FOCUSED) == "composer-text"

    page.get_by_test_id("shortcuts-open").click()
    dialog.wait_for()
    assert dialog.get_by_test_id("shortcut-off").count() == 2
    assert all(entry["ratio"] >= 4.5 for entry in page.evaluate(CONTRASTS, "[data-testid=shortcut-off]"))
    assert "are off" in dialog.get_by_test_id("single-key-note").inner_text()
    dialog.get_by_role("link", name="your profile").click()
    page.wait_for_url("**/accounts/profile/#id_single_key_shortcuts")
    box = page.get_by_label("Single-key shortcuts")
    assert not box.is_checked()
    assert "speech input" in page.locator("#" + box.get_attribute("aria-describedby")).inner_text()
    box.check()
    page.click("main form button[type=submit]")
    page.get_by_text("Profile saved.").wait_for()
    assert User.objects.get(pk=owner_a.pk).single_key_shortcuts is True

    page.goto(f"{app_url}/c/{company_a.slug}/inbox/{conversation.public_id}/")
    page.get_by_test_id("assign-me").focus()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "inbox-q"
    page.get_by_test_id("assign-me").focus()
    page.keyboard.press("?")
    dialog.wait_for()
    assert dialog.get_by_test_id("shortcut-off").count() == 0
    assert "can be turned off" in dialog.get_by_test_id("single-key-note").inner_text()
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


@pytest.mark.parametrize("width", [320, 390])
def test_on_a_phone_a_thread_has_its_own_shortcuts_button_and_the_profile_fits(
    app_url, browser_context, company_a, owner_a, client_b, width,  # noqa: F811
):
    """Below 992 px an open thread hides the conversation list, and with it the "Keyboard shortcuts" button: a phone
    (no "?" key at hand) had no way to the list. The thread shows one beside "All conversations"; nothing scrolls
    sideways, here or on the profile page that turns the single-key shortcuts off."""
    conversation, _shown = thread_with_messages(company_a, count=2)
    page = opened(browser_context, app_url, owner_a, conversation)
    page.set_viewport_size({"width": width, "height": 844})
    assert page.get_by_test_id("shortcuts-open").is_hidden()  # in the hidden list
    button = page.get_by_test_id("shortcuts-open-thread")
    box = button.bounding_box()
    assert button.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] >= 24
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    button.click()
    dialog = page.get_by_test_id("shortcuts-dialog")
    dialog.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden")

    page.set_viewport_size({"width": 1280, "height": 800})  # two columns: the list's own button, not the thread's
    assert page.get_by_test_id("shortcuts-open").is_visible() and button.is_hidden()

    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{app_url}/accounts/profile/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    checkbox = page.get_by_label("Single-key shortcuts")
    first_line = page.locator("label[for=id_single_key_shortcuts]").evaluate(
        "label => label.getClientRects()[0].top")
    assert abs(checkbox.bounding_box()["y"] - first_line) < 12
    for entry in page.evaluate(CONTRASTS, "main label, main .form-text"):
        assert entry["ratio"] >= 4.5, entry
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


# Contrast of what the user sees: the control's colour, faded by every translucent ancestor, against the first
# opaque background behind it (WCAG 2.x relative luminance).
CONTRASTS = """(selector) => {
  const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number).concat([1]).slice(0, 4);
  const luminance = ([r, g, b]) => [r, g, b].map((v) => { v /= 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (element) => {
    for (let at = element; at; at = at.parentElement) {
      const colour = rgba(getComputedStyle(at).backgroundColor);
      if (colour[3] > 0) return colour;
    }
    return [255, 255, 255, 1];
  };
  return Array.from(document.querySelectorAll(selector)).map((control) => {
    let opacity = 1;
    for (let at = control; at; at = at.parentElement) opacity *= Number(getComputedStyle(at).opacity);
    const behind = background(control);
    const [r, g, b, a] = rgba(getComputedStyle(control).color);
    const alpha = a * opacity;
    const seen = [r, g, b].map((v, i) => v * alpha + behind[i] * (1 - alpha));
    const [light, dark] = [luminance(seen), luminance(behind)].sort((x, y) => y - x);
    return { label: control.getAttribute('aria-label') || control.textContent.trim(), opacity: opacity,
             ratio: (light + 0.05) / (dark + 0.05) };
  });
}"""


def test_the_actions_under_the_messages_meet_wcag_contrast_at_rest_and_when_pointed_at(
    app_url, browser_context, company_a, owner_a, client_b,  # noqa: F811
):
    """At opacity .35 "Reply" and "Delete" had about 1.5:1 against the page. At rest they are now grey (and the
    reactions grey too, not faded), pointed at or focused they take their colours: 4.5:1 or more either way. Inside
    the green and amber bubbles Bootstrap's blue and red had about 4:1: links, a failed send's reason and its
    "Retry" are darker there."""
    conversation, shown = thread_with_messages(company_a, count=2)
    with company_scope(company_a):
        add_message(company_a, conversation, direction="out", kind="note", text="Nota https://exemplo.com.br/nota")
    add_message(company_a, conversation, direction="out", text="Veja https://exemplo.com.br/pedido",
                gateway_message_id="a-link", status="read")
    add_message(company_a, conversation, text="De novo https://exemplo.com.br/cliente", gateway_message_id="a-in")
    add_message(company_a, conversation, direction="out", text="falhou", status="failed", status_rank=25,
                error="This number is not on WhatsApp.")
    page = opened(browser_context, app_url, owner_a, conversation)
    page.mouse.move(0, 0)

    def measured():
        found = page.evaluate(CONTRASTS, ".message-actions button")
        assert {entry["label"] for entry in found} >= {"Reply", "Delete", "React with 👍"}, found
        for entry in found:
            assert entry["opacity"] == 1, entry  # nothing faded: a faded emoji is as hard to make out as text
            if not entry["label"].startswith("React"):
                assert entry["ratio"] >= 4.5, entry
        return found

    at_rest = measured()
    message = page.locator(f"[data-message='{shown[-1].public_id}']")
    message.hover()
    page.wait_for_timeout(400)  # Bootstrap's buttons fade their colour in over .15 s
    pointed = measured()
    assert at_rest != pointed  # pointed at, the message's actions change (colour), others stay as they were
    emoji = message.locator(".message-action-emoji").first
    assert emoji.evaluate("button => getComputedStyle(button).filter") == "none"
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)
    assert emoji.evaluate("button => getComputedStyle(button).filter") != "none"  # grey at rest, not faded

    # Inside the bubbles (white, green, amber): a link in the text, a failed send's reason and its "Retry".
    inside = page.evaluate(CONTRASTS, ".message-bubble a[href], .message-bubble button, .message-error")
    assert {entry["label"].split(" ")[0] for entry in inside} >= {"https://exemplo.com.br/pedido", "Retry"}, inside
    assert all(entry["ratio"] >= 4.5 for entry in inside), inside
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


@pytest.mark.parametrize("viewport", [(390, 844), (640, 400)], ids=["phone", "zoom-200"])
def test_on_a_phone_or_at_200_percent_zoom_replying_to_a_long_link_with_a_file_keeps_every_control_on_screen(
    app_url, browser_context, company_a, owner_a, client_b, tmp_path, viewport,  # noqa: F811
):
    """A quoted link longer than the line pushed "Cancel reply" off the screen (the page scrolled sideways), and on
    a phone the file box kept about 118 px, too few to show which file was chosen. 640 x 400 is a 1280 x 800 window
    at 200 % zoom."""
    conversation = make_conversation(company_a, make_instance(company=company_a))
    link = "https://exemplo.com.br/" + "/".join(["umcaminhomuitolongosemespacos"] * 3)
    quoted = add_message(company_a, conversation, text=link, gateway_message_id="long-link")
    width, height = viewport
    page = opened(browser_context, app_url, owner_a, conversation)
    page.set_viewport_size({"width": width, "height": height})
    page.locator(f"[data-message='{quoted.public_id}']").focus()
    page.keyboard.press("Enter")  # into its controls: the link in its text first, then Reply
    assert page.evaluate("document.activeElement.href") == link
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.locator("[data-reply-input]").input_value() == str(quoted.public_id)
    attachment = tmp_path / "comprovante-de-pagamento-dezembro.pdf"
    attachment.write_bytes(b"%PDF-1.4 comprovante")
    page.set_input_files("#composer-file", str(attachment))

    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for control in ("[data-reply-cancel]", "#composer-file", "#composer-note", "[data-testid=send]",
                    "[data-testid=emoji-toggle]"):
        page.locator(control).scroll_into_view_if_needed()
        box = page.locator(control).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (control, box)
    assert page.locator("#composer-file").bounding_box()["width"] >= 200  # room for the chosen file's name
    assert client_b.get(f"/c/{company_a.slug}/inbox/{conversation.public_id}/").status_code == 404


def test_at_200_percent_zoom_the_conversation_list_shows_more_than_one_row(
    app_url, browser_context, company_a, owner_a, company_b, client_b,  # noqa: F811
):
    """Its box was the window's height less 300 px: at 200 % zoom of a 1280 x 800 window (640 x 400) a 100 px box,
    one row at a time. It keeps room for several rows. Company B's conversation is not among them."""
    instance = make_instance(company=company_a)
    for number in range(12):
        make_conversation(company_a, instance, number=f"5511944{number:06d}", name=f"Cliente {number}")
    make_conversation(company_b, make_instance(company=company_b), name="Só de B")
    page = browser_context.new_page()
    log_in(page, app_url, owner_a.email)
    page.set_viewport_size({"width": 640, "height": 400})
    page.goto(f"{app_url}/c/{company_a.slug}/inbox/")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-row]').length === 12")
    # Measured until it holds (the list re-fetches itself once the socket subscribed: mid-swap it measures 0).
    page.wait_for_function("""() => { const list = document.querySelector('[data-testid=conversation-list]');
        return list && list.getBoundingClientRect().height >= 240; }""", timeout=5_000)
    assert page.locator("[data-testid=conversation-row]", has_text="Só de B").count() == 0
    assert client_b.get(f"/c/{company_a.slug}/inbox/").status_code == 404
