"""Demo data for `make run`: an operator, the default gateway server, two companies with people, one API key.

Idempotent: what exists is left alone, so running it on every `make run` is safe. The logins
and the API key secret (stored hashed, so only seeding knows it) go to var/demo-credentials.json,
which `python -m config.banner` prints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from instances import services as instance_services
from instances.models import GatewayServer
from tenants import services
from tenants.models import ApiKey, Company, Role, User, hash_secret
from tenants.scoping import company_scope
from tenants.selectors import company_get_by_slug, membership_get

PASSWORD = "recado-demo"
OPERATOR = {"username": "admin", "email": "admin@recado.demo"}
COMPANIES = [("Mercearia Demo", "mercearia-demo"), ("Padaria Demo", "padaria-demo")]
# (company slug, e-mail, role): the Mercearia owner also works at the Padaria, so the switcher shows two companies.
PEOPLE = [
    ("mercearia-demo", "dono@mercearia.demo", Role.OWNER),
    ("mercearia-demo", "atendente@mercearia.demo", Role.AGENT),
    ("padaria-demo", "dona@padaria.demo", Role.OWNER),
    ("padaria-demo", "dono@mercearia.demo", Role.ADMIN),
]
API_KEY_COMPANY = "mercearia-demo"
GATEWAY_NAME = "simulator"


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


class Command(BaseCommand):
    help = "Create the demo operator, companies, people and API key (idempotent)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            self._operator()
            self._gateway_server()
            companies = {slug: self._company(name, slug) for name, slug in COMPANIES}
            for slug, email, role in PEOPLE:
                self._member(companies[slug], email, role)
            secret = self._api_key(companies[API_KEY_COMPANY])
        self._write_credentials(secret)
        self.stdout.write(f"Demo data ready; logins and API key in {credentials_path()}.")

    def _operator(self) -> None:
        users = get_user_model().objects
        if not users.filter(username=OPERATOR["username"]).exists():
            users.create_superuser(password=PASSWORD, **OPERATOR)
            self.stdout.write(f"Created operator {OPERATOR['username']}.")

    def _gateway_server(self) -> None:
        """The gateway at EVOLUTION_URL (the bundled simulator under `make run`), so instances can be created."""
        if not GatewayServer.objects.filter(name=GATEWAY_NAME).exists():
            instance_services.gateway_server_create(
                name=GATEWAY_NAME, base_url=settings.EVOLUTION_URL, version=GatewayServer.Version.V2,
                api_key=settings.EVOLUTION_API_KEY, capacity=100,
            )
            self.stdout.write(f"Registered gateway server {GATEWAY_NAME} at {settings.EVOLUTION_URL}.")

    def _company(self, name: str, slug: str) -> Company:
        company = company_get_by_slug(slug=slug)
        if company is None:
            company = services.company_create(name=name, slug=slug)
            self.stdout.write(f"Created company {name} (/c/{slug}/).")
        return company

    def _member(self, company: Company, email: str, role: str) -> None:
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is not None:
            with company_scope(company):
                if membership_get(company=company, user=user) is not None:
                    return
        if role == Role.OWNER:
            services.company_owner_create(company=company, email=email, password=PASSWORD)
        else:
            user = user or get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
            services.member_add(company=company, user=user, role=role)
        self.stdout.write(f"Added {email} to {company.name} as {role}.")

    def _api_key(self, company: Company) -> str:
        """Keep the key recorded in the credentials file while it still works; otherwise issue a new one."""
        secret = self._read_credentials().get("api_key", {}).get("secret", "")
        if secret:
            with company_scope(company):
                if ApiKey.objects.filter(secret_hash=hash_secret(secret), revoked_at=None).exists():
                    return secret
        owner = User.objects.filter(email__iexact=PEOPLE[0][1]).first()
        issued = services.api_key_create(company=company, name="Demo integration", created_by=owner)
        self.stdout.write(f"Created API key {issued.api_key.prefix}… for {company.name}.")
        return issued.secret

    def _read_credentials(self) -> dict:
        try:
            return json.loads(credentials_path().read_text())
        except (OSError, ValueError):
            return {}

    def _write_credentials(self, secret: str) -> None:
        names = dict((slug, name) for name, slug in COMPANIES)
        roles: dict[str, list[str]] = {}
        for slug, email, role in PEOPLE:
            roles.setdefault(email, []).append(f"{role} of {names[slug]}")
        logins = [{"who": "platform operator", "login": OPERATOR["username"], "password": PASSWORD}]
        logins += [{"who": ", ".join(what), "login": email, "password": PASSWORD} for email, what in roles.items()]
        data = {"logins": logins, "api_key": {"company": API_KEY_COMPANY, "secret": secret}}
        path = credentials_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: the file holds a working API key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle, indent=2)
