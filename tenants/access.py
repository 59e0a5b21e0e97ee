"""The company_member view decorator: the one place a page request gets its company (STYLE rules 7, 9, 15)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from tenants.models import Company, Membership
from tenants.scoping import enter_company_scope, exit_company_scope
from tenants.selectors import membership_for_slug


class CompanyRequest(HttpRequest):
    """What a view behind @company_member receives."""

    company: Company
    membership: Membership


def company_member(role: str | None = None) -> Callable:
    """Resolve /c/<company_slug>/ against the user's membership; 404 for strangers, 403 for a too-low role."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, company_slug: str, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return _to_login(request)
            # One query for the company and the membership: no such company and not a member are the same 404.
            membership = membership_for_slug(user=request.user, slug=company_slug)
            if membership is None:
                raise Http404(_("Page not found"))
            company = membership.company
            token = enter_company_scope(company)
            try:
                if not company.is_active:
                    return render(request, "tenants/suspended.html", {"company": company}, status=403)
                # Set before the role check: the 403 page then draws this company's menu (the person is a member).
                request.company = company
                request.membership = membership
                if role is not None and not membership.has_role(role):
                    raise PermissionDenied(_("Your role in this company does not allow this."))
                return view(request, *args, **kwargs)
            finally:
                exit_company_scope(token)

        return wrapper

    return decorator


def _to_login(request: HttpRequest) -> HttpResponse:
    """To the login page, and back afterwards. A live request (htmx: a send, a list's re-fetch) is told to go there
    (HX-Redirect, back to the page it was made from): a redirect it followed had htmx draw the login page inside
    the composer or the list, and the composer's draft forgotten as if sent."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return redirect_to_login(request.get_full_path())
    page = htmx.current_url_abs_path  # None for another site's address
    return HttpResponseClientRedirect(redirect_to_login(page).url if page else resolve_url(settings.LOGIN_URL))


def actor_label(request) -> str:
    """Who acts, for audit records: the API key's name ("API key: ERP"), else the member's name."""
    from tenants.models import ApiKey

    api_key = getattr(request, "auth", None)
    if isinstance(api_key, ApiKey):
        return _("API key: %(name)s") % {"name": api_key.name}
    user = request.user
    return user.get_full_name() or user.get_username()
