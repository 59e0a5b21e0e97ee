"""Inbound gateway webhooks: the events the simulator really emitted, posted to our hook URLs."""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client

from config.celery import app
from instances import services
from instances.models import GatewayServer, InboundEvent, Instance, InstanceState, InstanceStateChange
from instances.reasons import Reason
from instances.tasks import process_inbound_event
from tenants import realtime
from tenants.scoping import company_scope
from tests.instances.conftest import create_instance

pytestmark = pytest.mark.django_db


def hook_path(simulator, instance: Instance) -> str:
    """Our per-instance hook path, read from the webhook we configured on the gateway."""
    url = simulator.control("GET", f"instances/{instance.gateway_name}")["webhook"]["url"]
    return "/hooks/evolution/" + url.split("/hooks/evolution/", 1)[1]


def bodies(simulator, instance: Instance, *names: str) -> list[dict]:
    return [event["body"] for event in simulator.events(instance.gateway_name)
            if not names or event["config_name"] in names]


def post(path: str, body: object, capture) -> tuple[int, dict, int]:
    """POST like the gateway (no session, no CSRF token); returns status, JSON and tasks enqueued on commit."""
    with capture() as callbacks:
        response = Client(enforce_csrf_checks=True).post(path, json.dumps(body), content_type="application/json")
    answer = response.json() if response["Content-Type"] == "application/json" else {}
    return response.status_code, answer, len(callbacks)


def process_pending(capture) -> list[str]:
    """Run the processing task for every stored event, oldest first, publishing after commit."""
    results = []
    for company_id, event_id in InboundEvent.all_companies.order_by("pk").values_list("company_id", "pk"):
        with capture(execute=True):
            results.append(process_inbound_event.apply(args=[company_id, event_id]).get())
    return results


def refreshed(instance: Instance) -> Instance:
    return Instance.all_companies.get(pk=instance.pk)


def connect_and_scan(company, instance, simulator, number="5511977776666") -> None:
    with company_scope(company):
        services.instance_connect(company=company, instance=instance)
    simulator.scan(instance.gateway_name, number=number, profile_name="Alpha Foods")


def test_qr_and_connection_events_move_the_state_live(company_a, instance_a, simulator, listener,
                                                      django_capture_on_commit_callbacks):
    listener.join(company_a, "instances").join(company_a, realtime.topic_for("instance", instance_a.public_id))
    connect_and_scan(company_a, instance_a, simulator)
    path = hook_path(simulator, instance_a)
    for body in bodies(simulator, instance_a, "QRCODE_UPDATED", "CONNECTION_UPDATE"):
        status, answer, enqueued = post(path, body, django_capture_on_commit_callbacks)
        assert (status, answer, enqueued) == (200, {"status": "stored"}, 1)
    process_pending(django_capture_on_commit_callbacks)
    instance = refreshed(instance_a)
    assert (instance.state, instance.phone_number, instance.profile_name) == ("open", "5511977776666", "Alpha Foods")
    pushed = "".join(listener.drain())
    assert 'data-testid="connected-as"' in pushed and "+5511977776666" in pushed
    assert 'data-state="open"' in pushed


def test_duplicates_and_replays_change_nothing(company_a, instance_a, simulator,
                                               django_capture_on_commit_callbacks):
    connect_and_scan(company_a, instance_a, simulator)
    path = hook_path(simulator, instance_a)
    opened = bodies(simulator, instance_a, "CONNECTION_UPDATE")[-1]
    assert post(path, opened, django_capture_on_commit_callbacks)[:2] == (200, {"status": "stored"})
    assert post(path, opened, django_capture_on_commit_callbacks) == (200, {"status": "duplicate"}, 0)
    assert InboundEvent.all_companies.count() == 1
    assert process_pending(django_capture_on_commit_callbacks) == ["processed"]
    changes = InstanceStateChange.all_companies.filter(instance=instance_a).count()
    # The task delivered twice (at-least-once) and the gateway replaying the same body: no effect.
    assert process_pending(django_capture_on_commit_callbacks) == ["skipped"]
    assert post(path, opened, django_capture_on_commit_callbacks)[1] == {"status": "duplicate"}
    assert InstanceStateChange.all_companies.filter(instance=instance_a).count() == changes


