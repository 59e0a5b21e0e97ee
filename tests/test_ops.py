"""Health endpoints: /healthz says the process lives, /readyz names whichever dependency is down."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


def closed_port_url(scheme: str, path: str = "") -> str:
    """A URL on a loopback port nothing listens on (bound and released a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}{path}"


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ok_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = closed_port_url("redis", "/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"].startswith("down: ")
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = closed_port_url("redis", "/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]


def test_readyz_names_the_database_when_it_is_down():
    """A fresh process whose DATABASE_URL points at a closed port: the database check fails, the others pass."""
    script = (
        "import django, json; django.setup(); from django.test import Client; "
        "response = Client().get('/readyz'); print(json.dumps([response.status_code, response.json()]))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": closed_port_url("postgres", "/recado")}
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    status, body = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 503
    assert body["down"] == ["database"]
    assert body["checks"]["redis"] == "ok"


# --- make run's demo data and the provisioning command ------------------------------------------


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_its_api_key_works(settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command
    from rest_framework.test import APIClient

    from instances.models import GatewayServer
    from tenants.models import ApiKey, Company, Membership, User

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
    counts = (User.objects.count(), Company.objects.count(), Membership.all_companies.count(),
              ApiKey.all_companies.count(), GatewayServer.objects.count())
    call_command("seed_demo", stdout=StringIO())

    assert (User.objects.count(), Company.objects.count(), Membership.all_companies.count(),
            ApiKey.all_companies.count(), GatewayServer.objects.count()) == counts == (4, 2, 4, 1, 1)
    assert json.loads((tmp_path / "demo-credentials.json").read_text()) == credentials
    assert (tmp_path / "demo-credentials.json").stat().st_mode & 0o077 == 0
    assert User.objects.get(username="admin").is_superuser
    owner = User.objects.get(email="dono@mercearia.demo")
    assert owner.check_password(credentials["logins"][1]["password"])
    assert sorted(Membership.all_companies.filter(user=owner).values_list("company__slug", "role")) == [
        ("mercearia-demo", "owner"), ("padaria-demo", "admin"),
    ]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials['api_key']['secret']}")
    assert api.get("/api/v1/me").json()["company"]["slug"] == "mercearia-demo"


@pytest.mark.django_db
def test_seed_demo_replaces_a_revoked_demo_key(settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from tenants.models import ApiKey

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    first = json.loads((tmp_path / "demo-credentials.json").read_text())["api_key"]["secret"]
    ApiKey.all_companies.update(revoked_at="2026-01-01T00:00:00Z")
    call_command("seed_demo", stdout=StringIO())
    second = json.loads((tmp_path / "demo-credentials.json").read_text())["api_key"]["secret"]
    assert second != first
    assert ApiKey.all_companies.filter(revoked_at=None).count() == 1


@pytest.mark.django_db
def test_create_api_key_prints_the_secret_once(company_a):
    from io import StringIO

    from django.core.management import call_command
    from rest_framework.test import APIClient

    out, err = StringIO(), StringIO()
    call_command("create_api_key", "--company", company_a.slug, "--name", "ERP", "--scopes", "read", stdout=out,
                 stderr=err)
    secret = out.getvalue().strip()
    assert secret.startswith("rk_")
    assert "shown only once" in err.getvalue()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/me").json()["api_key"]["scopes"] == ["read"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--company", "nobody", "--name", "ERP"], "No company with slug 'nobody'"),
        (["--company", "alpha", "--name", "ERP", "--scopes", "read,sudo"], "Unknown scopes: sudo"),
        (["--company", "alpha", "--name", "ERP", "--scopes", ","], "Give at least one scope"),
        (["--company", "alpha", "--name", "  "], "Give the key a name"),
    ],
)
def test_create_api_key_refuses_bad_input_clearly(company_a, arguments, message):
    from django.core.management import CommandError, call_command

    from tenants.models import ApiKey

    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", *arguments)
    assert ApiKey.all_companies.count() == 0


def _queues_of(command: list[str]) -> set[str]:
    """The queues a `celery ... worker -Q a,b` command consumes (none for other commands)."""
    if "worker" not in command:
        return set()
    return set(command[command.index("-Q") + 1].split(","))


def test_every_queue_has_a_worker_and_the_sends_one_of_their_own_in_compose_and_make_run():
    """docker-compose.yml and the Procfile of `make run` start, between their workers, a consumer for every queue
    the tasks use (a queue left out would keep its tasks forever: with `messaging` left out, nothing is sent), and
    the sends' queue alone on its own worker, so a campaign's drains never hold the children that apply customers'
    messages (the inbound drain, on `default`)."""
    import yaml

    from config.celery import app

    declared = {queue.name for queue in app.conf.task_queues}
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    compose_workers = [_queues_of(service.get("command", [])) for service in compose["services"].values()]
    procfile_workers = [_queues_of(line.split(":", 1)[1].split())
                        for line in (BASE_DIR / "Procfile").read_text().splitlines()
                        if line and not line.startswith("#")]
    for workers in (compose_workers, procfile_workers):
        consumers = [queues for queues in workers if queues]
        assert set().union(*consumers) == declared
        assert {"messaging"} in consumers and all("messaging" not in queues for queues in consumers
                                                  if queues != {"messaging"})
