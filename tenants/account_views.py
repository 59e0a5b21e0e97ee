"""Log in, log out, accepting an invitation and the user's own profile."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from tenants import selectors, services
from tenants.forms import InvitationAcceptForm, LoginForm, ProfileForm
from tenants.models import Invitation

LOGIN_BACKEND = "tenants.backends.UsernameOrEmailBackend"


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(request.POST or None, initial={
        "first_name": user.first_name, "last_name": user.last_name, "email": user.email, "language": user.language,
        "single_key_shortcuts": user.single_key_shortcuts,
    })
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # Said in the language the next page is drawn in, which may be the one just chosen.
            with translation.override(user.language or translation.get_language_from_request(request)):
                messages.success(request, _("Profile saved."))
            return redirect("profile")
    return render(request, "tenants/profile.html", {"form": form})


def _joined(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    messages.success(request, _("Welcome to %(company)s!") % {"company": invitation.company.name})
    return redirect("company_overview", invitation.company.slug)


def _accept_as_logged_in(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    """Someone already logged in: a "Join" button, if the invitation was sent to their address."""
    context = {"invitation": invitation, "email_mismatch": request.user.email.lower() != invitation.email.lower()}
    if request.method == "POST" and not context["email_mismatch"]:
        try:
            services.invitation_accept(token=token, user=request.user)
        except ValidationError as error:
            context["error"] = " ".join(error.messages)
        else:
            return _joined(request, invitation)
    return render(request, "tenants/invitation_accept.html", context, status=400 if "error" in context else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the invitation e-mail: set a password and join, or join with the account one has."""
    invitation = services.invitation_by_token(token=token)
    if invitation is None:  # unknown, expired, revoked or already used: one message for all
        return render(request, "tenants/invitation_invalid.html", status=404)
    if request.user.is_authenticated:
        return _accept_as_logged_in(request, token, invitation)
    if selectors.user_email_taken(email=invitation.email):
        return render(request, "tenants/invitation_accept.html", {"invitation": invitation, "account_exists": True})
    form = InvitationAcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.invitation_accept(token=token, user=None, password=form.cleaned_data["password1"],
                                                    username=form.cleaned_data["username"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, membership.user, backend=LOGIN_BACKEND)
            return _joined(request, invitation)
    return render(request, "tenants/invitation_accept.html", {"invitation": invitation, "form": form},
                  status=400 if form.errors else 200)
