"""Instance behaviour settings (`/settings/set`, `/settings/find`, the create body's settings): v2 over real HTTP
against the simulator (and a real server when configured), v1 against the shapes of the reference §15."""

from __future__ import annotations

import httpx
import pytest

from instances.gateways import (
    GatewayUnauthorized,
    GatewayValidationError,
    InstanceNotFound,
    InstanceSettings,
    WebhookConfig,
    gateway_for,
)
from instances.gateways.evolution_v1 import EvolutionV1Gateway, create_body_v1, settings_body_v1
from instances.gateways.evolution_v2 import create_body, parse_settings, settings_body

EVERYTHING_ON = InstanceSettings(
    reject_calls=True, call_rejection_message="Não atendemos ligações, escreva por aqui 🙂", ignore_groups=True,
    always_online=True, read_messages=True, read_status=True, sync_full_history=True,
)
V2_ON = {
    "rejectCall": True, "msgCall": EVERYTHING_ON.call_rejection_message, "groupsIgnore": True, "alwaysOnline": True,
    "readMessages": True, "readStatus": True, "syncFullHistory": True,
}


# --- v2 over HTTP (simulator, and a real Evolution server when EVOLUTION_TEST_URL is set) -------------------


def test_a_new_instance_has_every_setting_off(gateway, instance_name):
    gateway.create_instance(instance_name)
    assert gateway.find_settings(instance_name) == InstanceSettings()


def test_set_then_find_round_trips_every_setting(gateway, instance_name):
    gateway.create_instance(instance_name)
    assert gateway.set_settings(instance_name, EVERYTHING_ON) == EVERYTHING_ON
    assert gateway.find_settings(instance_name) == EVERYTHING_ON
    back_off = InstanceSettings(call_rejection_message="")
    assert gateway.set_settings(instance_name, back_off) == back_off
    assert gateway.find_settings(instance_name) == back_off


def test_settings_given_at_create_are_stored(gateway, instance_name):
    wanted = InstanceSettings(reject_calls=True, call_rejection_message="Só mensagens", ignore_groups=True)
    created = gateway.create_instance(instance_name, settings=wanted)
    assert parse_settings(created.raw) == wanted  # the create answer echoes them
    assert gateway.find_settings(instance_name) == wanted


def test_the_set_answer_is_nested_and_the_find_answer_flat(gateway_target, gateway, instance_name):
    gateway.create_instance(instance_name)
    headers = {"apikey": gateway_target.api_key}
    with httpx.Client(base_url=gateway_target.base_url, headers=headers, timeout=10) as client:
        answer = client.post(f"/settings/set/{instance_name}", json=V2_ON)
        assert answer.status_code == 201
        assert answer.json()["settings"]["instanceName"] == instance_name
        assert {key: answer.json()["settings"]["settings"][key] for key in V2_ON} == V2_ON
        found = client.get(f"/settings/find/{instance_name}")
        assert found.status_code == 200
        assert {key: found.json()[key] for key in V2_ON} == V2_ON


def test_a_missing_required_boolean_is_a_validation_error(gateway_target, gateway, instance_name):
    gateway.create_instance(instance_name)
    body = {key: value for key, value in V2_ON.items() if key != "groupsIgnore"}
    with httpx.Client(base_url=gateway_target.base_url, headers={"apikey": gateway_target.api_key}) as client:
        answer = client.post(f"/settings/set/{instance_name}", json=body)
    assert answer.status_code == 400
    assert answer.json()["response"]["message"] == [['instance requires property "groupsIgnore"']]
    # and through the adapter: the settings are untouched
    with pytest.raises(GatewayValidationError):
        gateway._call("POST", f"/settings/set/{instance_name}", body=body)
    assert gateway.find_settings(instance_name) == InstanceSettings()


