"""`{{ row.last_error|shown }}`: a sentence Recado stored in English, in the reader's language
(tenants/stored_text.py)."""

from __future__ import annotations

from django import template

from tenants.stored_text import shown as shown_text

register = template.Library()


@register.filter
def shown(text: str) -> str:
    return shown_text(text or "")
