"""`{% form_once %}`: the hidden one-time token of a create form (tenants/once.py)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from tenants.once import FIELD, form_once_token

register = template.Library()


@register.simple_tag
def form_once() -> str:
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, form_once_token())