def test_an_older_event_arriving_late_is_ignored(company_a, instance_a, simulator,
                                                 django_capture_on_commit_callbacks):
    connect_and_scan(company_a, instance_a, simulator)
    path = hook_path(simulator, instance_a)
    opened = bodies(simulator, instance_a, "CONNECTION_UPDATE")[-1]
    stale = copy.deepcopy(opened)
    stale["data"].update(state="connecting")
    stale["date_time"] = (datetime.fromisoformat(opened["date_time"]) - timedelta(seconds=5)).isoformat()
    post(path, opened, django_capture_on_commit_callbacks)
    post(path, stale, django_capture_on_commit_callbacks)
    assert process_pending(django_capture_on_commit_callbacks) == ["processed", "ignored"]
    assert refreshed(instance_a).state == InstanceState.OPEN


def test_by_events_suffix_names_the_event(company_a, instance_a, simulator, django_capture_on_commit_callbacks):
    connect_and_scan(company_a, instance_a, simulator)
    opened = dict(bodies(simulator, instance_a, "CONNECTION_UPDATE")[-1])
    del opened["event"]
    path = hook_path(simulator, instance_a) + "connection-update"
    assert post(path, opened, django_capture_on_commit_callbacks)[:2] == (200, {"status": "stored"})
    assert InboundEvent.all_companies.get().event == "CONNECTION_UPDATE"
    process_pending(django_capture_on_commit_callbacks)
    assert refreshed(instance_a).state == InstanceState.OPEN


def test_logout_from_the_phone_closes_the_instance(company_a, instance_a, simulator,
                                                   django_capture_on_commit_callbacks):
    connect_and_scan(company_a, instance_a, simulator)
    simulator.control("POST", f"instances/{instance_a.gateway_name}/disconnect", {"reason": 401})
    path = hook_path(simulator, instance_a)
    for body in bodies(simulator, instance_a):
        post(path, body, django_capture_on_commit_callbacks)
    process_pending(django_capture_on_commit_callbacks)
    instance = refreshed(instance_a)
    assert instance.state == InstanceState.CLOSE
    assert instance.state_reason in (Reason.LOGGED_OUT, Reason.CONNECTION_CLOSED)


def test_a_qr_after_the_deadline_expires_the_attempt(company_a, instance_a, simulator,
                                                     django_capture_on_commit_callbacks):
    with company_scope(company_a):
        services.instance_connect(company=company_a, instance=instance_a)
    Instance.all_companies.filter(pk=instance_a.pk).update(connect_deadline=datetime.now().astimezone())
    qr = bodies(simulator, instance_a, "QRCODE_UPDATED")[-1]
    post(hook_path(simulator, instance_a), qr, django_capture_on_commit_callbacks)
    process_pending(django_capture_on_commit_callbacks)
    instance = refreshed(instance_a)
    assert (instance.state, instance.state_reason) == ("close", Reason.QR_EXPIRED)


def test_message_events_are_stored_once_and_handed_on(company_a, instance_a, simulator,
                                                     django_capture_on_commit_callbacks):
    """Messages belong to the messaging app; here: stored raw, once, and queued for processing."""
    connect_and_scan(company_a, instance_a, simulator)
    simulator.inbound(instance_a.gateway_name, **{"from": "5511955554444", "text": "Oi"})
    upsert = bodies(simulator, instance_a, "MESSAGES_UPSERT")[-1]
    path = hook_path(simulator, instance_a)
    assert post(path, upsert, django_capture_on_commit_callbacks) == (200, {"status": "stored"}, 1)
    assert post(path, upsert, django_capture_on_commit_callbacks) == (200, {"status": "duplicate"}, 0)
    event = InboundEvent.all_companies.get()
    assert (event.event, event.status, event.payload, event.instance_id) == (
        "MESSAGES_UPSERT", "pending", upsert, instance_a.pk)


