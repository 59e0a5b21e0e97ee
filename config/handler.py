"""Django's ASGI handler, serving each request in one hand-off to a worker thread.

Every view and middleware of Recado is sync. Django's own ASGI handler serves such a request in five hand-offs
between the event loop and threads (the request_started signal, into the middleware chain, back to the loop
for its async request handling, into the view, and the request_finished signal), in a thread it starts for that
request alone (`ThreadSensitiveContext`): about 1.5 ms of CPU per request before any of our code ran, most of a
health check and a sixth of an API send (docs/performance.md, Send).

This handler loads the same middleware as a sync chain (as WSGI does) and runs the request's whole life, the
signals, the chain and the view, in one call on the loop's pool of worker threads, as a WSGI server's thread
would, then sends the response from the event loop. What is unchanged: the middleware and views themselves,
the body read as Django reads it, the response sent by Django's own `send_response`, and a streaming response,
which keeps Django's way: its content is consumed on the loop (a sync iterator in the request's own thread,
ThreadSensitiveContext) and it is closed after it was sent. What is left out: Django's watch for a client that
hangs up mid-request, which can only stop the wait for a sync view, never the view (the response then goes
nowhere: the server drops it).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def handle(self, scope, receive, send, respond: Callable | None = None) -> None:
        """Serve the request; `respond(scope, body_file)` instead of the middleware chain and URL resolver, for a
        path that needs neither (instances/hooks.py), still in the one hand-off."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            response = await sync_to_async(respond or self._respond, thread_sensitive=False)(scope, body_file)
            if not response.streaming:
                await self.send_response(response, send)
                return
            async with ThreadSensitiveContext():
                try:
                    await self.send_response(response, send)
                finally:
                    await sync_to_async(response.close)()

    def _respond(self, scope, body_file) -> HttpResponseBase:
        """The request's life in this thread: what Django's WSGI handler does between receiving and sending."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if response.streaming:
            close_old_connections()  # the content is read in another thread, with its own connection
        else:
            response.close()  # request_finished: this thread's database connection goes back to the pool
        return response
