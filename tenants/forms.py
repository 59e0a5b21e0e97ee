"""Forms of the tenants app: they parse and validate input; services do the writing."""

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tenants.models import ApiKey, Role

# A new account's e-mail address is its username when none is chosen, and Django keeps usernames in 150
# characters: a longer address would pass the form and fail in the database.
EMAIL_MAX_LENGTH = 150


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError shown on the form: each field's errors on that field (when the form has it),
    the rest above the form."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


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
    email = forms.EmailField(label=_("E-mail"), max_length=EMAIL_MAX_LENGTH)
    # Each language named in itself, so a person who cannot read the page's language still finds theirs.
    language = forms.ChoiceField(label=_("Language"), required=False, choices=[
        ("", _("Browser default")), ("en", "English"), ("pt-br", "Português (Brasil)")])
    single_key_shortcuts = forms.BooleanField(
        label=_("Single-key shortcuts"), required=False,
        help_text=_("In the inbox, “/” goes to the search and “?” lists the keyboard shortcuts. Turn them off if you "
                    "use speech input or press keys by accident; the shortcuts with Alt keep working."))


class CompanyForm(forms.Form):
    """Operator: a company's name, slug and limits (a plain form: the service does the saving)."""

    name = forms.CharField(label=_("Name"), max_length=120)
    slug = forms.SlugField(label=_("Slug"), max_length=60, required=False,
                           help_text=_("Used in the address of every page: /c/slug/. "
                                       "Leave empty to derive it from the name."))
    max_instances = forms.IntegerField(label=_("Max instances"), min_value=0, max_value=10_000, initial=5)
    max_members = forms.IntegerField(label=_("Max members"), min_value=1, max_value=10_000, initial=20)


class CompanySuspendForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False,
                             help_text=_("Shown to nobody but operators; keep it short."))


class _PasswordPairForm(forms.Form):
    """A new password typed twice and checked by AUTH_PASSWORD_VALIDATORS."""

    password1 = forms.CharField(label=_("Password"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text=password_validation.password_validators_help_text_html())
    password2 = forms.CharField(label=_("Password (again)"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def candidate_user(self):
        """An unsaved user carrying what the similarity validator compares the password with."""
        data = self.cleaned_data
        return get_user_model()(email=data.get("email", ""), username=data.get("username", ""))

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords do not match."))
        elif password1:
            try:
                password_validation.validate_password(password1, self.candidate_user())
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class CompanyOwnerForm(_PasswordPairForm):
    """Operator: the first owner of a company (a new account, or an existing one found by e-mail)."""

    email = forms.EmailField(label=_("E-mail"), max_length=EMAIL_MAX_LENGTH)
    username = forms.CharField(label=_("Username"), max_length=150, required=False,
                               validators=[get_user_model().username_validator],
                               help_text=_("Optional; the e-mail address works as username too."))

    field_order = ["email", "username", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An existing account keeps its own password, so the pair is left empty for it; the service asks for it
        # when the account is new.
        self.fields["password1"].required = self.fields["password2"].required = False

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("password1")) != bool(cleaned.get("password2")) and "password2" not in self.errors:
            self.add_error("password2", _("The two passwords do not match."))
        return cleaned


class InvitationAcceptForm(_PasswordPairForm):
    """A new person accepting an invitation: an optional username and a password."""

    username = forms.CharField(label=_("Username"), max_length=150, required=False,
                               validators=[get_user_model().username_validator],
                               help_text=_("Optional; you can always log in with your e-mail address."))

    field_order = ["username", "password1", "password2"]

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def candidate_user(self):
        return get_user_model()(email=self.email, username=self.cleaned_data.get("username", ""))


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=EMAIL_MAX_LENGTH)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.AGENT)

    def __init__(self, *args, role_choices: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if role_choices is not None:  # the roles the inviter may hand out
            self.fields["role"].choices = role_choices


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80,
                           help_text=_("Which system will use it, e.g. “ERP” or “Support bot”."))
    scopes = forms.MultipleChoiceField(label=_("Permissions"), choices=ApiKey.Scope.choices,
                                       initial=[choice.value for choice in ApiKey.Scope],
                                       widget=forms.CheckboxSelectMultiple)
