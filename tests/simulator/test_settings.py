"""The simulator's settings routes and groupsIgnore: group message events are dropped, never posted."""

from __future__ import annotations

from tests.simulator.fixtures import wait_until

ALL_OFF = {
    "rejectCall": False, "groupsIgnore": False, "alwaysOnline": False, "readMessages": False, "readStatus": False,
    "syncFullHistory": False,
}
GROUP = "120363025246125486@g.us"


def test_set_answers_nested_and_find_flat_with_the_stored_values(simulator):
    simulator.create("acme")
    answer = simulator.api("POST", "/settings/set/acme", {**ALL_OFF, "rejectCall": True, "msgCall": "Só texto"})
    assert answer.status_code == 201
    assert answer.json() == {"settings": {"instanceName": "acme", "settings": {
        **ALL_OFF, "rejectCall": True, "msgCall": "Só texto"}}}
    found = simulator.api("GET", "/settings/find/acme")
    assert found.status_code == 200
    assert found.json() == {**ALL_OFF, "rejectCall": True, "msgCall": "Só texto", "wavoipToken": ""}
    # An omitted msgCall keeps the stored one (the gateway's upsert leaves undefined columns alone).
    simulator.api("POST", "/settings/set/acme", ALL_OFF)
    assert simulator.api("GET", "/settings/find/acme").json()["msgCall"] == "Só texto"
    assert simulator.control("GET", "instances")  # still listed
    row = simulator.api("GET", "/instance/fetchInstances?instanceName=acme").json()[0]
    assert row["Setting"]["rejectCall"] is False


def test_validation_guards_and_errors_follow_the_other_routes(simulator):
    simulator.create("acme")
    missing = simulator.api("POST", "/settings/set/acme", {"rejectCall": True})
    assert missing.status_code == 400
    assert missing.json() == {"status": 400, "error": "Bad Request", "response": {"message": [[
        'instance requires property "groupsIgnore"', 'instance requires property "alwaysOnline"',
        'instance requires property "readMessages"', 'instance requires property "readStatus"',
        'instance requires property "syncFullHistory"']]}}
    wrong_type = simulator.api("POST", "/settings/set/acme", {**ALL_OFF, "groupsIgnore": "yes"})
    assert wrong_type.status_code == 400
    assert wrong_type.json()["response"]["message"] == [["groupsIgnore is not of a type(s) boolean"]]
    assert simulator.api("GET", "/settings/find/acme").json()["groupsIgnore"] is False
    unknown = simulator.api("POST", "/settings/set/nobody", ALL_OFF)
    assert unknown.status_code == 404
    assert unknown.json()["response"]["message"] == ['The "nobody" instance does not exist']
    assert simulator.api("GET", "/settings/find/nobody").status_code == 404
    assert simulator.api("GET", "/settings/find/acme", key="wrong").status_code == 401


def test_groups_ignore_drops_group_messages_and_their_updates(simulator, webhook_receiver):
    simulator.open_instance("acme", webhook={"url": webhook_receiver.url, "events": ["MESSAGES_UPSERT"]})
    simulator.api("POST", "/settings/set/acme", {**ALL_OFF, "groupsIgnore": True})
    dropped = simulator.inbound("acme", **{"from": "5511955554444", "group": GROUP, "text": "bom dia grupo"})
    assert dropped["dropped"] == "groupsIgnore"
    simulator.inbound("acme", **{"from": "5511955554444", "text": "oi"})
    [received] = webhook_receiver.wait_for("messages.upsert")
    assert received.body["data"]["key"]["remoteJid"] == "5511955554444@s.whatsapp.net"
    upserts = [event["body"]["data"]["key"]["remoteJid"] for event in simulator.events("acme")
               if event["config_name"] == "MESSAGES_UPSERT"]
    assert upserts == ["5511955554444@s.whatsapp.net"]
    assert all(entry["remote_jid"] != GROUP for entry in simulator.control("GET", "instances/acme/messages"))
    # Off again: group messages flow.
    simulator.api("POST", "/settings/set/acme", ALL_OFF)
    simulator.inbound("acme", **{"from": "5511955554444", "group": GROUP, "text": "de novo"})
    wait_until(lambda: len(webhook_receiver.events("messages.upsert")) == 2)
    assert webhook_receiver.events("messages.upsert")[-1].body["data"]["key"]["remoteJid"] == GROUP
