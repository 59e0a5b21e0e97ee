"""The simulated phone: QR rotation and limit, scanning, the HTML phone page and the /_sim/ control routes."""

from __future__ import annotations

import subprocess
import sys

from tests.simulator.fixtures import REPO, start_simulator, stop_simulator, wait_until

CUSTOMER = "5511988887777"


def test_the_qr_rotates_while_connecting(simulator):
    simulator.create("acme")
    first = simulator.connect("acme")
    assert first["count"] == 1 and first["base64"].startswith("data:image/png;base64,")
    second = wait_until(lambda: (qr := simulator.connect("acme"))["count"] >= 2 and qr, timeout=3)
    assert second["code"] != first["code"] and second["base64"] != first["base64"]
    updates = [e for e in simulator.events("acme") if e["config_name"] == "QRCODE_UPDATED"]
    assert len(updates) >= 2


def test_the_qr_stops_after_the_limit_and_the_session_closes(simulator):
    simulator.configure(qr_interval=0.1, qr_limit=2)
    simulator.create("acme")
    simulator.connect("acme")
    wait_until(
        lambda: simulator.api("GET", "/instance/connectionState/acme").json()["instance"]["state"] == "close", timeout=3
    )
    events = [(e["config_name"], e["body"]["data"]) for e in simulator.events("acme")]
    qr_events = [data for name, data in events if name == "QRCODE_UPDATED"]
    assert len(qr_events) == 3  # two QRs, then the limit notice
    assert qr_events[-1] == {"message": "QR code limit reached, please login again", "statusCode": 500}
    assert events[-1] == ("CONNECTION_UPDATE", {"instance": "acme", "state": "refused", "statusReason": 428})


def test_pairing_code_when_a_number_is_given(simulator):
    simulator.create("acme")
    qr = simulator.api("GET", "/instance/connect/acme?number=5511912345678").json()
    assert len(qr["pairingCode"]) == 8 and qr["pairingCode"].isalnum()


def test_scanning_needs_a_qr(simulator):
    simulator.create("acme")
    response = simulator.client.post("/_sim/instances/acme/scan")
    assert response.status_code == 409 and "connect first" in response.json()["error"]


def test_the_qr_png_route_serves_the_current_image(simulator):
    simulator.create("acme")
    assert simulator.client.get("/_sim/instances/acme/qr.png").status_code == 404
    simulator.connect("acme")
    image = simulator.client.get("/_sim/instances/acme/qr.png")
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"


def test_unlinking_from_the_phone_closes_with_401_and_logs_out(simulator):
    simulator.open_instance("acme")
    simulator.control("POST", "instances/acme/disconnect")
    names = [e["config_name"] for e in simulator.events("acme")][-3:]
    assert names == ["STATUS_INSTANCE", "LOGOUT_INSTANCE", "CONNECTION_UPDATE"]
    row = simulator.api("GET", "/instance/fetchInstances?instanceName=acme").json()[0]
    assert (row["connectionStatus"], row["disconnectionReasonCode"], row["ownerJid"]) == ("close", 401, None)


def test_the_phone_page_scans_shows_sends_and_writes(simulator):
    simulator.create("acme")
    simulator.connect("acme")
    page = simulator.client.get("/_sim/phone/acme")
    assert (
        page.status_code == 200 and "Scan with this phone" in page.text and 'src="data:image/png;base64,' in page.text
    )
    assert simulator.client.post("/_sim/phone/acme/scan").status_code == 303
    assert simulator.control("GET", "instances/acme")["state"] == "open"
    sent = simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "Hello <customer>"}).json()
    live = simulator.client.get("/_sim/phone/acme/live").text
    assert "Hello &lt;customer&gt;" in live and "Unlink this device" in live
    form = {"message_id": sent["key"]["id"], "status": "READ"}
    assert simulator.client.post("/_sim/phone/acme/status", data=form).status_code == 303
    assert simulator.sent("acme")[0]["status"] == "READ"
    simulator.client.post("/_sim/phone/acme/message", data={"from": CUSTOMER, "push_name": "Maria", "text": "Oi!"})
    incoming = [m for m in simulator.control("GET", "instances/acme/messages") if m["direction"] == "in"]
    assert [(m["summary"], m["push_name"]) for m in incoming] == [("Oi!", "Maria")]
    assert "acme" in simulator.client.get("/_sim/").text
    assert simulator.client.post("/_sim/phone/acme/disconnect").status_code == 303
    assert "Start a session" in simulator.client.get("/_sim/phone/acme/live").text


