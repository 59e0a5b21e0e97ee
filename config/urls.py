"""Top-level routes: pages, the company prefix, the operator area, the API, health."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from config import ops
from contacts.api import router as contacts_router
from instances.api import router as instances_router
from integrations.api import router as integrations_router
from messaging.api import router as messaging_router
from tenants.api import MeView
from tenants.api import router as tenants_router
from tenants.problems import problem_response

company_prefix = "c/<slug:company_slug>/"

api_v1_patterns = [
    path("me", MeView.as_view(), name="me"),
    *tenants_router.urls,
    *instances_router.urls,
    *contacts_router.urls,
    *messaging_router.urls,
    *integrations_router.urls,
    # Anything else under /api/v1/ is a problem+json 404, in development (DEBUG) too, whatever the method:
    # csrf_exempt like every DRF view, or a POST there would get Django's HTML 403 CSRF page.
    re_path(r"^.*$", csrf_exempt(lambda request: problem_response(404, "Not found.", code="not-found"))),
]

def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico before (or without) reading the pages' <link rel="icon">: the same SVG."""
    return HttpResponseRedirect(static("recado/favicon.svg"), status=301)


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1_patterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
         name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema", authentication_classes=[],
                                                     permission_classes=[AllowAny]), name="api_docs"),
    path(company_prefix + "instances/", include("instances.urls")),
    path(company_prefix + "instances/<uuid:instance_id>/platforms/", include("integrations.platform_urls")),
    path(company_prefix + "instances/<uuid:instance_id>/automatic-replies/", include("messaging.auto_reply_urls")),
    path("hooks/evolution/", include("instances.hook_urls")),
    path("operator/servers/", include("instances.operator_urls")),
    path(company_prefix + "inbox/", include("messaging.urls")),
    path(company_prefix + "contacts/", include("contacts.urls")),
    path(company_prefix + "settings/webhooks/", include("integrations.urls")),
    path("", include("tenants.urls")),
]


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    if _is_api(request):
        return problem_response(404, "Not found.", code="not-found")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception, template_name="404.html")


def handler500(request):
    if _is_api(request):
        return problem_response(500, "An unexpected error occurred; it has been logged.", code="server-error")
    from django.views.defaults import server_error

    return server_error(request, template_name="500.html")
