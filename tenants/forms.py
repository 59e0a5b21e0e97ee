"""Forms of the tenants app: they parse and validate input; services do the writing."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from tenants.models import Company, Role


class LoginForm(AuthenticationForm):
    """Username or e-mail; refuses people whose every company is suspended."""

    username = forms.CharField(label=_("Username or e-mail"), max_length=254,
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}))

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user.is_staff:
            return
        from tenants.selectors import user_memberships

        memberships = list(user_memberships(user=user))
        if memberships and not any(membership.company.is_active for membership in memberships):
            raise forms.ValidationError(
                _("Your company is suspended. Contact the platform operator to reactivate it."), code="suspended"
            )


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"))
    language = forms.ChoiceField(label=_("Language"), choices=get_user_model().Language.choices, required=False)


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "slug", "max_instances", "max_members"]


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.AGENT)
