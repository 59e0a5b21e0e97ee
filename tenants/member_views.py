"""Company settings pages about people and keys: members, invitations, API keys."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from tenants import selectors, services
from tenants.access import CompanyRequest, company_member
from tenants.forms import ApiKeyForm, InvitationForm, MembershipRoleForm
from tenants.models import Membership, Role
from tenants.once import form_once_claim

# --- members -------------------------------------------------------------------------------------


def _error_text(error: PermissionDenied | ValidationError) -> str:
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


def _role_choices(actor: Membership) -> list[tuple[str, str]]:
    """The roles an actor may hand out: only owners grant the owner role."""
    return [choice for choice in Role.choices if choice[0] != Role.OWNER or actor.has_role(Role.OWNER)]


def _mark_manageable(actor: Membership, membership: Membership) -> Membership:
    """Decide here, not in the template, whether the actor gets controls on this member's row."""
    membership.manageable = actor.has_role(Role.ADMIN) and (
        membership.role != Role.OWNER or actor.has_role(Role.OWNER)
    )
    return membership


def _row_context(request: CompanyRequest, membership: Membership) -> dict:
    return {"company": request.company, "membership": _mark_manageable(request.membership, membership),
            "role_choices": _role_choices(request.membership)}


def _members_page(request: CompanyRequest, *, invite_form: InvitationForm | None = None) -> HttpResponse:
    actor, company = request.membership, request.company
    can_manage = actor.has_role(Role.ADMIN)
    return render(request, "tenants/members.html", {
        "company": company,
        "memberships": [_mark_manageable(actor, m) for m in selectors.membership_list(company=company)],
        "invitations": selectors.invitation_list_pending(company=company) if can_manage else [],
        "invite_form": (invite_form or InvitationForm(role_choices=_role_choices(actor))) if can_manage else None,
        "can_manage": can_manage,
        "role_choices": _role_choices(actor),
    }, status=400 if invite_form is not None and invite_form.errors else 200)


def _membership_or_404(request: CompanyRequest, membership_id) -> Membership:
    membership = selectors.membership_get_by_public_id(company=request.company, public_id=membership_id)
    if membership is None:
        raise Http404(_("Page not found"))
    return membership


def _after_member_change(request: CompanyRequest, membership: Membership) -> HttpResponse:
    """htmx: the row again plus the flash messages out of band; a plain form: back to the list."""
    if membership.pk == request.membership.pk:
        request.membership = membership  # the actor changed their own role: draw the row with the new one
    if request.htmx:
        return render(request, "tenants/members.html#member-update", _row_context(request, membership))
    return redirect("members", request.company.slug)


@company_member()
def member_list(request: CompanyRequest) -> HttpResponse:
    return _members_page(request)


@company_member(role=Role.ADMIN)
@require_POST
def membership_role(request: CompanyRequest, membership_id) -> HttpResponse:
    membership = _membership_or_404(request, membership_id)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
        return _after_member_change(request, membership)
    try:
        services.membership_change_role(company=request.company, actor=request.membership,
                                        membership=membership, role=form.cleaned_data["role"])
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _error_text(error))
        membership.refresh_from_db(fields=["role"])
    else:
        messages.success(request, _("%(person)s is now %(role)s.") % {
            "person": membership.user.email, "role": membership.get_role_display()})
    return _after_member_change(request, membership)


@company_member(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def membership_remove(request: CompanyRequest, membership_id) -> HttpResponse:
    """GET asks for confirmation (the no-JavaScript path); POST removes."""
    membership = _membership_or_404(request, membership_id)
    if request.method == "GET":
        return render(request, "tenants/member_remove.html", _row_context(request, membership))
    leaving = membership.pk == request.membership.pk  # read before the delete clears the pk
    try:
        services.membership_remove(company=request.company, actor=request.membership, membership=membership)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _error_text(error))
        return _after_member_change(request, membership)
    messages.success(request, _("%(person)s was removed from %(company)s.") % {
        "person": membership.user.email, "company": request.company.name})
    if leaving:  # one left the company oneself: nothing to show here any more
        return HttpResponseClientRedirect(reverse("home")) if request.htmx else redirect("home")
    if request.htmx:
        return render(request, "tenants/members.html#feedback", {})
    return redirect("members", request.company.slug)


# --- invitations ---------------------------------------------------------------------------------


@company_member(role=Role.ADMIN)
@require_POST
def invitation_create(request: CompanyRequest) -> HttpResponse:
    form = InvitationForm(request.POST, role_choices=_role_choices(request.membership))
    if form.is_valid():
        try:
            issued = services.invitation_create(company=request.company, invited_by=request.user,
                                                email=form.cleaned_data["email"], role=form.cleaned_data["role"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Invitation sent to %(email)s. You can also share this link with them: "
                                        "%(url)s") % {"email": issued.invitation.email, "url": issued.url})
            return redirect("members", request.company.slug)
    return _members_page(request, invite_form=form)


@company_member(role=Role.ADMIN)
@require_POST
def invitation_revoke(request: CompanyRequest, invitation_id) -> HttpResponse:
    invitation = selectors.invitation_get(company=request.company, public_id=invitation_id)
    if invitation is None:
        raise Http404(_("Page not found"))
    services.invitation_revoke(company=request.company, invitation=invitation)
    messages.success(request, _("The invitation to %(email)s was revoked.") % {"email": invitation.email})
    return redirect("members", request.company.slug)


# --- API keys ------------------------------------------------------------------------------------


@company_member(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def api_key_list(request: CompanyRequest) -> HttpResponse:
    """The keys, and a form to create one; a new key's secret appears once, in the POST's response."""
    form = ApiKeyForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid() and not form_once_claim(request):
        messages.info(request, _("That form had already been sent: the key was created then, and its secret "
                                 "shown once. Create another key if you did not copy it."))
        return redirect("api_keys", request.company.slug)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_key_create(company=request.company, name=form.cleaned_data["name"],
                                             scopes=form.cleaned_data["scopes"], created_by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            form = ApiKeyForm()
    response = render(request, "tenants/api_keys.html", {
        "company": request.company, "api_keys": selectors.api_key_list(company=request.company),
        "form": form, "issued": issued,
    }, status=400 if form.errors else 200)
    add_never_cache_headers(response)  # the one page that ever holds a key's secret: keep it out of caches
    return response


@company_member(role=Role.ADMIN)
@require_POST
def api_key_revoke(request: CompanyRequest, api_key_id) -> HttpResponse:
    api_key = selectors.api_key_get(company=request.company, public_id=api_key_id)
    if api_key is None:
        raise Http404(_("Page not found"))
    services.api_key_revoke(company=request.company, api_key=api_key)
    messages.success(request, _("The key “%(name)s” was revoked; calls using it now get 401.") % {"name": api_key.name})
    return redirect("api_keys", request.company.slug)


@company_member()
@require_POST
def availability(request: CompanyRequest) -> HttpResponse:
    """The member's own switch for automatic assignment; back to the page it was used on (same site only)."""
    available = request.POST.get("available") == "1"
    services.membership_set_available(company=request.company, membership=request.membership, available=available)
    messages.success(request, _("You are available for new conversations.") if available
                     else _("You are away: automatic assignment gives you no new conversations."))
    back = request.POST.get("next", "")
    # Only a path of this site: redirect() would read anything else ("inbox", "-1") as a view name and fail.
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("company_overview", args=[request.company.slug])
    return HttpResponseRedirect(back)
