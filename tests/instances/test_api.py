"""REST API /api/v1/instances against the simulator: every route, every error, and company isolation."""

from __future__ import annotations

import base64

import pytest

from instances.models import GatewayServer, Instance, InstanceState
from tenants import realtime
from tests.factories import make_api_key
from tests.instances.conftest import create_instance
from tests.simulator.fixtures import free_port

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def sim_names(simulator) -> set[str]:
    return {row["name"] for row in simulator.control("GET", "instances")}


def test_create_returns_id_name_token_state(api_a, gateway_server, simulator):
    response = api_a.post("/api/v1/instances", {"name": "erp", "label": "ERP line"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    instance = Instance.all_companies.get()
    assert body["id"] == str(instance.public_id)
    assert (body["name"], body["label"], body["state"]) == ("erp", "ERP line", "created")
    assert body["token"] and body["token"] == instance.token
    assert "alpha_erp" in sim_names(simulator)


def test_duplicate_name_is_409(api_a, instance_a):
    response = api_a.post("/api/v1/instances", {"name": "sales"}, format="json")
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 409


def test_invalid_name_is_400_with_the_field(api_a, gateway_server, simulator):
    response = api_a.post("/api/v1/instances", {"name": "Bad Name"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]
    assert sim_names(simulator) == set()


def test_limit_reached_is_403_with_the_limit(api_a, company_a, gateway_server, simulator):
    company_a.max_instances = 0
    company_a.save()
    response = api_a.post("/api/v1/instances", {"name": "erp"}, format="json")
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    assert response.json()["limit"] == 0
    assert not Instance.all_companies.exists()


def test_gateway_unreachable_is_503_with_retry_after(api_a, gateway_server, simulator):
    GatewayServer.objects.update(base_url=f"http://127.0.0.1:{free_port()}")
    response = api_a.post("/api/v1/instances", {"name": "erp"}, format="json")
    assert response.status_code == 503 and response["Content-Type"] == PROBLEM
    assert int(response["Retry-After"]) > 0
    assert not Instance.all_companies.exists()


def test_gateway_refusal_is_422_with_its_message(api_a, instance_a, simulator):
    simulator.fail_next(instance_a.gateway_name, mode="refused", scope="any", message="Instance is busy")
    response = api_a.post(f"/api/v1/instances/{instance_a.public_id}/connect", {}, format="json")
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert "busy" in response.json()["detail"]


def test_list_filters_by_state_and_shows_number_and_profile(api_a, company_a, gateway_server, simulator):
    sales = create_instance(company_a, "sales")
    create_instance(company_a, "support")
    Instance.all_companies.filter(pk=sales.pk).update(state="open", phone_number="5511900001111",
                                                      profile_name="Alpha")
    rows = api_a.get("/api/v1/instances").json()["results"]
    assert [row["name"] for row in rows] == ["sales", "support"]
    assert (rows[0]["phone_number"], rows[0]["profile_name"], rows[0]["state"]) == ("5511900001111", "Alpha", "open")
    assert [row["name"] for row in api_a.get("/api/v1/instances?state=open").json()["results"]] == ["sales"]
    assert api_a.get("/api/v1/instances?state=bogus").status_code == 400


def test_retrieve_and_state(api_a, instance_a):
    body = api_a.get(f"/api/v1/instances/{instance_a.public_id}").json()
    assert (body["id"], body["state"]) == (str(instance_a.public_id), "created")
    state = api_a.get(f"/api/v1/instances/{instance_a.public_id}/state").json()
    assert (state["state"], state["raw_state"]) == ("created", "close")


def test_connect_qr_png_scan_logout_restart_delete(api_a, instance_a, simulator):
    base = f"/api/v1/instances/{instance_a.public_id}"
    assert api_a.get(f"{base}/qr.png").status_code == 404
    connected = api_a.post(f"{base}/connect", {}, format="json").json()
    assert connected["state"] == "connecting" and connected["qr"].startswith("data:image/png;base64,")
    assert connected["expires_at"]
    png = api_a.get(f"{base}/qr.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content == base64.b64decode(connected["qr"].split(",", 1)[1])
    assert png["Cache-Control"] == "no-store"
    paired = api_a.post(f"{base}/connect", {"number": "5511999990000"}, format="json").json()
    assert paired["pairing_code"]
    simulator.scan(instance_a.gateway_name, number="5511999990000")
    from instances.tasks import poll_instance

    poll_instance.apply(args=[instance_a.company_id, instance_a.pk])
    assert api_a.get(f"{base}/state").json()["state"] == "open"
    assert api_a.get(f"{base}/qr.png").status_code == 404
    assert api_a.post(f"{base}/restart", format="json").status_code == 200
    logged_out = api_a.post(f"{base}/logout", format="json").json()
    assert logged_out["state"] == "close"
    assert api_a.delete(base).status_code == 204
    assert not Instance.all_companies.exists()
    assert instance_a.gateway_name not in sim_names(simulator)


def test_delete_with_the_gateway_down_is_503_and_keeps_it(api_a, instance_a, simulator):
    GatewayServer.objects.update(base_url=f"http://127.0.0.1:{free_port()}")
    response = api_a.delete(f"/api/v1/instances/{instance_a.public_id}")
    assert response.status_code == 503 and "Retry-After" in response
    assert Instance.all_companies.filter(pk=instance_a.pk).exists()


def test_a_read_only_key_cannot_change_instances(company_a, instance_a):
    from rest_framework.test import APIClient

    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(company=company_a, scopes=['read']).secret}")
    assert reader.get("/api/v1/instances").status_code == 200
    assert reader.post(f"/api/v1/instances/{instance_a.public_id}/logout").status_code == 403
    assert reader.delete(f"/api/v1/instances/{instance_a.public_id}").status_code == 403


ROUTES = [
    ("get", ""), ("get", "/state"), ("get", "/qr.png"), ("post", "/connect"), ("post", "/restart"),
    ("post", "/logout"), ("delete", ""), ("patch", ""), ("put", ""),
]


def test_another_companys_instance_is_404_everywhere_and_untouched(api_a, api_b, company_a, instance_a, simulator,
                                                                   listener, django_capture_on_commit_callbacks):
    api_a.post(f"/api/v1/instances/{instance_a.public_id}/connect", {}, format="json")
    listener.join(company_a, "instances").join(company_a, realtime.topic_for("instance", instance_a.public_id))
    before = Instance.all_companies.filter(pk=instance_a.pk).values().get()
    remote_before = simulator.control("GET", f"instances/{instance_a.gateway_name}")["state"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for method, suffix in ROUTES:
            response = getattr(api_b, method)(f"/api/v1/instances/{instance_a.public_id}{suffix}", {}, format="json")
            assert response.status_code in (404, 405), (method, suffix, response.status_code)
            if method in ("get", "post", "delete"):
                assert response.status_code == 404 and response["Content-Type"] == PROBLEM, (method, suffix)
    assert callbacks == []
    assert Instance.all_companies.filter(pk=instance_a.pk).values().get() == before
    assert simulator.control("GET", f"instances/{instance_a.gateway_name}")["state"] == remote_before
    assert [row["id"] for row in api_b.get("/api/v1/instances").json()["results"]] == []
    assert listener.drain() == []
    assert Instance.all_companies.get(pk=instance_a.pk).state == InstanceState.CONNECTING


def test_create_with_a_chosen_token(api_a, gateway_server, simulator):
    token = "erp-chosen-token-0001"
    body = api_a.post("/api/v1/instances", {"name": "erp", "token": token}, format="json").json()
    assert body["token"] == token
    assert simulator.api("GET", "/instance/connectionState/alpha_erp", key=token).status_code == 200
    response = api_a.post("/api/v1/instances", {"name": "erp2", "token": "short"}, format="json")
    assert response.status_code == 400 and "token" in response.json()["errors"]



def test_connect_with_a_malformed_number_is_400(api_a, instance_a, simulator):
    response = api_a.post(f"/api/v1/instances/{instance_a.public_id}/connect", {"number": "12"}, format="json")
    assert response.status_code == 400 and "number" in response.json()["errors"]
    assert Instance.all_companies.get(pk=instance_a.pk).state == InstanceState.CREATED
