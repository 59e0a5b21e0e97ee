"""instance.qr is told once per QR: the gateway posts QRCODE_UPDATED for the QR our connect call already
returned and stored, and that repeat is not a new QR for the integrator."""

from __future__ import annotations

import copy
import json

import pytest
from django.test import Client

from instances import services
from instances.models import Instance
from integrations import services as integration_services
from integrations.models import WebhookEvent
from tenants.scoping import company_scope
from tests.instances.test_hooks import bodies, hook_path, process_pending

pytestmark = pytest.mark.django_db


def qr_events(company) -> list[dict]:
    with company_scope(company):
        return [event.payload["data"] for event in WebhookEvent.objects.filter(type="instance.qr").order_by("pk")]


def test_the_gateway_repeating_the_connect_qr_is_not_a_second_qr(company_a, instance_a, simulator,
                                                                  django_capture_on_commit_callbacks):
    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")
        services.instance_connect(company=company_a, instance=instance_a)
    [first] = qr_events(company_a)
    [repeat] = bodies(simulator, instance_a, "QRCODE_UPDATED")
    assert repeat["data"]["qrcode"]["code"] == first["qr_code"]  # the same QR, posted by the gateway
    newer = copy.deepcopy(repeat)
    newer["data"]["qrcode"]["code"] = first["qr_code"] + "-next"
    newer["date_time"] = repeat["date_time"]  # same moment: only the QR differs
    path = hook_path(simulator, instance_a)
    for body in (repeat, newer):
        with django_capture_on_commit_callbacks():
            assert Client().post(path, json.dumps(body), content_type="application/json").status_code == 200
    process_pending(django_capture_on_commit_callbacks)
    told = qr_events(company_a)
    assert [(event["qr_code"], event["count"]) for event in told] == [
        (first["qr_code"], 1), (first["qr_code"] + "-next", 2)]
    assert Instance.all_companies.get(pk=instance_a.pk).qr_count == 2


def test_the_qr_png_answers_a_client_that_accepts_only_images(company_a, instance_a, api_a, simulator):
    """GET /instances/{id}/qr.png with `Accept: image/png` was a 406 (the API renders JSON only), and its 404 too;
    a download answers whatever the client accepts, its errors still as problem+json."""
    base = f"/api/v1/instances/{instance_a.public_id}"
    none_yet = api_a.get(f"{base}/qr.png", HTTP_ACCEPT="image/png")
    assert none_yet.status_code == 404 and none_yet["Content-Type"] == "application/problem+json"
    api_a.post(f"{base}/connect", {}, format="json")
    png = api_a.get(f"{base}/qr.png", HTTP_ACCEPT="image/png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
