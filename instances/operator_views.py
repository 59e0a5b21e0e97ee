"""The operator's gateway servers: list with instance counts, add, edit, enable/disable, test connection."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from instances import selectors, services
from instances.forms import GatewayServerForm
from instances.models import GatewayServer
from tenants.operator_views import operator_only


def _server_or_404(server_id) -> GatewayServer:
    server = selectors.gateway_server_get(public_id=server_id)
    if server is None:
        raise Http404
    return server


@operator_only
def server_list(request: HttpRequest) -> HttpResponse:
    servers = [(server, services.gateway_server_hook_url(server)) for server in selectors.gateway_server_list()]
    return render(request, "instances/operator/servers.html", {"servers": servers})


@operator_only
@require_http_methods(["GET", "POST"])
def server_create(request: HttpRequest) -> HttpResponse:
    form = GatewayServerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.gateway_server_create(**form.cleaned_data)
        return redirect("servers:list")
    return render(request, "instances/operator/server_form.html", {"form": form}, status=400 if form.errors else 200)


@operator_only
@require_http_methods(["GET", "POST"])
def server_edit(request: HttpRequest, server_id) -> HttpResponse:
    server = _server_or_404(server_id)
    form = GatewayServerForm(request.POST or None, instance=server)
    if request.method == "POST" and form.is_valid():
        services.gateway_server_update(server=server, **form.cleaned_data)
        return redirect("servers:list")
    return render(request, "instances/operator/server_form.html", {"form": form, "server": server},
                  status=400 if form.errors else 200)


@operator_only
@require_POST
def server_toggle(request: HttpRequest, server_id) -> HttpResponse:
    server = _server_or_404(server_id)
    services.gateway_server_set_enabled(server=server, enabled=not server.enabled)
    return redirect("servers:list")


@operator_only
@require_POST
def server_test(request: HttpRequest, server_id) -> HttpResponse:
    services.gateway_server_check(server=_server_or_404(server_id))
    return redirect("servers:list")
