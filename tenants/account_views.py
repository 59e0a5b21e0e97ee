"""Log in, log out and the user's own profile."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.forms import LoginForm, ProfileForm
from tenants.services import profile_update


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(request.POST or None, initial={
        "first_name": user.first_name, "last_name": user.last_name, "email": user.email, "language": user.language,
    })
    if request.method == "POST" and form.is_valid():
        try:
            profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Profile saved."))
            return redirect("profile")
    return render(request, "tenants/profile.html", {"form": form})
