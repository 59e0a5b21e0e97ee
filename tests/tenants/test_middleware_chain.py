"""The ASGI handler (config/handler.py): every middleware and view is sync, so a request is served in one hand-off
to a worker thread, the chain loaded sync as WSGI loads it (Django's own ASGI handler made five hand-offs, in a
thread started for each request; docs/performance.md#send). The htmx and axes middlewares are still in it (their
behaviour: the page tests and tests/tenants/test_accounts.py's lockout)."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.utils.module_loading import import_string

from config.asgi import application, django_asgi_app
from config.handler import OneHopASGIHandler


def chain_under_asgi() -> list[str]:
    """The layers of the ASGI handler's request chain, outermost first: middleware classes, Django's own functions
    and any sync/async adapter between them."""
    layer, names = django_asgi_app._middleware_chain, []
    while layer is not None and len(names) < 200:
        names.append(layer.__name__ if type(layer).__name__ in ("function", "method") else type(layer).__name__)
        layer = next((found for name in ("func", "awaitable", "__wrapped__", "get_response")
                      if (found := getattr(layer, name, None)) is not None), None)
    return names


def test_the_chain_is_sync_from_the_first_middleware_to_the_view():
    """No adapter anywhere in the chain: the request is already in its worker thread when the chain starts, and
    the innermost layer is Django's sync request handling (with Django's own handler, the chain was entered
    through SyncToAsync and left through AsyncToSync to `_get_response_async`)."""
    assert isinstance(django_asgi_app, OneHopASGIHandler)
    names = chain_under_asgi()
    assert not {"SyncToAsync", "AsyncToSync"} & set(names)
    assert names[-1] == "_get_response"
    loaded = [import_string(path) for path in settings.MIDDLEWARE]
    from axes.middleware import AxesMiddleware
    from django_htmx.middleware import HtmxMiddleware

    assert any(issubclass(cls, HtmxMiddleware) for cls in loaded)
    assert issubclass(loaded[-1], AxesMiddleware)  # still last: it sees a locked-out login's final response


@pytest.mark.django_db(transaction=True)
def test_a_request_lives_in_one_reused_worker_thread_with_its_signals():
    """request_started, the view and request_finished (which gives the database connection back) run in one
    thread off the event loop, and the next requests reuse the loop's worker threads instead of starting one
    each."""
    seen: list[tuple[str, int]] = []
    marks = threading.local()  # fresh in every new thread, even one given a finished thread's ident
    new_threads = []

    def started(**kwargs):
        if not hasattr(marks, "seen"):
            marks.seen = True
            new_threads.append(threading.get_ident())
        seen.append(("started", threading.get_ident()))

    def finished(**kwargs):
        seen.append(("finished", threading.get_ident()))

    async def run() -> tuple[int, list[int]]:
        loop_thread = threading.get_ident()
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            codes = [(await client.get("/healthz")).status_code for _ in range(20)]
        return loop_thread, codes

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        loop_thread, codes = asyncio.run(run())
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert codes == [200] * 20
    assert [name for name, _ in seen] == ["started", "finished"] * 20
    pairs = list(zip(seen[::2], seen[1::2], strict=True))
    assert all(start[1] == finish[1] != loop_thread for start, finish in pairs)
    assert len(new_threads) < 10  # the worker threads are reused, not one started per request


def asgi_get(path: str, **headers: str) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(get())


@pytest.mark.django_db(transaction=True)
def test_requests_through_the_asgi_application_reach_their_own_company(api_key_a, api_key_b):
    me = asgi_get("/api/v1/me", Authorization=f"Bearer {api_key_a.secret}")
    assert me.status_code == 200, me.text
    assert me.json()["company"]["slug"] == "alpha"
    assert asgi_get("/api/v1/me", Authorization=f"Bearer {api_key_b.secret}").json()["company"]["slug"] == "bravo"
    assert asgi_get("/api/v1/me", Authorization="Bearer not-a-key").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_streamed_export_is_read_in_its_own_thread_and_sent_whole_through_asgi(client_a, client_b, company_a):
    """The contact export streams (an async iterator whose chunks run in the request's own thread): through the
    ASGI application it arrives whole, with each chunk's database cursor valid, and another company's session
    gets its own (empty) list, not this one's."""
    from tests.factories import make_contact, make_instance

    instance = make_instance(company=company_a)
    for number in range(450):  # more than two of the export's chunks
        make_contact(company=company_a, instance=instance, identifier=f"55119{number:08d}", name=f"Cliente {number}")

    async def export(client, slug: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                     cookies={name: morsel.value for name, morsel in client.cookies.items()}) as asgi:
            return await asgi.get(f"/c/{slug}/contacts/export.csv")

    response = asyncio.run(export(client_a, company_a.slug))
    assert response.status_code == 200, response.text
    lines = response.text.lstrip("\ufeff").strip().splitlines()
    assert len(lines) == 451 and "Cliente 449" in response.text
    foreign = asyncio.run(export(client_b, company_a.slug))
    assert foreign.status_code == 404
