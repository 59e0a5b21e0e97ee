"""The middleware chain under ASGI: every middleware runs sync, so Django hands a request to one thread for the
whole chain and the (sync) view, instead of going back to the event loop for an async-capable middleware in the
middle (three hand-offs per request; docs/performance.md#send). The htmx and axes middlewares are still in it
(their behaviour: the page tests and tests/tenants/test_accounts.py's lockout)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from config.asgi import application


def chain_under_asgi() -> list[str]:
    """The layers of Django's ASGI request chain, outermost first: middleware classes, Django's own functions and
    the sync/async adapters between them."""
    from django.core.handlers.asgi import ASGIHandler

    layer, names = ASGIHandler()._middleware_chain, []
    while layer is not None and len(names) < 200:
        names.append(layer.__name__ if type(layer).__name__ == "function" else type(layer).__name__)
        layer = next((found for name in ("func", "awaitable", "__wrapped__", "get_response")
                      if (found := getattr(layer, name, None)) is not None), None)
    return names


def test_every_middleware_runs_sync_in_the_one_thread_a_request_is_handed_to():
    """Django keeps a middleware sync when the one inside it is: the innermost two are sync-only, so every
    other (Django's own can be either) runs sync too. The only adapters are the hand-off into the thread at the
    top and Django's own way back to its async request handling at the bottom (with the htmx and axes ones
    async, the Messages, X-Frame-Options and CSP middlewares ran async, each hop for their sync hooks)."""
    names = chain_under_asgi()
    adapters = [index for index, name in enumerate(names) if name in ("SyncToAsync", "AsyncToSync")]
    assert [names[index] for index in adapters] == ["SyncToAsync", "AsyncToSync"]
    assert adapters[0] == 0 and names[adapters[1] + 1] == "_get_response_async"
    loaded = [import_string(path) for path in settings.MIDDLEWARE]
    from axes.middleware import AxesMiddleware
    from django_htmx.middleware import HtmxMiddleware

    assert any(issubclass(cls, HtmxMiddleware) for cls in loaded)
    assert issubclass(loaded[-1], AxesMiddleware)  # still last: it sees a locked-out login's final response


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
