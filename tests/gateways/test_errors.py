"""How every error body Evolution produces maps onto the typed error set (bodies from the recording and reference)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instances.gateways.errors import (
    GatewayNotConnected,
    GatewayProtocolError,
    GatewayRefused,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnauthorized,
    GatewayValidationError,
    InstanceNameInUse,
    InstanceNotFound,
    NumberNotOnWhatsApp,
    normalise_messages,
    redact,
)
from instances.gateways.transport import error_for

RECORDING = json.loads((Path(__file__).parent / "recordings/evolution-2.3.6.json").read_text())
EXPECTED_BY_EXCHANGE = {
    2: GatewayUnauthorized,
    5: GatewayRefused,
    8: InstanceNameInUse,
    13: GatewayServerError,
    17: GatewayRefused,
    18: GatewayValidationError,
    21: InstanceNotFound,
    25: InstanceNotFound,
    35: GatewayValidationError,
    47: GatewayNotConnected,
    49: GatewayValidationError,
    52: GatewayNotConnected,
    53: GatewayNotConnected,
    54: GatewayRefused,
    55: GatewayNotConnected,
    73: GatewayProtocolError,
    74: GatewayProtocolError,
}


@pytest.mark.parametrize(("number", "kind"), sorted(EXPECTED_BY_EXCHANGE.items()))
def test_every_recorded_error_maps_to_its_type(number, kind):
    exchange = next(e for e in RECORDING["exchanges"] if e["number"] == number)
    request = exchange["request"]
    error = error_for(exchange["status"], json.loads(exchange["body"]), method=request["method"], path=request["path"])
    assert type(error) is kind
    assert error.status_code == exchange["status"]
    assert error.message and error.message != f"HTTP {exchange['status']}"


def test_transient_versus_permanent():
    transient = [GatewayServerError("x"), GatewayTimeout("x"), GatewayNotConnected("x")]
    permanent = [
        GatewayUnauthorized("x"),
        InstanceNotFound("x"),
        GatewayRefused("x"),
        GatewayValidationError("x"),
        GatewayProtocolError("x"),
    ]
    assert all(error.transient for error in transient)
    assert not any(error.transient for error in permanent)
    assert not GatewayNotConnected("x", transient=False).transient


@pytest.mark.parametrize(
    ("raw", "flat"),
    [
        ("Unauthorized", ("Unauthorized",)),
        (["Invalid integration"], ("Invalid integration",)),
        (
            [['instance requires property "number"', 'instance requires property "text"']],
            ('instance requires property "number"', 'instance requires property "text"'),
        ),
        (None, ()),
        (
            [{"jid": "1@s.whatsapp.net", "exists": False, "number": "1"}],
            ({"jid": "1@s.whatsapp.net", "exists": False, "number": "1"},),
        ),
    ],
)
def test_the_message_is_a_string_a_list_or_a_list_of_lists(raw, flat):
    assert normalise_messages(raw) == flat


def test_number_not_on_whatsapp_from_a_send():
    body = {
        "status": 400,
        "error": "Bad Request",
        "response": {"message": [{"jid": "5511900000000@s.whatsapp.net", "exists": False, "number": "5511900000000"}]},
    }
    error = error_for(400, body, method="POST", path="/message/sendText/acme")
    assert isinstance(error, NumberNotOnWhatsApp) and error.numbers == ("5511900000000",)


def test_other_raw_error_shapes():
    raw_exception = {"status": 400, "error": "Bad Request", "message": "numbers is required"}
    assert error_for(400, raw_exception, method="POST", path="/x").message == "numbers is required"
    bare = {"error": "remoteJid is a required query parameter"}
    assert error_for(400, bare, method="GET", path="/x").message == "remoteJid is a required query parameter"
    assert isinstance(error_for(502, "<html>Bad Gateway</html>", method="GET", path="/x"), GatewayServerError)
    assert isinstance(error_for(403, "", method="GET", path="/x"), GatewayUnauthorized)


def test_secrets_are_redacted():
    assert redact("token ABCDEF-123 rejected", ["ABCDEF-123", None, ""]) == "token *** rejected"