def test_sent_lists_only_what_recado_sent(simulator):
    simulator.open_instance("acme")
    simulator.inbound("acme", **{"from": CUSTOMER, "text": "from the customer"})
    simulator.inbound("acme", **{"to": CUSTOMER, "from_me": True, "text": "typed on the phone"})
    simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "through the API"})
    assert [m["summary"] for m in simulator.sent("acme")] == ["through the API"]


def test_control_routes_reject_bad_requests(simulator):
    simulator.create("acme")
    assert simulator.client.post("/_sim/instances/acme/inbound", json={"from": CUSTOMER}).status_code == 409
    simulator.connect("acme")
    simulator.scan("acme")
    assert (
        simulator.client.post("/_sim/instances/acme/inbound", json={"from": CUSTOMER, "kind": "fax"}).status_code == 400
    )
    assert simulator.client.post("/_sim/instances/acme/inbound", json={"text": "no sender"}).status_code == 400
    assert simulator.client.post("/_sim/instances/acme/fail", json={"mode": "explode"}).status_code == 400
    assert simulator.client.post("/_sim/config", json={"api_key": "x"}).status_code == 400
    assert simulator.client.post("/_sim/config", json={"auto_status": ["NOPE"]}).status_code == 400
    assert simulator.client.post("/_sim/instances/nope/scan").status_code == 404
    assert (
        simulator.client.post("/_sim/instances/acme/messages/nope/status", json={"status": "READ"}).status_code == 404
    )


def _upserts(simulator, name: str) -> list[dict]:
    return [e["body"]["data"] for e in simulator.events(name) if e["config_name"] == "MESSAGES_UPSERT"]


def test_a_customer_taps_a_list_row_or_a_button_in_every_wire_format(simulator):
    simulator.open_instance("acme")
    menu = simulator.api("POST", "/message/sendList/acme", {
        "number": CUSTOMER, "title": "Cardápio", "footerText": "", "buttonText": "Ver opções",
        "sections": [{"title": "Pizzas", "rows": [{"rowId": "p1", "title": "Calabresa", "description": "Com cebola"}]}],
    }).json()
    buttons = simulator.api("POST", "/message/sendButtons/acme", {
        "number": CUSTOMER, "title": "Confirma?",
        "buttons": [{"type": "reply", "displayText": "Sim", "id": "yes"}, {"type": "reply", "displayText": "Não",
                                                                           "id": "no"}],
    }).json()
    simulator.inbound("acme", **{"from": CUSTOMER, "kind": "list_reply", "reply_to": menu["key"]["id"],
                                 "option_id": "p1"})
    for reply_format in ("native_flow", "buttons", "template"):
        simulator.inbound("acme", **{"from": CUSTOMER, "kind": "button_reply", "reply_to": buttons["key"]["id"],
                                     "option_id": "no", "format": reply_format})
    row, native, classic, template = _upserts(simulator, "acme")
    assert row["message"]["listResponseMessage"] == {
        "title": "Calabresa", "description": "Com cebola", "listType": "SINGLE_SELECT",
        "singleSelectReply": {"selectedRowId": "p1"}}
    assert row["contextInfo"]["stanzaId"] == menu["key"]["id"]
    assert row["contextInfo"]["quotedMessage"]["listMessage"]["title"] == "Cardápio"
    assert native["message"]["interactiveResponseMessage"]["nativeFlowResponseMessage"]["paramsJson"] == '{"id": "no"}'
    assert native["message"]["interactiveResponseMessage"]["body"]["text"] == "Não"
    assert classic["message"]["buttonsResponseMessage"]["selectedButtonId"] == "no"
    assert (template["message"]["templateButtonReplyMessage"]["selectedId"], template["messageType"]) == (
        "no", "templateButtonReplyMessage")
    assert {data["contextInfo"]["stanzaId"] for data in (native, classic, template)} == {buttons["key"]["id"]}


