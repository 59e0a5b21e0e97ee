"""Instance use cases against the simulator over real HTTP: lifecycle, errors, polling, lease, recovery."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from instances import services
from instances.errors import (
    GatewayRejected,
    GatewayUnavailable,
    InstanceLimitReached,
    InstanceNameInvalid,
    InstanceNameTaken,
)
from instances.models import GatewayServer, InboundEvent, Instance, InstanceState, InstanceStateChange
from instances.reasons import Reason
from instances.tasks import poll_due_instances, poll_instance
from tenants import realtime
from tenants.scoping import company_scope
from tests.instances.conftest import create_instance
from tests.simulator.fixtures import free_port

pytestmark = pytest.mark.django_db


def sim_instance(simulator, instance: Instance) -> dict:
    return simulator.control("GET", f"instances/{instance.gateway_name}")


def sim_names(simulator) -> set[str]:
    return {row["name"] for row in simulator.control("GET", "instances")}


def take_down(server: GatewayServer) -> str:
    """Point the server at a port where nothing listens; returns the real URL to restore."""
    real = server.base_url
    GatewayServer.objects.filter(pk=server.pk).update(base_url=f"http://127.0.0.1:{free_port()}")
    return real


def bring_back(server: GatewayServer, url: str) -> None:
    GatewayServer.objects.filter(pk=server.pk).update(base_url=url)


def refreshed(instance: Instance) -> Instance:
    return Instance.all_companies.select_related("server").get(pk=instance.pk)


# --- create -----------------------------------------------------------------------------------------


def test_create_makes_the_row_and_the_gateway_instance_with_our_webhook(
    company_a, gateway_server, simulator, listener, django_capture_on_commit_callbacks, settings
):
    listener.join(company_a, "instances")
    with django_capture_on_commit_callbacks(execute=True):
        instance = create_instance(company_a, "sales", label="Sales desk")
    assert (instance.name, instance.gateway_name, instance.state) == ("sales", "alpha_sales", InstanceState.CREATED)
    assert instance.server == gateway_server
    remote = sim_instance(simulator, instance)
    assert remote["webhook"]["url"].startswith(f"{settings.PUBLIC_URL}/hooks/evolution/")
    assert remote["webhook"]["enabled"]
    assert refreshed(instance).token  # kept encrypted, readable by us
    pushed = listener.drain()
    assert any("Sales desk" in html and "beforeend:#instance-cards" in html for html in pushed)
    with company_scope(company_a):
        assert InstanceStateChange.objects.filter(instance=instance, reason=Reason.CREATED).count() == 1


def test_tokens_and_keys_are_encrypted_at_rest(company_a, instance_a, gateway_server):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM instances_instance WHERE id = %s", [instance_a.pk])
        (stored_token,) = cursor.fetchone()
        cursor.execute("SELECT api_key FROM instances_gatewayserver WHERE id = %s", [gateway_server.pk])
        (stored_key,) = cursor.fetchone()
    assert stored_token != refreshed(instance_a).token and stored_token.startswith("gAAAA")
    assert stored_key != gateway_server.api_key and stored_key.startswith("gAAAA")


def test_duplicate_name_in_the_company_is_refused(company_a, instance_a, simulator):
    with pytest.raises(InstanceNameTaken):
        create_instance(company_a, "sales")
    assert Instance.all_companies.filter(company=company_a).count() == 1


def test_same_name_in_two_companies_is_fine(company_a, company_b, instance_a, instance_b, simulator):
    assert {"alpha_sales", "bravo_sales"} <= sim_names(simulator)


def test_name_taken_on_the_gateway_leaves_nothing_behind(company_a, gateway_server, simulator):
    simulator.create("alpha_sales")
    with pytest.raises(InstanceNameTaken):
        create_instance(company_a, "sales")
    assert not Instance.all_companies.exists()


@pytest.mark.parametrize("name", ["", "Has Space", "-leading", "x" * 41, "acentuação"])
def test_invalid_names_are_refused_before_the_gateway(company_a, gateway_server, simulator, name):
    with pytest.raises(InstanceNameInvalid):
        create_instance(company_a, name)
    assert not Instance.all_companies.exists()
    assert sim_names(simulator) == set()


def test_company_limit_is_enforced(company_a, gateway_server, simulator):
    company_a.max_instances = 1
    company_a.save()
    create_instance(company_a, "one")
    with pytest.raises(InstanceLimitReached) as caught:
        create_instance(company_a, "two")
    assert caught.value.limit == 1
    assert sim_names(simulator) == {"alpha_one"}


def test_unreachable_gateway_on_create_leaves_no_row(company_a, gateway_server, simulator):
    take_down(gateway_server)
    with pytest.raises(GatewayUnavailable):
        create_instance(company_a, "sales")
    assert not Instance.all_companies.exists()


def test_no_enabled_server_is_unavailable(company_a, gateway_server, simulator):
    services.gateway_server_set_enabled(server=gateway_server, enabled=False)
    with pytest.raises(GatewayUnavailable):
        create_instance(company_a, "sales")


def test_new_instances_go_to_the_least_loaded_enabled_server_with_room(company_a, company_b, gateway_server,
                                                                       simulator):
    second = services.gateway_server_create(name="second", base_url=simulator.base_url, version="v2",
                                            api_key=simulator.api_key, capacity=1)
    first = create_instance(company_a, "one")
    assert first.server == gateway_server  # tie: the oldest
    assert create_instance(company_a, "two").server == second
    assert create_instance(company_b, "three").server == gateway_server  # second is full
    services.gateway_server_set_enabled(server=gateway_server, enabled=False)
    with pytest.raises(GatewayUnavailable):
        create_instance(company_b, "four")


# --- connect, restart, logout, delete, rename ------------------------------------------------------------


def test_connect_stores_the_qr_and_publishes_it_live(company_a, instance_a, simulator, listener,
                                                     django_capture_on_commit_callbacks):
    listener.join(company_a, realtime.topic_for("instance", instance_a.public_id)).join(company_a, "instances")
    with company_scope(company_a), django_capture_on_commit_callbacks(execute=True):
        instance = services.instance_connect(company=company_a, instance=instance_a)
    assert instance.state == InstanceState.CONNECTING
    assert instance.qr_data_url.startswith("data:image/png;base64,")
    assert instance.connect_deadline > timezone.now() + timedelta(seconds=50)
    pushed = "".join(listener.drain())
    assert 'data-testid="qr-image"' in pushed and instance.qr_data_url in pushed
    assert 'data-state="connecting"' in pushed


def test_connect_with_a_number_returns_a_pairing_code(company_a, instance_a, simulator):
    with company_scope(company_a):
        instance = services.instance_connect(company=company_a, instance=instance_a, number="+55 11 99999-0000")
    assert instance.pairing_code


def test_connect_refused_by_the_gateway_says_why(company_a, instance_a, simulator):
    simulator.fail_next(instance_a.gateway_name, mode="refused", scope="any", message="Instance is busy")
    with company_scope(company_a), pytest.raises(GatewayRejected) as caught:
        services.instance_connect(company=company_a, instance=instance_a)
    assert "busy" in caught.value.message
    assert refreshed(instance_a).state == InstanceState.CREATED


def test_scan_then_poll_shows_the_number(company_a, instance_a, simulator):
    with company_scope(company_a):
        services.instance_connect(company=company_a, instance=instance_a)
        simulator.scan(instance_a.gateway_name, number="5511988887777", profile_name="Alpha Foods")
        assert services.instance_poll(company=company_a, instance=instance_a)
    instance = refreshed(instance_a)
    assert (instance.state, instance.phone_number, instance.profile_name) == ("open", "5511988887777", "Alpha Foods")
    assert instance.qr_data_url == "" and instance.connect_deadline is None
    assert instance.last_polled_at is not None and instance.poll_lease_until is None


def open_instance(company, instance, simulator, number="5511988887777") -> Instance:
    with company_scope(company):
        services.instance_connect(company=company, instance=instance)
        simulator.scan(instance.gateway_name, number=number)
        services.instance_poll(company=company, instance=instance)
    return refreshed(instance)


def test_logout_disconnects_whatsapp(company_a, instance_a, simulator):
    open_instance(company_a, instance_a, simulator)
    with company_scope(company_a):
        instance = services.instance_logout(company=company_a, instance=refreshed(instance_a))
    assert instance.state == InstanceState.CLOSE and instance.state_reason == Reason.LOGGED_OUT
    assert sim_instance(simulator, instance)["state"] == "close"


def test_logout_of_an_instance_that_is_not_connected_is_harmless(company_a, instance_a, simulator):
    with company_scope(company_a):
        instance = services.instance_logout(company=company_a, instance=instance_a)
    assert instance.state == InstanceState.CLOSE


def test_restart_of_an_open_instance_keeps_it_open(company_a, instance_a, simulator):
    open_instance(company_a, instance_a, simulator)
    with company_scope(company_a):
        instance = services.instance_restart(company=company_a, instance=refreshed(instance_a))
    assert instance.state in (InstanceState.OPEN, InstanceState.CONNECTING)


def test_delete_removes_it_on_the_gateway_too(company_a, instance_a, simulator, listener,
                                              django_capture_on_commit_callbacks):
    listener.join(company_a, "instances")
    with company_scope(company_a), django_capture_on_commit_callbacks(execute=True):
        services.instance_delete(company=company_a, instance=instance_a)
    assert not Instance.all_companies.exists()
    assert "alpha_sales" not in sim_names(simulator)
    assert any('hx-swap-oob="delete"' in html for html in listener.drain())


def test_delete_with_the_gateway_down_keeps_the_row(company_a, instance_a, gateway_server, simulator):
    take_down(gateway_server)
    with company_scope(company_a), pytest.raises(GatewayUnavailable):
        services.instance_delete(company=company_a, instance=refreshed(instance_a))
    assert Instance.all_companies.filter(pk=instance_a.pk).exists()
    assert "alpha_sales" in sim_names(simulator)


def test_delete_of_an_instance_already_gone_on_the_gateway_finishes_here(company_a, instance_a, simulator):
    simulator.api("DELETE", f"/instance/delete/{instance_a.gateway_name}")
    with company_scope(company_a):
        services.instance_delete(company=company_a, instance=instance_a)
    assert not Instance.all_companies.exists()


@pytest.mark.django_db(transaction=True)
def test_delete_while_the_gateway_posts_its_last_events_finishes_and_stores_none_of_them(
        company_a, instance_a, instance_b, simulator):
    """Deleting on the gateway makes it post a last event or two (connection closed, logged out) while the row is
    being deleted here: such an event is either deleted with the instance or refused, never left pointing at the
    deleted row (which failed the delete's commit: a 500 and the instance still listed)."""
    body = json.dumps({"event": "connection.update", "data": {"state": "close"}}).encode()
    stored: list[object] = []

    def post_last_event() -> None:
        try:
            stored.append(services.inbound_event_store(body=body, payload=json.loads(body),
                                                       event_name="connection.update", instance_id=instance_a.pk))
        except Exception as error:  # reported to the test
            stored.append(error)
        finally:
            connection.close()

    def a_hook_arrives_before_the_row_goes(execute, sql, params, many, context):
        # The moment that failed: the rows pointing at the instance are deleted, the instance's row not yet.
        if sql.startswith(f'DELETE FROM "{Instance._meta.db_table}"') and not threads:
            hook = threading.Thread(target=post_last_event)
            threads.append(hook)
            hook.start()
            hook.join(timeout=2)  # stored at once (nothing to wait for), or waits for the deletion's commit
        return execute(sql, params, many, context)

    threads: list[threading.Thread] = []
    with company_scope(company_a), connection.execute_wrapper(a_hook_arrives_before_the_row_goes):
        services.instance_delete(company=company_a, instance=instance_a)
    [hook] = threads
    hook.join(timeout=10)
    assert stored == [None]  # refused: its instance is gone
    assert not Instance.all_companies.filter(pk=instance_a.pk).exists()
    assert not InboundEvent.all_companies.filter(instance_id=instance_a.pk).exists()
    assert Instance.all_companies.filter(pk=instance_b.pk).exists()  # the other company's instance is untouched


def test_rename_changes_only_the_label(company_a, instance_a, simulator):
    with company_scope(company_a):
        instance = services.instance_rename(company=company_a, instance=instance_a, label="  Vendas  ")
    assert (instance.label, instance.name, instance.gateway_name) == ("Vendas", "sales", "alpha_sales")


# --- state recording, polling, lease, recovery ---------------------------------------------------------


def test_record_state_writes_one_timeline_line_per_real_change(company_a, instance_a):
    with company_scope(company_a):
        for _ in range(3):
            services.instance_record_state(company=company_a, instance=instance_a, state=InstanceState.OPEN,
                                           source=InstanceStateChange.Source.POLL)
        moves = list(InstanceStateChange.objects.filter(instance=instance_a).values_list("from_state", "to_state"))
    assert moves.count(("created", "open")) == 1 and len(moves) == 2  # plus the "created" line


def test_gateway_down_marks_unreachable_then_recovers(company_a, instance_a, gateway_server, simulator):
    open_instance(company_a, instance_a, simulator)
    real_url = take_down(gateway_server)
    with company_scope(company_a):
        services.instance_poll(company=company_a, instance=refreshed(instance_a))
    down = refreshed(instance_a)
    assert down.state == InstanceState.UNREACHABLE
    assert down.phone_number == "5511988887777"  # what we knew stays
    bring_back(gateway_server, real_url)
    with company_scope(company_a):
        services.instance_poll(company=company_a, instance=refreshed(instance_a))
        moves = list(InstanceStateChange.objects.filter(instance=instance_a).order_by("at", "pk")
                     .values_list("to_state", "source", "reason"))
    assert refreshed(instance_a).state == InstanceState.OPEN
    assert moves[-2:] == [("unreachable", "poll", moves[-2][2]), ("open", "poll", Reason.RECOVERED)]


def test_a_held_lease_prevents_a_second_poll(company_a, instance_a, gateway_server, simulator):
    Instance.all_companies.filter(pk=instance_a.pk).update(poll_lease_until=timezone.now() + timedelta(seconds=30))
    take_down(gateway_server)  # a poll that ran would mark it unreachable
    with company_scope(company_a):
        assert services.instance_poll(company=company_a, instance=refreshed(instance_a)) is False
    assert refreshed(instance_a).state == InstanceState.CREATED
    assert refreshed(instance_a).last_polled_at is None


def test_an_expired_lease_is_taken_over(company_a, instance_a, simulator):
    Instance.all_companies.filter(pk=instance_a.pk).update(poll_lease_until=timezone.now() - timedelta(seconds=1))
    with company_scope(company_a):
        assert services.instance_poll(company=company_a, instance=refreshed(instance_a)) is True


def test_poll_task_runs_in_its_company(company_a, instance_a, simulator):
    assert poll_instance.apply(args=[company_a.pk, instance_a.pk]).get() is True
    assert refreshed(instance_a).last_polled_at is not None
    assert poll_instance.apply(args=[company_a.pk, 999_999]).get() is False


def test_a_task_naming_another_companys_instance_does_nothing(company_a, company_b, instance_a, simulator):
    assert poll_instance.apply(args=[company_b.pk, instance_a.pk]).get() is False
    assert refreshed(instance_a).last_polled_at is None


def test_qr_without_a_scan_expires_back_to_close(company_a, instance_a, simulator):
    with company_scope(company_a):
        services.instance_connect(company=company_a, instance=instance_a)
    Instance.all_companies.filter(pk=instance_a.pk).update(connect_deadline=timezone.now() - timedelta(seconds=1))
    with company_scope(company_a):
        services.instance_poll(company=company_a, instance=refreshed(instance_a))
    instance = refreshed(instance_a)
    assert (instance.state, instance.state_reason, instance.qr_data_url) == ("close", Reason.QR_EXPIRED, "")


def test_instance_removed_on_the_gateway_is_seen_by_the_poll(company_a, instance_a, simulator):
    simulator.api("DELETE", f"/instance/delete/{instance_a.gateway_name}")
    with company_scope(company_a):
        services.instance_poll(company=company_a, instance=instance_a)
    assert refreshed(instance_a).state_reason == Reason.REMOVED_ON_GATEWAY


def test_connect_recreates_an_instance_the_gateway_lost(company_a, instance_a, simulator):
    """The gateway's database was reset or the instance deleted in its own manager: connecting makes it again
    (with a new webhook secret, the old one being unknown there) instead of failing for good."""
    simulator.api("DELETE", f"/instance/delete/{instance_a.gateway_name}")
    old_secret_hash = instance_a.webhook_secret_hash
    with company_scope(company_a):
        instance = services.instance_connect(company=company_a, instance=instance_a)
    assert instance.state == InstanceState.CONNECTING and instance.qr_data_url
    assert instance_a.gateway_name in sim_names(simulator)
    assert refreshed(instance_a).webhook_secret_hash != old_secret_hash


def test_fan_out_enqueues_only_due_instances(company_a, company_b, gateway_server, simulator,
                                             django_capture_on_commit_callbacks):
    now = timezone.now()
    fresh = create_instance(company_a, "fresh")
    connecting_due = create_instance(company_a, "connecting")
    idle_recent = create_instance(company_b, "recent")
    leased = create_instance(company_b, "leased")
    Instance.all_companies.filter(pk=fresh.pk).update(last_polled_at=None)
    Instance.all_companies.filter(pk=connecting_due.pk).update(state="connecting",
                                                               last_polled_at=now - timedelta(seconds=6))
    Instance.all_companies.filter(pk=idle_recent.pk).update(last_polled_at=now - timedelta(seconds=30))
    Instance.all_companies.filter(pk=leased.pk).update(poll_lease_until=now + timedelta(seconds=30))
    with django_capture_on_commit_callbacks() as callbacks:
        assert poll_due_instances.apply().get() == 2
    assert len(callbacks) == 2


def test_a_refusal_without_words_is_not_shown_as_object_object():
    """Evolution's connect and restart can answer 200 {"error": true, "message": "[object Object]"}."""
    from instances.gateways.errors import GatewayRefused

    with pytest.raises(GatewayRejected) as caught, services.gateway_errors():
        raise GatewayRefused("[object Object]", status_code=200)
    assert caught.value.message == "The gateway refused without saying why."
