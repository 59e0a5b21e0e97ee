"""API-key authentication, scope permission, throttling and pagination of the REST API.

Kept apart from tenants/api.py because DRF imports these classes while loading its own views.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from tenants import redis_scripts, token_bucket
from tenants.models import ApiKey, Company, hash_secret
from tenants.prepared import Prepared, columns, model_from, width
from tenants.scoping import enter_company_scope
from tenants.services import api_key_touch

SCOPE_TOKEN_ATTRIBUTE = "_recado_company_scope_token"


class ApiKeyPrincipal:
    """The authenticated "user" of an API request: the key, acting for its company (no impersonation)."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.company = api_key.company

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


# Read on every API request: prepared (tenants/prepared.py), unscoped.
# all_companies: the key is the credential that names the company; nothing else is known yet.
_API_KEY = Prepared(lambda p: ApiKey.all_companies.filter(secret_hash=p.secret_hash).order_by()
                    .values_list(*columns(ApiKey), *columns(Company, "company"))[:1], scoped=False, secret_hash=str)


def _api_key_get(secret_hash: str) -> ApiKey | None:
    row = _API_KEY.first(secret_hash=secret_hash)
    if row is None:
        return None
    split = width(ApiKey)
    api_key = model_from(ApiKey, row[:split])
    api_key.company = model_from(Company, row[split:])
    return api_key


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` or an `apikey: <key>` header; sets request.company and the company scope."""

    def authenticate(self, request: Request):
        secret = self._secret_from(request)
        if secret is None:
            return None
        api_key = _api_key_get(hash_secret(secret))
        if api_key is None or not api_key.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        if not api_key.company.is_active:
            raise exceptions.PermissionDenied(_("This company is suspended; contact the platform operator."))
        api_key_touch(api_key=api_key, now=timezone.now())
        django_request = request._request
        django_request.company = api_key.company
        setattr(django_request, SCOPE_TOKEN_ATTRIBUTE, enter_company_scope(api_key.company))
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    @staticmethod
    def _secret_from(request: Request) -> str | None:
        header = get_authorization_header(request).decode("latin-1").strip()
        if header:
            scheme, _sep, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise exceptions.AuthenticationFailed(_("Use 'Authorization: Bearer <api key>'."))
            return value.strip()
        value = request.headers.get("apikey", "").strip()
        return value or None


class HasCompany(permissions.BasePermission):
    """An API key of an active company, holding the scope the route needs (read for GET, write otherwise)."""

    def has_permission(self, request: Request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated(_("Send an API key: 'Authorization: Bearer <api key>'."))
        needed = view.required_scope(request) if hasattr(view, "required_scope") else _default_scope(request)
        if needed not in request.auth.scopes:
            raise exceptions.PermissionDenied(_("This API key lacks the '%(scope)s' scope.") % {"scope": needed})
        return True


def _default_scope(request: Request) -> str:
    return ApiKey.Scope.READ if request.method in permissions.SAFE_METHODS else ApiKey.Scope.WRITE


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per-key request budget (API_RATE_LIMIT, "N/period"); 429 carries Retry-After.

    A token bucket in Redis (tenants/token_bucket.py) holding N requests and refilled at N per period: one
    atomic round trip per request. DRF's own throttle read, changed and wrote back a list of every request's
    time in the period (thousands at a high limit), and concurrent requests in other processes overwrote each
    other's writes, so a busy key could exceed its budget."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view) -> str | None:
        ident = request.auth.pk if isinstance(request.auth, ApiKey) else self.get_ident(request)
        return redis_scripts.key(f"api-throttle:{self.scope}:{ident}")

    def allow_request(self, request: Request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        # A request may cost more than one unit (a bulk send: one per message), never more than the budget.
        cost = view.throttle_cost(request) if hasattr(view, "throttle_cost") else 1
        granted, self._wait = token_bucket.take(key, per_second=self.num_requests / self.duration,
                                                capacity=self.num_requests, wanted=cost, all_or_none=True)
        return granted > 0

    def wait(self) -> float | None:
        return getattr(self, "_wait", None) or None


def _whole_number_param(request: Request, name: str) -> int | None:
    """A query parameter that must be a whole number from 1 up when given: anything else is a 400 naming it,
    never silently the default (a typo in `limit` would otherwise look like a short last page)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise exceptions.ValidationError({name: [_("Use a whole number from 1 up.")]})
    return int(raw)


class StrictLimitMixin:
    """`limit` is a whole number from 1 up (400 otherwise); above the maximum it is cut to the maximum."""

    def get_page_size(self, request: Request) -> int:
        size = _whole_number_param(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = f"Results per page: default {self.page_size}, at most {self.max_page_size}."
        return parameters


class PageLimitPagination(StrictLimitMixin, PageNumberPagination):
    """`?page=N&limit=M` (default 30, at most 100), as the integrators' seed API does.

    A malformed `page` or `limit` is a 400; a page past the last one is a 404."""

    page_size = 30
    page_size_query_param = "limit"
    max_page_size = 100

    def get_page_number(self, request: Request, paginator) -> int | str:
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return _whole_number_param(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = "Page number from 1; a page past the last one is a 404."
        return parameters
