"""Create forms that must not create twice when the browser sends them again (reload, Back then Forward).

A page that shows a new secret once (an API key, a webhook endpoint's or a bot platform's signing secret)
answers the POST itself, since the secret cannot be shown again after a redirect; a reload of that page then
resends the form. Each such form carries a random `form_once` value (`{% form_once %}`), and the view claims it
(`form_once_claim`) before it creates: the first claim wins, a resent form finds it taken and creates nothing.
Claims live in the cache (Redis) for FORM_ONCE_SECONDS.
"""

from __future__ import annotations

import re
import secrets

from django.core.cache import cache
from django.http import HttpRequest

FIELD = "form_once"
FORM_ONCE_SECONDS = 24 * 60 * 60
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def form_once_token() -> str:
    return secrets.token_urlsafe(18)


def form_once_claim(request: HttpRequest) -> bool:
    """Whether this is the form's first sending (a form without a token, or with a malformed one, always is)."""
    token = request.POST.get(FIELD, "")
    if not _TOKEN.fullmatch(token):
        return True
    return cache.add(f"form-once:{token}", 1, timeout=FORM_ONCE_SECONDS)
