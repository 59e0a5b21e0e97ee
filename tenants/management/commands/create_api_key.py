"""Issue an API key for a company from a provisioning script; the secret is printed once."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants import services
from tenants.models import ApiKey
from tenants.selectors import company_get_by_slug


class Command(BaseCommand):
    help = "Create an API key for a company and print its secret (shown once, stored hashed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--company", required=True, help="the company's slug")
        parser.add_argument("--name", required=True, help="what will use the key, e.g. 'ERP'")
        scopes = ",".join(choice.value for choice in ApiKey.Scope)
        parser.add_argument("--scopes", default=scopes, help=f"comma-separated scopes (default: {scopes})")

    def handle(self, *args, company: str, name: str, scopes: str, **options) -> None:
        found = company_get_by_slug(slug=company)
        if found is None:
            raise CommandError(f"No company with slug {company!r}.")
        scope_list = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        if not scope_list:
            raise CommandError("Give at least one scope: " + ", ".join(choice.value for choice in ApiKey.Scope))
        try:
            issued = services.api_key_create(company=found, name=name, scopes=scope_list)
        except ValidationError as error:
            raise CommandError(" ".join(_messages(error))) from error
        scope_names = ", ".join(issued.api_key.scopes)
        self.stderr.write(f"API key {issued.api_key.prefix}… for {found.name}, scopes {scope_names}.")
        self.stderr.write("Store the secret now: it is shown only once.")
        self.stdout.write(issued.secret)


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [f"{field}: {message}" for field, messages in error.message_dict.items() for message in messages]
    return list(error.messages)
