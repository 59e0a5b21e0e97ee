"""Evolution's wire conventions: error envelopes, jsonschema-style messages, ids, times, JIDs."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import JSONResponse

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
}


class EvolutionError(Exception):
    """An error rendered in Evolution's envelope `{status, error, response: {message}}`."""

    def __init__(self, status: int, message: object, *, label: str | None = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.label = label or REASONS.get(status, "Error")

    def response(self) -> JSONResponse:
        body = {"status": self.status, "error": self.label, "response": {"message": self.message}}
        return JSONResponse(body, status_code=self.status)


class RawAnswer(Exception):
    """An answer that bypasses the envelope (the Boom object, the `{error: true}` bodies)."""

    def __init__(self, status: int, body: object) -> None:
        super().__init__(status)
        self.status = status
        self.body = body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def not_found(name: str) -> EvolutionError:
    return EvolutionError(404, [f'The "{name}" instance does not exist'])


def unauthorized() -> EvolutionError:
    return EvolutionError(401, "Unauthorized")


def connection_closed_boom() -> RawAnswer:
    """What /chat/whatsappNumbers answers when the session is not open (recorded, no envelope)."""
    payload = {"statusCode": 428, "error": "Precondition Required", "message": "Connection Closed"}
    return RawAnswer(
        400,
        {
            "data": None,
            "isBoom": True,
            "isServer": False,
            "output": {"statusCode": 428, "payload": payload, "headers": {}},
        },
    )


def js_json_error(error: json.JSONDecodeError) -> str:
    """The message Node's JSON.parse gives for the same mistake."""
    doc, pos = error.doc, error.pos
    if error.msg.startswith("Illegal trailing comma"):  # Python points at the comma, Node at what follows
        pos += 1
        while pos < len(doc) and doc[pos].isspace():
            pos += 1
    if error.msg.startswith(("Expecting property name", "Illegal trailing comma")):
        return f"Expected double-quoted property name in JSON at position {pos}"
    if pos >= len(doc.rstrip()):
        return "Unexpected end of JSON input"
    return f"Unexpected token '{doc[pos]}', \"{doc[:30]}\" is not valid JSON"


# --- jsonschema-style validation with the messages Evolution returns ------------------------------------

TYPE_NAMES = {"string": str, "boolean": bool, "object": dict, "array": list}


def _type_ok(expected: str, value: object) -> bool:
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    python_type = TYPE_NAMES[expected]
    return isinstance(value, python_type) and (expected == "boolean" or not isinstance(value, bool))


def _check(schema: dict[str, Any], value: object, path: str, errors: list[str]) -> None:
    expected = schema.get("type")
    if expected and not _type_ok(expected, value):
        errors.append(f"{path} is not of a type(s) {expected}")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path} is not one of enum values: {','.join(map(str, schema['enum']))}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path} does not match pattern {json.dumps(schema['pattern'])}")
    if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
        errors.append(f"{path} does not meet minimum length of {schema['minLength']}")
    if "minItems" in schema and isinstance(value, list) and len(value) < schema["minItems"]:
        errors.append(f"{path} does not meet minimum length of {schema['minItems']}")
    if isinstance(value, dict):
        _check_object(schema, value, path, errors)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(schema["items"], item, f"{path}[{index}]", errors)


def _check_object(schema: dict[str, Any], value: dict[str, Any], path: str, errors: list[str]) -> None:
    for name in schema.get("required", ()):
        if value.get(name) is None:
            errors.append(f'{path} requires property "{name}"')
    for name, child in schema.get("properties", {}).items():
        if value.get(name) is not None:
            _check(child, value[name], f"{path}.{name}", errors)


def validate(schema: dict[str, Any], body: object) -> None:
    """Raise 400 with `[[messages]]` (a list inside the list) like Evolution's router does."""
    errors: list[str] = []
    _check({"type": "object", **schema}, body, "instance", errors)
    if errors:
        raise EvolutionError(400, [[error.replace("instance.", "", 1) for error in errors]])


# --- ids, times and JIDs ---------------------------------------------------------------------------------


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_token() -> str:
    return str(uuid.uuid4()).upper()


def cuid() -> str:
    """A Prisma-style cuid: `c` plus 24 lower-case letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "cm" + "".join(secrets.choice(alphabet) for _ in range(23))


def message_id(prefix: str = "3EB0") -> str:
    return prefix + secrets.token_hex(10 - len(prefix) // 2).upper()


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gateway_date_time(offset_hours: float) -> str:
    """Evolution's `date_time`: local wall-clock time labelled `Z` (not UTC; see the reference §4.3)."""
    local = datetime.now(UTC) + timedelta(hours=offset_hours)
    return local.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def digits(number: str) -> str:
    return re.sub(r"\D", "", number.split(":", 1)[0].split("@", 1)[0])


def to_jid(number: str) -> str:
    """Evolution's number → JID rule: full JIDs pass, 18+ digits or a long dashed id is a group."""
    number = number.strip()
    if "@" in number:
        return number
    if "-" in number and len(number) >= 24:
        return f"{number}@g.us"
    clean = digits(number)
    return f"{clean}@g.us" if len(clean) >= 18 else f"{clean}@s.whatsapp.net"


def lid_for(number: str) -> str:
    """A stable fake `@lid` for a phone number."""
    value = int(hashlib.sha1(digits(number).encode(), usedforsecurity=False).hexdigest(), 16) % 10**14
    return f"{10**14 + value}@lid"