def test_a_tap_needs_a_sent_list_or_buttons_and_one_of_its_options(simulator):
    simulator.open_instance("acme")
    text = simulator.api("POST", "/message/sendText/acme", {"number": CUSTOMER, "text": "Oi"}).json()
    menu = simulator.api("POST", "/message/sendList/acme", {
        "number": CUSTOMER, "title": "Menu", "footerText": "", "buttonText": "Ver",
        "sections": [{"title": "S", "rows": [{"rowId": "a", "title": "A"}]}]}).json()
    tap = {"from": CUSTOMER, "kind": "list_reply", "option_id": "a"}
    for spec, error in (({**tap}, "reply_to"), ({**tap, "reply_to": text["key"]["id"]}, "reply_to"),
                        ({**tap, "reply_to": menu["key"]["id"], "option_id": "zz"}, "option_id must be one of"),
                        ({**tap, "kind": "button_reply", "reply_to": menu["key"]["id"], "format": "fax"}, "format")):
        response = simulator.client.post("/_sim/instances/acme/inbound", json=spec)
        assert response.status_code == 400 and error in response.json()["error"], spec
    assert _upserts(simulator, "acme") == []


def test_the_phone_page_shows_a_lists_rows_and_taps_one(simulator):
    simulator.open_instance("acme")
    menu = simulator.api("POST", "/message/sendList/acme", {
        "number": CUSTOMER, "title": "Menu", "footerText": "", "buttonText": "Ver",
        "sections": [{"title": "S", "rows": [{"rowId": "a", "title": "Opção <A>"}]}]}).json()
    live = simulator.client.get("/_sim/phone/acme/live").text
    assert 'name=option_id value="a"' in live and "<button>Opção &lt;A&gt;</button>" in live
    form = {"message_id": menu["key"]["id"], "option_id": "a"}
    assert simulator.client.post("/_sim/phone/acme/choose", data=form).status_code == 303
    [tap] = _upserts(simulator, "acme")
    assert tap["key"]["remoteJid"] == f"{CUSTOMER}@s.whatsapp.net"
    assert tap["message"]["listResponseMessage"]["singleSelectReply"] == {"selectedRowId": "a"}
    assert simulator.client.post("/_sim/phone/acme/choose", data={**form, "option_id": "gone"}).status_code == 303
    assert len(_upserts(simulator, "acme")) == 1


def test_reset_forgets_everything_and_restores_settings(simulator):
    simulator.open_instance("acme")
    simulator.configure(qr_interval=99, latency_ms=5)
    simulator.reset()
    assert simulator.control("GET", "instances") == []
    config = simulator.control("GET", "config")
    assert (config["qr_interval"], config["latency_ms"]) == (0.3, 0)
    assert "api_key" not in config


def test_global_latency_slows_every_call(simulator):
    simulator.create("acme")
    simulator.configure(latency_ms=300)
    response = simulator.api("GET", "/instance/connectionState/acme")
    assert response.elapsed.total_seconds() >= 0.3


def test_the_command_line_reads_its_environment(simulator_process):
    handle = start_simulator({"SIMULATOR_API_KEY": "another-key", "SIMULATOR_QR_INTERVAL": "7"})
    try:
        assert handle.api("GET", "/instance/fetchInstances", key="another-key").json() == []
        assert handle.api("GET", "/instance/fetchInstances", key=simulator_process.api_key).status_code == 401
        assert handle.control("GET", "config")["qr_interval"] == 7.0
    finally:
        stop_simulator(handle)
    help_text = subprocess.run(
        [sys.executable, "-m", "simulator", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "--port" in help_text.stdout
