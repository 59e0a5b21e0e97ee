"""benchmarks.settings plus the query-counting middleware (benchmarks/querycount.py), outermost.

Used by the inbox benchmark only: every answer carries the number of SQL statements the server ran for it.
"""

from benchmarks.settings import *  # noqa: F403
from benchmarks.settings import MIDDLEWARE

MIDDLEWARE = ["benchmarks.querycount.QueryCountMiddleware", *MIDDLEWARE]
