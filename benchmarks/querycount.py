"""Count the SQL statements each request runs inside the server process (benchmarks only).

Every database connection the process opens gets an execute wrapper (the `connection_created` signal)
that adds one to the counter of the request being served. The counter lives in a ContextVar set by
`QueryCountMiddleware` (first in MIDDLEWARE, so sessions, authentication, the view, its templates and
the session save all count); asgiref copies the context into the thread where Django's sync code runs,
so the count is right under uvicorn as well. The middleware is async-capable, so adding it does not
change how the request is served. The response carries `X-Bench-Queries` (statements) and
`X-Bench-Query-Ms` (time spent in them).
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db.backends.signals import connection_created

_counter: ContextVar[list | None] = ContextVar("bench_query_counter", default=None)


def _count(execute, sql, params, many, context):
    counter = _counter.get()
    if counter is None:
        return execute(sql, params, many, context)
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        counter[0] += 1
        counter[1] += time.perf_counter() - started


def _install(sender, connection, **kwargs) -> None:
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


connection_created.connect(_install, dispatch_uid="benchmarks.querycount")


class QueryCountMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._call_async(request)
        counter = [0, 0.0]
        token = _counter.set(counter)
        try:
            response = self.get_response(request)
        finally:
            _counter.reset(token)
        return self._annotate(response, counter)

    async def _call_async(self, request):
        counter = [0, 0.0]
        token = _counter.set(counter)
        try:
            response = await self.get_response(request)
        finally:
            _counter.reset(token)
        return self._annotate(response, counter)

    @staticmethod
    def _annotate(response, counter: list):
        response["X-Bench-Queries"] = str(counter[0])
        response["X-Bench-Query-Ms"] = f"{counter[1] * 1000:.2f}"
        return response
