"""Presentation helpers of the inbox: WhatsApp text formatting on escaped text."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# WhatsApp's markup: *bold*, _italic_, ~strike~, ```monospace```. Applied after escaping, so it can
# only ever add these four tags.
_RULES = (
    (re.compile(r"```(.+?)```", re.S), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w~])~(?!\s)(.+?)(?<!\s)~(?![\w~])"), r"<del>\1</del>"),
)


@register.filter
def whatsapp(text: str) -> SafeString:
    html = escape(text or "")
    for pattern, replacement in _RULES:
        html = pattern.sub(replacement, html)
    return mark_safe(linebreaks(html, autoescape=False))  # noqa: S308 (escaped above; only our tags added)
