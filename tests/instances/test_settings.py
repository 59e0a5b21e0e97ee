"""An instance's WhatsApp behaviour settings: the service (gateway first, stored only once accepted), the
simulator's groupsIgnore seen end to end through our hook, the page and the API, each with its company-B case."""

from __future__ import annotations

import pytest

from instances import services
from instances.errors import GatewayRejected, GatewayUnavailable, InstanceSettingsInvalid
from instances.gateways import InstanceSettings
from instances.models import Instance
from messaging.models import Message
from tenants import realtime
from tenants.scoping import company_scope
from tests.instances.test_hooks import bodies, hook_path, post, process_pending, refreshed

pytestmark = pytest.mark.django_db

SETTING_FIELDS = ("reject_calls", "call_rejection_message", "ignore_groups", "always_online", "read_messages",
                  "read_status", "sync_full_history")
GROUP = "120363025246125486@g.us"


def stored(instance: Instance) -> dict:
    row = refreshed(instance)
    return {name: getattr(row, name) for name in SETTING_FIELDS}


def on_gateway(simulator, instance: Instance) -> dict:
    return simulator.api("GET", f"/settings/find/{instance.gateway_name}").json()


def update(company, instance, **values) -> Instance:
    with company_scope(company):
        return services.instance_settings_update(company=company, instance=instance, **values)


# --- service ---------------------------------------------------------------------------------------------------


def test_a_new_instance_has_everything_off_here_and_on_the_gateway(instance_a, simulator):
    assert stored(instance_a) == {**dict.fromkeys(SETTING_FIELDS, False), "call_rejection_message": ""}
    assert services.instance_settings(instance_a) == InstanceSettings()
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False


def test_settings_go_to_the_gateway_then_are_stored_and_pushed_live(company_a, instance_a, simulator, listener,
                                                                   django_capture_on_commit_callbacks):
    listener.join(company_a, realtime.topic_for("instance", instance_a.public_id))
    with django_capture_on_commit_callbacks(execute=True):
        update(company_a, instance_a, reject_calls=True, call_rejection_message="  Só por mensagem, obrigado!\r\n ",
               ignore_groups=True, read_messages=True)
    assert stored(instance_a) == {
        "reject_calls": True, "call_rejection_message": "Só por mensagem, obrigado!", "ignore_groups": True,
        "always_online": False, "read_messages": True, "read_status": False, "sync_full_history": False,
    }
    gateway = on_gateway(simulator, instance_a)
    assert (gateway["rejectCall"], gateway["msgCall"], gateway["groupsIgnore"], gateway["readMessages"]) == (
        True, "Só por mensagem, obrigado!", True, True)
    assert f"instance-{instance_a.public_id.hex}-live" in "".join(listener.drain())
    # Only what is given changes; the message is kept when call rejection is turned off.
    update(company_a, instance_a, reject_calls=False)
    assert stored(instance_a)["call_rejection_message"] == "Só por mensagem, obrigado!"
    assert stored(instance_a)["ignore_groups"] is True
    assert on_gateway(simulator, instance_a)["rejectCall"] is False


def test_a_too_long_message_is_refused_before_the_gateway(company_a, instance_a, simulator):
    with pytest.raises(InstanceSettingsInvalid) as refused:
        update(company_a, instance_a, reject_calls=True, call_rejection_message="x" * 4097)
    assert refused.value.field == "call_rejection_message"
    assert "4096" in refused.value.message
    assert stored(instance_a)["reject_calls"] is False
    assert on_gateway(simulator, instance_a)["rejectCall"] is False
    update(company_a, instance_a, call_rejection_message="x" * 4096)  # the bound itself is fine
    assert len(stored(instance_a)["call_rejection_message"]) == 4096


def test_a_gateway_refusal_leaves_the_stored_settings_unchanged(company_a, instance_a, simulator):
    simulator.fail_next(instance_a.gateway_name, mode="refused", scope="any", message="Settings are locked")
    with pytest.raises(GatewayRejected) as refused:
        update(company_a, instance_a, ignore_groups=True)
    assert "Settings are locked" in refused.value.message
    assert stored(instance_a)["ignore_groups"] is False


def test_an_unreachable_gateway_leaves_the_stored_settings_unchanged(company_a, instance_a, gateway_server):
    gateway_server.base_url = "http://127.0.0.1:9"  # nothing listens there
    gateway_server.save()
    with pytest.raises(GatewayUnavailable):
        update(company_a, instance_a, ignore_groups=True, always_online=True)
    assert stored(instance_a)["ignore_groups"] is False and stored(instance_a)["always_online"] is False


def test_the_stored_settings_go_with_the_create_body(company_a, gateway_server, simulator):
    with company_scope(company_a):
        instance = Instance(company=company_a, server=gateway_server, name="again", gateway_name="company-a_again",
                            token="t" * 32, webhook_secret_hash="h" * 64, ignore_groups=True, reject_calls=True,
                            call_rejection_message="Sem ligações")
        instance.save()
        services._create_on_gateway(instance, "secret")
    found = on_gateway(simulator, instance)
    assert (found["groupsIgnore"], found["rejectCall"], found["msgCall"]) == (True, True, "Sem ligações")


def test_company_b_cannot_change_company_a_settings_through_the_service(company_a, company_b, instance_a, simulator):
    with pytest.raises(Instance.DoesNotExist):
        update(company_b, instance_a, ignore_groups=True)
    assert stored(instance_a)["ignore_groups"] is False
    assert on_gateway(simulator, instance_a)["groupsIgnore"] is False


# --- ignore groups, end to end through the simulator and our hook -----------------------------------------------


def _open(company, instance, simulator) -> None:
    with company_scope(company):
        services.instance_connect(company=company, instance=instance)
    simulator.scan(instance.gateway_name, number="5511977776666", profile_name="Alpha Foods")


def _deliver_everything(simulator, instance, capture) -> None:
    path = hook_path(simulator, instance)
    for body in bodies(simulator, instance):
        post(path, body, capture)
    process_pending(capture)


def _texts(company) -> list[str]:
    with company_scope(company):
        return list(Message.objects.order_by("pk").values_list("text", flat=True))


def test_with_ignore_groups_on_a_group_message_is_never_stored(company_a, instance_a, simulator,
                                                                django_capture_on_commit_callbacks):
    _open(company_a, instance_a, simulator)
    update(company_a, instance_a, ignore_groups=True)
    customer = {"from": "5511955554444", "push_name": "Maria"}
    assert simulator.inbound(instance_a.gateway_name, **customer, group=GROUP, text="bom dia grupo")["dropped"]
    simulator.inbound(instance_a.gateway_name, **customer, text="oi, é a Maria")
    _deliver_everything(simulator, instance_a, django_capture_on_commit_callbacks)
    assert _texts(company_a) == ["oi, é a Maria"]


def test_with_ignore_groups_off_a_group_message_is_stored(company_a, instance_a, simulator,
                                                          django_capture_on_commit_callbacks):
    _open(company_a, instance_a, simulator)
    update(company_a, instance_a, ignore_groups=False, read_messages=True)
    simulator.inbound(instance_a.gateway_name, **{"from": "5511955554444"}, group=GROUP, text="bom dia grupo")
    _deliver_everything(simulator, instance_a, django_capture_on_commit_callbacks)
    assert _texts(company_a) == ["bom dia grupo"]
