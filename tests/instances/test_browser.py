"""The connect flow in a real browser: live QR, scan, badge and dialog update without reload, isolation.

The whole chain runs for real: uvicorn (HTTP + WebSocket) in a subprocess on the test database, the
simulator subprocess posting its webhooks to that uvicorn, a Celery worker subprocess running the connect
and inbound-event tasks, Redis as broker and channel layer, chromium as the browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.conftest import (  # noqa: F401 (fixtures)
    _orm_beside_playwright,
    browser,
    browser_context,
    log_in,
    running_stack,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def hooked_app_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """uvicorn and a Celery worker on the test database; PUBLIC_URL is uvicorn, so the simulator's webhooks
    reach it, and its tasks (connect, inbound events) run in the worker."""
    with running_stack(tmp_path_factory.mktemp("instances-stack"), worker_queues="default,polling",
                       public_url=True) as url:
        yield url


def test_connect_by_live_qr_scan_and_disconnect(hooked_app_url, browser, browser_context, simulator,  # noqa: F811
                                                gateway_server, company_a, owner_a, company_b, owner_b):
    simulator.configure(qr_interval=2.0)
    url = hooked_app_url
    stranger_context = browser.new_context(locale="en-US")
    stranger = stranger_context.new_page()
    log_in(stranger, url, owner_b.email)
    stranger.goto(f"{url}/c/{company_b.slug}/instances/")
    stranger_frames: list[str] = []
    stranger.on("websocket", lambda socket: socket.on("framereceived", lambda frame: stranger_frames.append(
        frame if isinstance(frame, str) else str(frame))))

    page = browser_context.new_page()
    log_in(page, url, owner_a.email)
    page.goto(f"{url}/c/{company_a.slug}/instances/")
    page.fill("input[name=name]", "sales")
    page.click("[data-testid=instance-create-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    assert page.locator("[data-testid=state-badge]").get_attribute("data-state") == "created"

    page.click("[data-testid=connect]")
    qr = page.locator("[data-testid=qr-image]")
    qr.wait_for(timeout=15_000)
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    assert int(page.locator("[data-testid=qr-countdown]").inner_text()) > 0
    first_count = qr.get_attribute("data-qr-count")
    page.evaluate("window.__sameDocument = true")
    # The gateway refreshes the QR; the new one is pushed over the socket (no browser polling).
    page.wait_for_function(
        "(count) => document.querySelector('[data-testid=qr-image]')?.dataset.qrCount !== count", arg=first_count,
        timeout=15_000)

    gateway_name = f"{company_a.slug}_sales"
    simulator.scan(gateway_name, number="5511988887777", profile_name="Alpha Foods")
    page.locator("[data-testid=connected-as]").wait_for(timeout=15_000)
    assert "+5511988887777" in page.locator("[data-testid=connected-as]").inner_text()
    assert page.locator("[data-testid=connect-dialog]").count() == 0
    assert page.locator("[data-testid=state-badge]").get_attribute("data-state") == "open"
    # Connected: no "connect" actions any more (they come back below, live, once it disconnects).
    assert page.locator("[data-testid=connect]").is_hidden()
    assert page.locator("[data-testid=pairing-form]").is_hidden()
    assert page.locator("[data-testid=connected-note]").is_visible()
    assert page.evaluate("window.__sameDocument") is True

    simulator.control("POST", f"instances/{gateway_name}/disconnect", {"reason": 401})
    page.wait_for_function(
        "() => document.querySelector('[data-testid=state-badge]')?.dataset.state === 'close'", timeout=15_000)
    assert page.locator("[data-testid=connect]").is_visible()
    assert page.locator("[data-testid=pairing-form]").is_visible()
    assert page.locator("[data-testid=connected-note]").is_hidden()
    # The navigation on every page counts it as needing attention, live too.
    page.locator("[data-testid=nav-instances-attention]").wait_for(timeout=15_000)
    assert page.locator("[data-testid=nav-instances-attention]").inner_text() == "1"
    assert page.evaluate("window.__sameDocument") is True

    stranger.reload()
    assert stranger.locator("[data-testid=instance-card]").count() == 0
    assert stranger.locator("[data-testid=nav-instances-attention]").count() == 0
    assert not any("sales" in frame or "5511988887777" in frame for frame in stranger_frames)
    stranger_context.close()
