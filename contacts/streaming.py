"""Streaming a lazily-read response body inside the company's scope, under WSGI and ASGI alike.

The body is produced after the view returned (and after @company_member closed the scope), so each
step re-enters the scope around its own `next()`. Under ASGI Django would buffer a sync iterator
whole; an async iterator that pulls one chunk at a time from a worker thread keeps memory flat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async

from tenants.models import Company
from tenants.scoping import company_scope

_END = object()


def _scoped(company: Company, iterable: Iterable[str]) -> Iterator[str]:
    iterator = iter(iterable)
    while True:
        with company_scope(company):
            item = next(iterator, _END)
        if item is _END:
            return
        yield item


def _next_chunk(iterator: Iterator[str], size: int = 200):
    chunk = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) >= size:
            break
    return "".join(chunk) if chunk else _END


async def _async(iterator: Iterator[str]) -> AsyncIterator[str]:
    while True:
        # thread_sensitive: every chunk runs on the same thread, so the database cursor stays valid.
        chunk = await sync_to_async(_next_chunk, thread_sensitive=True)(iterator)
        if chunk is _END:
            return
        yield chunk


def company_stream(company: Company, iterable: Iterable[str], *, asynchronous: bool):
    scoped = _scoped(company, iterable)
    return _async(scoped) if asynchronous else scoped
