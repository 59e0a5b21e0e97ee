"""The platform operator's area: staff only, everyone else gets 404."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.selectors import company_list_with_counts


def operator_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff users only; others see a 404, so the area's existence does not leak."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@operator_only
def company_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/operator/companies.html", {"companies": company_list_with_counts()})
