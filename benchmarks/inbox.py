"""Inbox at scale: the conversation list of a company with 100k conversations and about 1M messages.

Seeds the company in SQL (benchmarks/inbox_seed.py), then times, through the real uvicorn on the real
PostgreSQL, one request at a time:

- the inbox page (`/c/<slug>/inbox/`, which renders the first page of the list) and the list fragment it
  re-fetches and scrolls (`?fragment=list`, `?fragment=more&cursor=…`; 30 rows, the page's only size),
  logged in as the owner (a real session cookie);
- `GET /api/v1/conversations` with an API key, at `limit` 10, 30 (default), 50 and 100 (the maximum);

over the tabs (open / pending / closed, mine / unassigned / all), the instance and tag filters (a common
tag and a rare one), searches (a name, a number fragment, rare and common words in message texts, a term
found nowhere, two letters), the whole page with a search, and cursors 10 %, 50 % and 90 % deep into the
biggest tab. The server runs `benchmarks.settings_querycount`: each answer says how many SQL statements it
ran and how long they took (benchmarks/querycount.py). Reference, same run and server: the same list
requests on a 100-conversation company, before and after the variants (the machine's floor).

Per variant: p50, p95 and max latency (client side, the whole HTTP round trip), SQL time and the most queries.
Target: p95 < 100 ms and at most 8 queries for every variant. BENCH_INBOX_SCALE (default 1) shrinks the
seed (0.01 → 1k conversations), BENCH_INBOX_REQUESTS sets the requests per variant (default 30) and
BENCH_INBOX_WARMUP the unmeasured ones before them (default 3).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from benchmarks.report import figure
from benchmarks.stack import running_stack

SCALE = float(os.environ.get("BENCH_INBOX_SCALE", "1"))
REQUESTS = int(os.environ.get("BENCH_INBOX_REQUESTS", "30"))
WARMUP = int(os.environ.get("BENCH_INBOX_WARMUP", "3"))
TARGET_P95_MS = 100.0
TARGET_QUERIES = 8
API_LIMITS = (10, 30, 50, 100)
REFERENCE_CONVERSATIONS = 100


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _measure(client: httpx.Client, path: str, params: dict, *, requests: int) -> dict:
    url = f"{path}?{urlencode(params)}" if params else path
    for _ in range(WARMUP):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:500]}")
    durations, queries, sql_ms, rows = [], [], [], None
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        durations.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:500]}")
        queries.append(int(response.headers["X-Bench-Queries"]))
        sql_ms.append(float(response.headers["X-Bench-Query-Ms"]))
    if response.headers.get("content-type", "").startswith("application/json"):
        rows = len(response.json()["results"])
    else:
        rows = response.text.count('data-testid="conversation-row"')
    p95 = _percentile(durations, 0.95)
    print(f"  {url[:110]}: rows {rows}, p95 {p95:.1f} ms, queries {max(queries)}", file=sys.stderr)
    return {
        "url": url, "rows": rows, "requests": requests,
        "latency_ms_p50": round(statistics.median(durations), 1), "latency_ms_p95": round(p95, 1),
        "latency_ms_max": round(max(durations), 1), "sql_ms_p50": round(statistics.median(sql_ms), 2),
        "sql_ms_p95": round(_percentile(sql_ms, 0.95), 2), "queries_max": max(queries), "queries_min": min(queries),
        "meets_target": p95 < TARGET_P95_MS and max(queries) <= TARGET_QUERIES,
    }


def _deep_cursors(company, tab: str) -> dict[str, tuple[str, str]]:
    """Cursors 10 %, 50 % and 90 % into a tab's list: (the inbox's keyset cursor, the API's cursor)."""
    from rest_framework.pagination import Cursor, CursorPagination

    from messaging.selectors import ConversationFilters, conversation_list, encode_cursor
    from tenants.scoping import company_scope

    class Encoder(CursorPagination):
        def __init__(self) -> None:
            self.base_url = "http://bench/"

    cursors = {}
    with company_scope(company):
        listing = conversation_list(company=company, filters=ConversationFilters(status=tab))
        total = listing.count()
        for percent in (10, 50, 90):
            row = listing.values("last_message_at", "pk")[total * percent // 100]
            api_url = Encoder().encode_cursor(Cursor(offset=0, reverse=False,
                                                     position=str(row["last_message_at"])))
            api_cursor = parse_qs(urlsplit(api_url).query)["cursor"][0]
            cursors[f"{percent}%"] = (encode_cursor(row["last_message_at"], row["pk"]), api_cursor)
    return cursors


def _variants(seed) -> list[tuple[str, dict]]:
    """(name, filters) for every tab, filter and search measured (the inbox's parameter names)."""
    smallest_instance = seed.instances[-1]
    variants = []
    for status in ("open", "pending", "closed"):
        for assignee in ("", "mine", "unassigned"):
            variants.append((f"{status}/{assignee or 'all'}", {"status": status, "assignee": assignee}))
    variants += [
        ("open/instance(10%)", {"status": "open", "instance": smallest_instance}),
        ("closed/instance(10%)", {"status": "closed", "instance": smallest_instance}),
        ("open/tag(common)", {"status": "open", "tag": seed.tags["cliente"]}),
        ("closed/tag(rare 0.2%)", {"status": "closed", "tag": seed.tags["vip"]}),
        ("open/search(name)", {"status": "open", "q": "Mariana"}),
        ("closed/search(number)", {"status": "closed", "q": seed.number_fragment}),
        ("closed/search(rare word 0.1%)", {"status": "closed", "q": "reembolso"}),
        ("open/search(order number prefix)", {"status": "open", "q": "pedido 12"}),
        ("open/search(common word 6%)", {"status": "open", "q": "obrigad"}),
        ("closed/search(absent)", {"status": "closed", "q": "xyzzy"}),
        ("open/search(2 letters)", {"status": "open", "q": "ok"}),
    ]
    return variants


def _session_cookie(owner) -> str:
    from django.test import Client

    client = Client()
    client.force_login(owner, backend="tenants.backends.UsernameOrEmailBackend")
    return client.cookies["sessionid"].value


def _api_params(filters: dict, owner_public_id: str) -> dict:
    params = {key: value for key, value in filters.items() if value and key != "q"}
    if params.get("assignee") == "mine":  # the API names people by id
        params["assignee"] = owner_public_id
    if filters.get("q"):
        params["search"] = filters["q"]
    return params


def run() -> dict:
    conversations = max(100, int(100_000 * SCALE))
    # The per-key API throttle (600/min by default) would answer 429 to a benchmark that asks one request after
    # the other as fast as it can.
    extra = {"DJANGO_SETTINGS_MODULE": "benchmarks.settings_querycount", "API_RATE_LIMIT": "1000000/min"}
    with running_stack(web_workers=1, worker_queues=None, simulator=False, extra_env=extra) as stack:
        stack.django()
        from benchmarks.inbox_seed import seed_inbox
        from tenants import services
        from tenants.models import ApiKey
        from tenants.scoping import company_scope

        def company_with_owner(slug: str):
            company = services.company_create(name=slug, slug=slug, max_instances=50, max_members=50)
            owner = services.company_owner_create(company=company, email=f"owner@{slug}.test",
                                                  password=f"bench-password-{slug}").user
            return company, owner

        # The reference: the same requests on a small company (the seed's smallest useful inbox), in the
        # same run and server. Seeded first: the big seed then rebuilds the indexes over both at once.
        small, small_owner = company_with_owner("inbox-small")
        small_seed = seed_inbox(company=small, owner=small_owner, conversations=REFERENCE_CONVERSATIONS)
        company, owner = company_with_owner("inbox-bench")
        seed = seed_inbox(company=company, owner=owner, conversations=conversations)
        print(f"inbox: seeded {seed.conversations} conversations, {seed.messages} messages in "
              f"{seed.seconds}", file=sys.stderr)
        key = services.api_key_create(company=company, name="inbox bench", scopes=[ApiKey.Scope.READ]).secret
        small_key = services.api_key_create(company=small, name="inbox bench", scopes=[ApiKey.Scope.READ]).secret
        with company_scope(company):
            deep = _deep_cursors(company, "closed")
        owner_id = str(owner.public_id)
        inbox = f"/c/{company.slug}/inbox/"
        results: dict[str, dict] = {}
        reference: dict[str, dict] = {}
        with httpx.Client(base_url=stack.url, timeout=30, headers={"Cookie": f"sessionid={_session_cookie(owner)}"},
                          follow_redirects=False) as browser, \
                httpx.Client(base_url=stack.url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as api, \
                httpx.Client(base_url=stack.url, timeout=30,
                             headers={"Cookie": f"sessionid={_session_cookie(small_owner)}"}) as small_browser, \
                httpx.Client(base_url=stack.url, timeout=30,
                             headers={"Authorization": f"Bearer {small_key}"}) as small_api:

            def measure_reference() -> None:
                for name, client, path, params in (
                        ("html list open/all", small_browser, f"/c/{small.slug}/inbox/",
                         {"status": "open", "fragment": "list"}),
                        ("api open/all limit=30", small_api, "/api/v1/conversations", {"status": "open"}),
                        ("api all limit=100", small_api, "/api/v1/conversations", {"limit": 100})):
                    reference.setdefault(name, {"latency_ms_p95": []})["latency_ms_p95"].append(
                        _measure(client, path, params, requests=REQUESTS)["latency_ms_p95"])

            measure_reference()
            results["html page (open, first 30)"] = _measure(browser, inbox, {}, requests=REQUESTS)
            # The filter form's submit loads the whole page (its list included).
            results["html page search(rare word 0.1%)"] = _measure(browser, inbox, {"status": "closed",
                                                                                   "q": "reembolso"},
                                                                   requests=REQUESTS)
            for name, filters in _variants(seed):
                results[f"html list {name}"] = _measure(browser, inbox, {**filters, "fragment": "list"},
                                                        requests=REQUESTS)
                results[f"api {name} limit=30"] = _measure(api, "/api/v1/conversations",
                                                           _api_params(filters, owner_id), requests=REQUESTS)
            results["api any status/mine limit=30"] = _measure(api, "/api/v1/conversations", {"assignee": owner_id},
                                                               requests=REQUESTS)
            for limit in API_LIMITS:
                results[f"api all limit={limit}"] = _measure(api, "/api/v1/conversations", {"limit": limit},
                                                             requests=REQUESTS)
                results[f"api closed/all limit={limit}"] = _measure(
                    api, "/api/v1/conversations", {"status": "closed", "limit": limit}, requests=REQUESTS)
            for depth, (html_cursor, api_cursor) in deep.items():
                results[f"html more closed/all cursor {depth}"] = _measure(
                    browser, inbox, {"status": "closed", "fragment": "more", "cursor": html_cursor},
                    requests=REQUESTS)
                results[f"api closed/all cursor {depth} limit=100"] = _measure(
                    api, "/api/v1/conversations", {"status": "closed", "limit": 100, "cursor": api_cursor},
                    requests=REQUESTS)
            measure_reference()  # before and after: the machine's load may change during the run
    missed = sorted(name for name, result in results.items() if not result["meets_target"])
    html = {name: result for name, result in results.items() if name.startswith("html")}
    api = {name: result for name, result in results.items() if name.startswith("api")}
    return {
        "method": (f"real stack: uvicorn x1, PostgreSQL, Redis; one company seeded in SQL with "
                   f"{seed.conversations} conversations, {seed.messages} messages, {seed.contacts} contacts; "
                   f"{len(results)} variants (inbox page and its list fragment as the owner, GET "
                   f"/api/v1/conversations with an API key at limits {', '.join(map(str, API_LIMITS))}), "
                   f"{REQUESTS} sequential requests each after {WARMUP} warm-up ones; queries counted inside "
                   f"the server (benchmarks/querycount.py)"),
        "figures": {
            "html_list_worst_p95_ms": figure(max(r["latency_ms_p95"] for r in html.values()), "ms",
                                             target=("<", TARGET_P95_MS)),
            "api_list_worst_p95_ms": figure(max(r["latency_ms_p95"] for r in api.values()), "ms",
                                            target=("<", TARGET_P95_MS)),
            "worst_queries_per_request": figure(max(r["queries_max"] for r in results.values()), "queries",
                                                target=("<=", TARGET_QUERIES)),
            "variants_missing_target": figure(len(missed), "variants", target=("==", 0),
                                              note=", ".join(missed)),
            "reference_small_inbox_worst_p95_ms": figure(
                max(max(item["latency_ms_p95"]) for item in reference.values()), "ms",
                note=f"the same server and requests on a company with {small_seed.conversations} conversations "
                     f"(measured before and after the variants): the machine's floor, not the cost of scale"),
            "worst_sql_ms_p95": figure(max(r["sql_ms_p95"] for r in results.values()), "ms",
                                       note="time spent in SQL inside the server, worst variant"),
        },
        "details": {
            "seed": {"conversations": seed.conversations, "messages": seed.messages, "contacts": seed.contacts,
                     "seconds": seed.seconds},
            "requests_per_variant": REQUESTS,
            "reference_small_inbox": {"conversations": small_seed.conversations, "p95_ms_before_and_after": {
                name: item["latency_ms_p95"] for name, item in reference.items()}},
            "variants": results,
        },
    }


def main() -> None:
    print(json.dumps(run(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