def test_unknown_secret_is_404_and_stores_nothing(instance_a, simulator, django_capture_on_commit_callbacks):
    status, _, enqueued = post("/hooks/evolution/not-a-secret/", {"event": "connection.update"},
                               django_capture_on_commit_callbacks)
    assert (status, enqueued) == (404, 0)
    status, _, _ = post("/hooks/evolution/server/not-a-secret/", {"instance": instance_a.gateway_name},
                        django_capture_on_commit_callbacks)
    assert status == 404
    assert not InboundEvent.all_companies.exists()


def test_bad_bodies_are_400(instance_a, simulator, django_capture_on_commit_callbacks):
    path = hook_path(simulator, instance_a)
    response = Client().post(path, "not json", content_type="application/json")
    assert response.status_code == 400
    assert post(path, ["a list"], django_capture_on_commit_callbacks)[0] == 400
    assert Client().get(path).status_code == 405


def test_server_hook_routes_by_name_within_its_server_only(company_a, company_b, gateway_server, instance_a,
                                                          simulator, django_capture_on_commit_callbacks):
    other = services.gateway_server_create(name="other", base_url=simulator.base_url, version="v2",
                                           api_key=simulator.api_key, capacity=5)
    services.gateway_server_set_enabled(server=gateway_server, enabled=False)
    on_other = create_instance(company_b, "sales")
    assert on_other.server == other
    connect_and_scan(company_a, instance_a, simulator)
    opened = bodies(simulator, instance_a, "CONNECTION_UPDATE")[-1]
    path = f"/hooks/evolution/server/{gateway_server.hook_secret}/"
    assert post(path, opened, django_capture_on_commit_callbacks)[:2] == (200, {"status": "stored"})
    assert InboundEvent.all_companies.get().instance_id == instance_a.pk
    # B's instance lives on the other server: naming it on this server's URL routes nowhere.
    foreign = {**opened, "instance": on_other.gateway_name, "date_time": "2030-01-01T00:00:00.000Z"}
    assert post(path, foreign, django_capture_on_commit_callbacks) == (200, {"status": "ignored"}, 0)
    unknown = {**opened, "instance": "nobody"}
    assert post(path, unknown, django_capture_on_commit_callbacks) == (200, {"status": "ignored"}, 0)
    assert post(path + "connection-update", {**opened, "x": 1}, django_capture_on_commit_callbacks)[1] == {
        "status": "stored"}
    assert InboundEvent.all_companies.filter(instance=on_other).count() == 0


def test_the_company_never_comes_from_the_payload(company_a, company_b, instance_a, instance_b, simulator, listener,
                                                  django_capture_on_commit_callbacks):
    """Company B's hook URL with a body naming A's instance only ever touches B's instance."""
    listener.join(company_a, "instances").join(company_a, realtime.topic_for("instance", instance_a.public_id))
    connect_and_scan(company_a, instance_a, simulator)  # (its pushes never commit: nothing to drain)
    before = Instance.all_companies.filter(pk=instance_a.pk).values().get()
    a_events = bodies(simulator, instance_a, "QRCODE_UPDATED", "CONNECTION_UPDATE")
    for body in a_events:
        assert post(hook_path(simulator, instance_b), body, django_capture_on_commit_callbacks)[0] == 200
    assert {event.instance_id for event in InboundEvent.all_companies.all()} == {instance_b.pk}
    process_pending(django_capture_on_commit_callbacks)
    assert Instance.all_companies.filter(pk=instance_a.pk).values().get() == before
    assert listener.drain() == []


def test_oversized_hook_body_is_413(client, instance_a, simulator, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"event": "messages.upsert", "data": "x" * 200})
    response = client.post(hook_path(simulator, instance_a), body, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.django_db(transaction=True)
def test_hook_to_state_through_the_real_broker_and_worker(company_a, gateway_server, simulator):
    instance = create_instance(company_a, "sales")
    connect_and_scan(company_a, instance, simulator)
    opened = bodies(simulator, instance, "CONNECTION_UPDATE")[-1]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        response = Client().post(hook_path(simulator, instance), json.dumps(opened), content_type="application/json")
        assert response.status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and refreshed(instance).state != InstanceState.OPEN:
            time.sleep(0.1)
    assert refreshed(instance).state == InstanceState.OPEN
    assert InboundEvent.all_companies.get().status == "processed"
    assert GatewayServer.objects.count() == 1