def test_unknown_instance_and_foreign_token(gateway_target, gateway, instance_name):
    with pytest.raises(InstanceNotFound):
        gateway.set_settings(f"{instance_name}-missing", EVERYTHING_ON)
    with pytest.raises(InstanceNotFound):
        gateway.find_settings(f"{instance_name}-missing")
    gateway.create_instance(instance_name)
    other = f"{instance_name}-b"
    created = gateway.create_instance(other)
    try:
        # Another instance's token may not change this one's settings.
        with gateway.with_api_key(created.token) as scoped, pytest.raises(GatewayUnauthorized):
            scoped.set_settings(instance_name, EVERYTHING_ON)
        assert gateway.find_settings(instance_name) == InstanceSettings()
        # Its own token may.
        assert gateway.with_api_key(created.token).set_settings(other, EVERYTHING_ON) == EVERYTHING_ON
    finally:
        gateway.delete_instance(other)


# --- v2 request and answer shapes ------------------------------------------------------------------------------


def test_v2_bodies_carry_every_setting_in_camel_case():
    assert settings_body(EVERYTHING_ON) == V2_ON
    assert settings_body(InstanceSettings()) == {
        "rejectCall": False, "msgCall": "", "groupsIgnore": False, "alwaysOnline": False, "readMessages": False,
        "readStatus": False, "syncFullHistory": False,
    }
    body = create_body("acme", token=None, integration="WHATSAPP-BAILEYS", number=None, qrcode=False, webhook=None,
                       settings=EVERYTHING_ON)
    assert {key: body[key] for key in V2_ON} == V2_ON
    plain = create_body("acme", token=None, integration="WHATSAPP-BAILEYS", number=None, qrcode=False, webhook=None)
    assert "groupsIgnore" not in plain  # absent means false on v2


def test_parse_settings_reads_the_set_and_find_answers():
    nested = {"settings": {"instanceName": "acme", "settings": {**V2_ON, "wavoipToken": ""}}}
    assert parse_settings(nested) == EVERYTHING_ON
    assert parse_settings({**V2_ON, "wavoipToken": ""}) == EVERYTHING_ON
    assert parse_settings(None) is None
    assert parse_settings({}) is None
    assert parse_settings({"msgCall": None, "rejectCall": True}) == InstanceSettings(reject_calls=True)


# --- v1 (reference §15: same routes, snake_case fields; no v1 server here) ---------------------------------------

V1_ON = {
    "reject_call": True, "msg_call": EVERYTHING_ON.call_rejection_message, "groups_ignore": True,
    "always_online": True, "read_messages": True, "read_status": True, "sync_full_history": True,
}


def test_v1_settings_body_is_snake_case():
    assert settings_body_v1(EVERYTHING_ON) == V1_ON


def test_v1_create_always_sends_groups_ignore_and_every_setting():
    body = create_body_v1("acme", token=None, integration="WHATSAPP-BAILEYS", number=None, qrcode=False,
                          webhook=None)
    assert body["groups_ignore"] is False  # v1 would ignore groups if it were left out
    assert {key: body[key] for key in V1_ON} == settings_body_v1(InstanceSettings())
    body = create_body_v1("acme", token=None, integration="WHATSAPP-BAILEYS", number=None, qrcode=False,
                          webhook=WebhookConfig(url="https://app/h"), settings=EVERYTHING_ON)
    assert {key: body[key] for key in V1_ON} == V1_ON
    assert body["webhook"] == "https://app/h"


def test_v1_answers_in_snake_case_are_read():
    assert parse_settings(V1_ON) == EVERYTHING_ON
    assert parse_settings({"settings": {"instanceName": "acme", "settings": V1_ON}}) == EVERYTHING_ON


def test_v1_set_and_find_use_the_shared_routes(simulator):
    """The v1 adapter posts its snake_case body to the same route; a v2 server (the simulator) refuses it for lack of
    the camelCase booleans, which is what a v1 adapter pointed at a v2 server should see."""
    simulator.create("v1-settings")
    with gateway_for(simulator.base_url, "v1", simulator.api_key, timeout=5) as gateway:
        assert isinstance(gateway, EvolutionV1Gateway)
        assert gateway.find_settings("v1-settings") == InstanceSettings()
        with pytest.raises(GatewayValidationError) as refused:
            gateway.set_settings("v1-settings", EVERYTHING_ON)
    assert 'requires property "rejectCall"' in refused.value.message
